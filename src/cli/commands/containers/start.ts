import type { Command } from 'commander';

import {
  attachContainer,
  inspectContainer,
  resizeContainer,
  startContainer,
} from '../../../client/containers.js';
import { CliError, type CliContext } from '../../context.js';
import { goBooleanFlags } from '../../opts/flags.js';
import { validateDetachKeys } from '../../terminal.js';
import {
  configString,
  errorText,
  exitWithStatus,
  monitorTtySize,
  outIsTerminal,
  proxySignals,
  runContainerCommand,
  settleWithin,
} from './common.js';
import { startWait, waitStatus } from './run.js';
import { streamConnection } from './stream.js';

interface StartFlags {
  attach?: boolean;
  interactive?: boolean;
  detachKeys?: string;
}

/** docker's start with `-a`/`-i`: attach, register the wait, start, follow, exit with the status. */
async function startAttached(
  ctx: CliContext,
  ref: string,
  flags: StartFlags,
  detachKeys: string,
): Promise<void> {
  const client = ctx.client();
  const c = await inspectContainer(client, ref);
  const id = c.Id ?? ref;
  const tty = c.Config?.Tty === true;
  const stopSignals = tty ? () => undefined : proxySignals(client, id);
  let stopResize: () => void = () => undefined;
  let pending: Awaited<ReturnType<typeof startWait>> | undefined;
  try {
    const stdin = flags.interactive === true && c.Config?.OpenStdin === true;
    const conn = await attachContainer(client, id, {
      stream: true,
      stdin,
      stdout: true,
      stderr: true,
      detachKeys: detachKeys || undefined,
    });
    const session = streamConnection(conn, {
      stdin: stdin ? process.stdin : undefined,
      stdout: ctx.out,
      stderr: ctx.err,
      tty,
      detachKeys: detachKeys || undefined,
    });
    const autoRemove = c.HostConfig?.AutoRemove === true;
    const wait = await startWait(ctx, id, autoRemove ? 'removed' : 'next-exit');
    pending = wait;
    try {
      await startContainer(client, id);
    } catch (err) {
      session.cancel();
      await session.done.catch(() => undefined);
      // As docker: the daemon removes an AutoRemove container that failed to start.
      if (autoRemove && !(wait instanceof Error)) await settleWithin(wait.result, 5000);
      throw err;
    }
    if (tty && outIsTerminal(ctx)) {
      stopResize = monitorTtySize(ctx, (size) => resizeContainer(client, id, size.height, size.width));
    }
    const end = await session.done;
    if (end === 'detached') return;
    const code = await waitStatus(ctx, wait);
    stopResize();
    stopSignals();
    if (code !== 0) await exitWithStatus(code);
  } finally {
    stopResize();
    stopSignals();
    if (pending !== undefined && !(pending instanceof Error)) pending.cancel();
  }
}

/** `start [OPTIONS] CONTAINER [CONTAINER...]`. */
export function registerStart(parent: Command, ctx: CliContext): Command {
  const cmd = parent
    .command('start')
    .description('Start one or more stopped containers')
    .argument('<container...>', 'CONTAINER [CONTAINER...]')
    .option('-a, --attach', 'attach STDOUT/STDERR and forward signals')
    .option('-i, --interactive', "attach container's STDIN")
    .option('--detach-keys <keys>', 'override the key sequence for detaching a container');
  goBooleanFlags(cmd);
  return cmd.action((names: string[], flags: StartFlags) =>
    runContainerCommand(async () => {
      const detachKeys = flags.detachKeys || configString(ctx, 'detachKeys');
      validateDetachKeys(detachKeys);
      if (flags.attach || flags.interactive) {
        if (names.length > 1) throw new CliError('you cannot start and attach multiple containers at once');
        await startAttached(ctx, names[0] ?? '', flags, detachKeys);
        return;
      }
      const failed: string[] = [];
      for (const name of names) {
        try {
          await startContainer(ctx.client(), name);
          ctx.out.write(`${name}\n`);
        } catch (err) {
          ctx.err.write(`${errorText(err)}\n`);
          failed.push(name);
        }
      }
      if (failed.length > 0) throw new CliError(`Error: failed to start containers: ${failed.join(', ')}`);
    }),
  );
}
