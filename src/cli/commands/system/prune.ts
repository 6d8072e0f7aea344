import type { Command } from 'commander';

import { pruneContainers } from '../../../client/containers.js';
import { pruneImages } from '../../../client/images.js';
import { pruneVolumes } from '../../../client/volumes.js';
import { FilterArgs } from '../../../util/filters.js';
import { CliError, type CliContext } from '../../context.js';
import { goBooleanFlags } from '../../opts/flags.js';
import { humanSize } from '../../output/units.js';
import { naturalLess } from '../containers/port.js';
import { filterFlag, parseFilterFlags, readDockerConfig, runCommand } from '../images/common.js';
import { confirm, mergePruneFilters } from '../images/prune.js';
import { runNetworkPrune } from '../networks/prune.js';

export interface SystemPruneFlags {
  all?: boolean;
  volumes?: boolean;
  force?: boolean;
  filter?: string[];
}

/**
 * What `system prune` will remove, one line each, as docker lists them.
 * berth has no build cache, so docker's build cache line (shown by docker
 * for daemons with a builder) is not there.
 */
export function pruneWarnings(options: { all: boolean; volumes: boolean }): string[] {
  const warnings = ['all stopped containers', 'all networks not used by at least one container'];
  if (options.volumes) warnings.push('all anonymous volumes not used by at least one container');
  warnings.push(
    options.all ? 'all images without at least one container associated to them' : 'all dangling images',
  );
  return warnings;
}

/** The filters the prompt shows: `label`, `label!` and `until` ones as `name=value`, sorted naturally. */
export function promptFilters(filters: FilterArgs): string[] {
  const out: string[] = [];
  for (const name of ['label', 'label!', 'until'])
    for (const v of filters.get(name)) out.push(`${name}=${v}`);
  return out.sort((a, b) => (naturalLess(a, b) ? -1 : naturalLess(b, a) ? 1 : 0));
}

/** docker's confirmation message for `system prune` (its confirmationTemplate, rendered). */
export function systemPruneMessage(warnings: readonly string[], filters: readonly string[]): string {
  let out = 'WARNING! This will remove:';
  for (const w of warnings) out += `\n  - ${w}`;
  out += '\n';
  if (filters.length > 0) {
    out += '\n  Items to be pruned will be filtered with:';
    for (const f of filters) out += `\n  - ${f}`;
    out += '\n';
  }
  return out + '\nAre you sure you want to continue?';
}

/** One pruner's result: the space it freed and its report (`Deleted Containers:\n…`, or empty). */
export interface PruneStep {
  space: number;
  output: string;
}

/** docker's system prune output: each non-empty report and a blank line, then the total. */
export function renderSystemPrune(steps: readonly PruneStep[]): string {
  let out = '';
  let total = 0;
  for (const step of steps) {
    total += step.space;
    if (step.output !== '') out += `${step.output}\n`;
  }
  return out + `Total reclaimed space: ${humanSize(total)}\n`;
}

function report(title: string, items: readonly string[] | undefined, space: number | undefined): PruneStep {
  if (!items || items.length === 0) return { space: 0, output: '' };
  return { space: space ?? 0, output: `${title}\n` + items.map((i) => `${i}\n`).join('') };
}

/** A copy of `filters` with the config file's `pruneFilters` added (docker's command.PruneFilters). */
function withConfigFilters(filters: FilterArgs, configured: readonly string[]): FilterArgs {
  const copy = new FilterArgs(filters.names().map((n) => [n, filters.get(n)]));
  mergePruneFilters(copy, configured);
  return copy;
}

/**
 * The prunes of `system prune`, in docker's order: containers, networks,
 * anonymous volumes (with `--volumes`), then dangling images (all unused
 * ones with `-a`).
 */
export async function systemPruneSteps(
  ctx: CliContext,
  filters: FilterArgs,
  options: { all: boolean; volumes: boolean; configured: readonly string[] },
): Promise<PruneStep[]> {
  const client = ctx.client();
  const steps: PruneStep[] = [];
  const merged = (): FilterArgs => withConfigFilters(filters, options.configured);

  const containers = await pruneContainers(client, merged());
  steps.push(report('Deleted Containers:', containers.ContainersDeleted, containers.SpaceReclaimed));
  steps.push({ space: 0, output: await runNetworkPrune(ctx, merged()) });
  if (options.volumes) {
    const volumes = await pruneVolumes(client, merged());
    steps.push(report('Deleted Volumes:', volumes.VolumesDeleted, volumes.SpaceReclaimed));
  }
  const imageFilters = new FilterArgs(filters.names().map((n) => [n, filters.get(n)]));
  imageFilters.add('dangling', String(!options.all));
  mergePruneFilters(imageFilters, options.configured);
  const images = await pruneImages(client, imageFilters);
  const deleted = images.ImagesDeleted ?? [];
  steps.push(
    deleted.length === 0
      ? { space: 0, output: '' }
      : {
          space: images.SpaceReclaimed ?? 0,
          output:
            'Deleted Images:\n' +
            deleted
              .map((d) => (d.Untagged ? `untagged: ${d.Untagged}\n` : `deleted: ${d.Deleted ?? ''}\n`))
              .join(''),
        },
  );
  return steps;
}

/**
 * `system prune [OPTIONS]`: asks first unless `-f` (declining ends quietly
 * with status 0), then prunes as {@link systemPruneSteps} and prints each
 * report and the total space reclaimed.
 */
export function registerSystemPrune(parent: Command, ctx: CliContext): Command {
  const cmd = parent
    .command('prune')
    .description('Remove unused data')
    .option('-a, --all', 'remove all unused images not just dangling ones')
    .option('--volumes', 'prune anonymous volumes')
    .option('-f, --force', 'do not prompt for confirmation')
    .option(
      '--filter <filter>',
      'provide filter values (e.g. "label=<key>=<value>")',
      filterFlag('--filter'),
    );
  goBooleanFlags(cmd);
  return cmd.action((opts: SystemPruneFlags) =>
    runCommand(async () => {
      const filters = parseFilterFlags(opts.filter);
      const all = opts.all === true;
      const volumes = opts.volumes === true;
      if (volumes && filters.contains('until')) {
        throw new CliError('ERROR: The "until" filter is not supported with "--volumes"');
      }
      const configured = readDockerConfig(ctx).pruneFilters;
      if (!opts.force) {
        const message = systemPruneMessage(
          pruneWarnings({ all, volumes }),
          promptFilters(withConfigFilters(filters, configured)),
        );
        if (!(await confirm(process.stdin, ctx.out, message))) return;
      }
      const steps = await systemPruneSteps(ctx, filters, { all, volumes, configured });
      ctx.out.write(renderSystemPrune(steps));
    }),
  );
}
