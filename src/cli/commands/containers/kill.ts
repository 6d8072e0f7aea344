import type { Command } from 'commander';

import { killContainer } from '../../../client/containers.js';
import type { CliContext } from '../../context.js';
import { forEachContainer, runContainerCommand } from './common.js';

/** `kill [OPTIONS] CONTAINER [CONTAINER...]`: SIGKILL unless `-s`. */
export function registerKill(parent: Command, ctx: CliContext): Command {
  return parent
    .command('kill')
    .description('Kill one or more running containers')
    .argument('<container...>', 'CONTAINER [CONTAINER...]')
    .option('-s, --signal <signal>', 'signal to send to the container')
    .action((names: string[], flags: { signal?: string }) =>
      runContainerCommand(() =>
        forEachContainer(ctx, names, (name) => killContainer(ctx.client(), name, flags.signal)),
      ),
    );
}
