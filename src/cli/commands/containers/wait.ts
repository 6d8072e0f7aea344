import type { Command } from 'commander';

import { waitContainer } from '../../../client/containers.js';
import { CliError, type CliContext } from '../../context.js';
import { errorText, runContainerCommand } from './common.js';

/** `wait CONTAINER [CONTAINER...]`: prints each exit code, one after the other. */
export function registerWait(parent: Command, ctx: CliContext): Command {
  return parent
    .command('wait')
    .description('Block until one or more containers stop, then print their exit codes')
    .argument('<container...>', 'CONTAINER [CONTAINER...]')
    .action((names: string[]) =>
      runContainerCommand(async () => {
        const errors: string[] = [];
        for (const name of names) {
          try {
            const wait = await waitContainer(ctx.client(), name);
            const result = await wait.result;
            ctx.out.write(`${result.StatusCode}\n`);
          } catch (err) {
            errors.push(errorText(err));
          }
        }
        if (errors.length > 0) throw new CliError(errors.join('\n'));
      }),
    );
}
