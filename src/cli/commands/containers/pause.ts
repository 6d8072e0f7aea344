import type { Command } from 'commander';

import { pauseContainer, unpauseContainer } from '../../../client/containers.js';
import type { CliContext } from '../../context.js';
import { forEachContainer, runContainerCommand } from './common.js';

/** `pause CONTAINER [CONTAINER...]`. */
export function registerPause(parent: Command, ctx: CliContext): Command {
  return parent
    .command('pause')
    .description('Pause all processes within one or more containers')
    .argument('<container...>', 'CONTAINER [CONTAINER...]')
    .action((names: string[]) =>
      runContainerCommand(() => forEachContainer(ctx, names, (name) => pauseContainer(ctx.client(), name))),
    );
}

/** `unpause CONTAINER [CONTAINER...]`. */
export function registerUnpause(parent: Command, ctx: CliContext): Command {
  return parent
    .command('unpause')
    .description('Unpause all processes within one or more containers')
    .argument('<container...>', 'CONTAINER [CONTAINER...]')
    .action((names: string[]) =>
      runContainerCommand(() => forEachContainer(ctx, names, (name) => unpauseContainer(ctx.client(), name))),
    );
}
