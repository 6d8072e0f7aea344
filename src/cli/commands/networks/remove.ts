import type { Command } from 'commander';

import { ApiError, DaemonUnreachableError } from '../../../client/client.js';
import { inspectNetwork, removeNetwork } from '../../../client/networks.js';
import { CliError, type CliContext } from '../../context.js';
import { confirm } from '../images/prune.js';
import { errorText, runContainerCommand } from '../containers/common.js';

export const INGRESS_WARNING =
  'WARNING! Before removing the routing-mesh network, make sure all the nodes in your swarm run the same docker engine version. Otherwise, removal may not be effective and functionality of newly create ingress networks will be impaired.\nAre you sure you want to continue?';

/**
 * `network rm NETWORK [NETWORK...]` (alias `remove`): each network in turn,
 * its name printed when removed and the error printed at once when not
 * (`-f` passes over networks that do not exist); `exit status 1` if any
 * failed.
 */
export function registerNetworkRemove(parent: Command, ctx: CliContext): Command {
  return parent
    .command('rm')
    .alias('remove')
    .description('Remove one or more networks')
    .argument('<network...>', 'NETWORK [NETWORK...]')
    .option('-f, --force', 'do not error if the network does not exist')
    .action((names: string[], opts: { force?: boolean }) =>
      runContainerCommand(async () => {
        let failed = false;
        for (const name of names) {
          try {
            const net = await inspectNetwork(ctx.client(), name).catch((err: unknown) => {
              if (err instanceof DaemonUnreachableError) throw err;
              return undefined;
            });
            if (net?.Ingress && !(await confirm(process.stdin, ctx.out, INGRESS_WARNING))) continue;
            await removeNetwork(ctx.client(), name);
            ctx.out.write(`${name}\n`);
          } catch (err) {
            if (err instanceof DaemonUnreachableError) throw err;
            if (opts.force && err instanceof ApiError && err.status === 404) continue;
            ctx.err.write(`${errorText(err)}\n`);
            failed = true;
          }
        }
        // docker's StatusError{1, "exit status 1"}: its status is printed too.
        if (failed) throw new CliError('exit status 1', 1);
      }),
    );
}
