import type { Command } from 'commander';

import { DaemonUnreachableError } from '../../../client/client.js';
import { removeVolume } from '../../../client/volumes.js';
import { CliError, type CliContext } from '../../context.js';
import { errorText, runCommand } from '../images/common.js';

/**
 * `volume rm [OPTIONS] VOLUME [VOLUME...]` (alias `remove`): each volume in
 * turn, its name printed when removed; the failures reported together at
 * the end with status 1, as docker's errors.Join.
 */
export function registerVolumeRemove(parent: Command, ctx: CliContext): Command {
  return parent
    .command('rm')
    .alias('remove')
    .description('Remove one or more volumes. You cannot remove a volume that is in use by a container.')
    .argument('<volume...>', 'VOLUME [VOLUME...]')
    .option('-f, --force', 'force the removal of one or more volumes')
    .action((names: string[], opts: { force?: boolean }) =>
      runCommand(async () => {
        const errors: string[] = [];
        for (const name of names) {
          try {
            await removeVolume(ctx.client(), name, { force: opts.force === true });
            ctx.out.write(`${name}\n`);
          } catch (err) {
            if (err instanceof DaemonUnreachableError) throw err;
            errors.push(errorText(err));
          }
        }
        if (errors.length > 0) throw new CliError(errors.join('\n'), 1);
      }),
    );
}
