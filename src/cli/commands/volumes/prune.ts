import type { Command } from 'commander';

import type { VolumePruneResponse } from '../../../api/types/index.js';
import { pruneVolumes } from '../../../client/volumes.js';
import { CliError, type CliContext } from '../../context.js';
import { humanSize } from '../../output/units.js';
import { filterFlag, parseFilterFlags, readDockerConfig, runCommand } from '../images/common.js';
import { confirm, mergePruneFilters } from '../images/prune.js';

export const ANONYMOUS_WARNING =
  'WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue?';
export const ALL_WARNING =
  'WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue?';

/** docker's volume prune report: the deleted names (if any), a blank line, the space reclaimed. */
export function renderVolumePrune(report: VolumePruneResponse): string {
  let out = '';
  const deleted = report.VolumesDeleted ?? [];
  let space = 0;
  if (deleted.length > 0) {
    out += 'Deleted Volumes:\n' + deleted.map((name) => `${name}\n`).join('') + '\n';
    space = report.SpaceReclaimed ?? 0;
  }
  return out + `Total reclaimed space: ${humanSize(space)}\n`;
}

interface PruneFlags {
  all?: boolean;
  force?: boolean;
  filter?: string[];
}

/**
 * `volume prune [OPTIONS]`: anonymous volumes only, all unused ones with
 * `-a`; asks first unless `-f` (declining ends quietly with status 0, as
 * docker's cancelled prune).
 */
export function registerVolumePrune(parent: Command, ctx: CliContext): Command {
  return parent
    .command('prune')
    .description('Remove unused local volumes')
    .option('-a, --all', 'remove all unused volumes, not just anonymous ones')
    .option('-f, --force', 'do not prompt for confirmation')
    .option('--filter <filter>', 'provide filter values (e.g. "label=<label>")', filterFlag('--filter'))
    .action((opts: PruneFlags) =>
      runCommand(async () => {
        const filters = parseFilterFlags(opts.filter);
        mergePruneFilters(filters, readDockerConfig(ctx).pruneFilters);
        let warning = ANONYMOUS_WARNING;
        if (opts.all) {
          if (filters.contains('all')) {
            throw new CliError('conflicting options: cannot specify both --all and --filter all=1');
          }
          filters.add('all', 'true');
          warning = ALL_WARNING;
        }
        if (!opts.force && !(await confirm(process.stdin, ctx.out, warning))) return;
        ctx.out.write(renderVolumePrune(await pruneVolumes(ctx.client(), filters)));
      }),
    );
}
