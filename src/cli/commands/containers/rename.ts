import type { Command } from 'commander';

import { renameContainer } from '../../../client/containers.js';
import { CliError, type CliContext } from '../../context.js';
import { errorText, runContainerCommand } from './common.js';

/** `rename CONTAINER NEW_NAME`. */
export function registerRename(parent: Command, ctx: CliContext): Command {
  return parent
    .command('rename')
    .description('Rename a container')
    .argument('<container>', 'CONTAINER')
    .argument('<new-name>', 'NEW_NAME')
    .action((oldName: string, newName: string) =>
      runContainerCommand(async () => {
        try {
          await renameContainer(ctx.client(), oldName, newName);
        } catch (err) {
          throw new CliError(`failed to rename container: ${errorText(err)}`);
        }
      }),
    );
}
