import type { Command } from 'commander';

import type { NetworkPruneResponse } from '../../../api/types/index.js';
import { pruneNetworks } from '../../../client/networks.js';
import type { FilterArgs } from '../../../util/filters.js';
import type { CliContext } from '../../context.js';
import { filterFlag, parseFilterFlags, readDockerConfig, runCommand } from '../images/common.js';
import { confirm, mergePruneFilters } from '../images/prune.js';

export const NETWORK_PRUNE_WARNING =
  'WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?';

/** docker's network prune report: `Deleted Networks:` and a name a line; empty when none went. */
export function renderNetworkPrune(report: NetworkPruneResponse): string {
  const deleted = report.NetworksDeleted ?? [];
  if (deleted.length === 0) return '';
  return 'Deleted Networks:\n' + deleted.map((name) => `${name}\n`).join('');
}

/** The prune itself (docker's network runPrune after its prompt): the report text. */
export async function runNetworkPrune(ctx: CliContext, filters: FilterArgs): Promise<string> {
  return renderNetworkPrune(await pruneNetworks(ctx.client(), filters));
}

/**
 * `network prune [OPTIONS]`: asks first unless `-f` (declining ends quietly
 * with status 0, as docker's cancelled prune); prints the report followed
 * by a blank line, or nothing when no network went.
 */
export function registerNetworkPrune(parent: Command, ctx: CliContext): Command {
  return parent
    .command('prune')
    .description('Remove all unused networks')
    .option('-f, --force', 'do not prompt for confirmation')
    .option('--filter <filter>', 'provide filter values (e.g. "until=<timestamp>")', filterFlag('--filter'))
    .action((opts: { force?: boolean; filter?: string[] }) =>
      runCommand(async () => {
        const filters = parseFilterFlags(opts.filter);
        mergePruneFilters(filters, readDockerConfig(ctx).pruneFilters);
        if (!opts.force && !(await confirm(process.stdin, ctx.out, NETWORK_PRUNE_WARNING))) return;
        const output = await runNetworkPrune(ctx, filters);
        if (output !== '') ctx.out.write(`${output}\n`);
      }),
    );
}
