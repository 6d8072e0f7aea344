import type { Command } from 'commander';

import type { ContainerPruneResponse } from '../../../api/types/index.js';
import { pruneContainers } from '../../../client/containers.js';
import type { CliContext } from '../../context.js';
import { humanSize } from '../../output/units.js';
import { filterFlag, parseFilterFlags, readDockerConfig } from '../images/common.js';
import { confirm, mergePruneFilters } from '../images/prune.js';
import { runContainerCommand } from './common.js';

const WARNING = 'WARNING! This will remove all stopped containers.\nAre you sure you want to continue?';

/** docker's container prune report: the deleted IDs (if any), a blank line, the space reclaimed. */
export function renderContainerPrune(report: ContainerPruneResponse): string {
  let out = '';
  const deleted = report.ContainersDeleted ?? [];
  let space = 0;
  if (deleted.length > 0) {
    out += 'Deleted Containers:\n' + deleted.map((id) => `${id}\n`).join('') + '\n';
    space = report.SpaceReclaimed ?? 0;
  }
  return out + `Total reclaimed space: ${humanSize(space)}\n`;
}

/** `container prune [OPTIONS]`: asks first unless `-f`. */
export function registerContainerPrune(parent: Command, ctx: CliContext): Command {
  return parent
    .command('prune')
    .description('Remove all stopped containers')
    .option('-f, --force', 'do not prompt for confirmation')
    .option('--filter <filter>', 'provide filter values (e.g. "until=<timestamp>")', filterFlag('--filter'))
    .action((flags: { force?: boolean; filter?: string[] }) =>
      runContainerCommand(async () => {
        const filters = parseFilterFlags(flags.filter);
        mergePruneFilters(filters, readDockerConfig(ctx).pruneFilters);
        if (!flags.force && !(await confirm(process.stdin, ctx.out, WARNING))) return;
        ctx.out.write(renderContainerPrune(await pruneContainers(ctx.client(), filters)));
      }),
    );
}
