import { Option, type Command } from 'commander';

import { restartContainer, stopContainer } from '../../../client/containers.js';
import { CliError, type CliContext } from '../../context.js';
import { valueFlag } from '../../opts/flags.js';
import { parseInt64 } from '../../opts/units.js';
import { forEachContainer, runContainerCommand } from './common.js';

interface StopFlags {
  signal?: string;
  timeout?: number;
  time?: number;
}

function timeoutOf(flags: StopFlags): number | undefined {
  if (flags.timeout !== undefined && flags.time !== undefined) {
    throw new CliError('conflicting options: cannot specify both --timeout and --time');
  }
  return flags.timeout ?? flags.time;
}

function addStopFlags(cmd: Command): Command {
  return cmd
    .option('-s, --signal <signal>', 'signal to send to the container')
    .option(
      '-t, --timeout <seconds>',
      'seconds to wait before killing the container',
      valueFlag('-t, --timeout', parseInt64),
    )
    .addOption(new Option('--time <seconds>').hideHelp().argParser(valueFlag('--time', parseInt64)));
}

/** `stop [OPTIONS] CONTAINER [CONTAINER...]`: prints each name stopped. */
export function registerStop(parent: Command, ctx: CliContext): Command {
  const cmd = parent
    .command('stop')
    .description('Stop one or more running containers')
    .argument('<container...>', 'CONTAINER [CONTAINER...]');
  return addStopFlags(cmd).action((names: string[], flags: StopFlags) =>
    runContainerCommand(async () => {
      const timeout = timeoutOf(flags);
      await forEachContainer(ctx, names, (name) =>
        stopContainer(ctx.client(), name, { timeout, signal: flags.signal }),
      );
    }),
  );
}

/** `restart [OPTIONS] CONTAINER [CONTAINER...]`: one after the other, as docker does. */
export function registerRestart(parent: Command, ctx: CliContext): Command {
  const cmd = parent
    .command('restart')
    .description('Restart one or more containers')
    .argument('<container...>', 'CONTAINER [CONTAINER...]');
  return addStopFlags(cmd).action((names: string[], flags: StopFlags) =>
    runContainerCommand(async () => {
      const timeout = timeoutOf(flags);
      await forEachContainer(
        ctx,
        names,
        (name) => restartContainer(ctx.client(), name, { timeout, signal: flags.signal }),
        { parallel: false },
      );
    }),
  );
}
