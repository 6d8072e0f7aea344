import type { Command } from 'commander';

import type { ContainerWaitResponse } from '../../../api/types/index.js';
import {
  attachContainer,
  resizeContainer,
  startContainer,
  waitContainer,
  type PendingWait,
} from '../../../client/containers.js';
import { CliError, type CliContext } from '../../context.js';
import { goBooleanFlags } from '../../opts/flags.js';
import { checkTty, validateDetachKeys } from '../../terminal.js';
import {
  configString,
  exitWithStatus,
  monitorTtySize,
  outIsTerminal,
  proxySignals,
  runContainerCommand,
  settleWithin,
  runError,
} from './common.js';
import { addCreateFlags, createWithPull, requestFromFlags, type CreateFlags } from './create.js';
import { streamConnection, type StreamEnd, type StreamSession } from './stream.js';

interface RunFlags extends CreateFlags {
  detach?: boolean;
  sigProxy?: boolean;
  detachKeys?: string;
}

/**
 * The exit status a wait gives (docker's waitExitOrRemoved): the
 * container's, or 125 when waiting failed.
 */
export async function waitStatus(ctx: CliContext, wait: PendingWait | Error): Promise<number> {
  if (wait instanceof Error) {
    ctx.err.write(`error waiting for container: ${wait.message}\n`);
    return 125;
  }
  let result: ContainerWaitResponse;
  try {
    result = await wait.result;
  } catch (err) {
    // A wait given up on (detached) is not an error.
    if (!wait.cancelled) ctx.err.write(`error waiting for container: ${(err as Error).message}\n`);
    return 125;
  }
  if (result.Error?.Message) {
    ctx.err.write(`Error waiting for container: ${result.Error.Message}\n`);
    return 125;
  }
  return result.StatusCode;
}

/** Registers a wait, keeping a failure as a value (it is reported when the status is needed). */
export async function startWait(
  ctx: CliContext,
  id: string,
  condition: 'next-exit' | 'removed',
): Promise<PendingWait | Error> {
  try {
    return await waitContainer(ctx.client(), id, condition);
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/**
 * docker's runContainer: create, attach (unless detached), register the
 * wait, start, then follow the streams and exit with the container's status.
 */
async function runContainer(ctx: CliContext, image: string, args: string[], flags: RunFlags): Promise<void> {
  const request = requestFromFlags(flags, image, args, 'run');
  request.ArgsEscaped = false;
  const detach = flags.detach === true;
  if (!detach) {
    checkTty(process.stdin, request.AttachStdin === true, request.Tty === true);
  } else {
    if ((flags.attach ?? []).length > 0) {
      throw new CliError('conflicting options: cannot specify both --attach and --detach');
    }
    request.AttachStdin = false;
    request.AttachStdout = false;
    request.AttachStderr = false;
    request.StdinOnce = false;
  }
  const detachKeys = flags.detachKeys || configString(ctx, 'detachKeys');
  validateDetachKeys(flags.detachKeys);

  let id: string;
  try {
    id = await createWithPull(ctx, request, flags);
  } catch (err) {
    throw runError(err, 'run');
  }
  const client = ctx.client();
  const tty = request.Tty === true;
  const stopSignals = flags.sigProxy !== false && !tty ? proxySignals(client, id) : () => undefined;
  let stopResize: () => void = () => undefined;
  let session: StreamSession | undefined;
  let wait: PendingWait | Error | undefined;
  try {
    const attach = request.AttachStdin || request.AttachStdout || request.AttachStderr;
    if (!attach) ctx.out.write(`${id}\n`);
    if (attach) {
      const conn = await attachContainer(client, id, {
        stream: true,
        stdin: request.AttachStdin,
        stdout: request.AttachStdout,
        stderr: request.AttachStderr,
        detachKeys: detachKeys || undefined,
      });
      session = streamConnection(conn, {
        stdin: request.AttachStdin ? process.stdin : undefined,
        stdout: request.AttachStdout ? ctx.out : undefined,
        stderr: request.AttachStderr ? (tty ? ctx.out : ctx.err) : undefined,
        tty,
        detachKeys: detachKeys || undefined,
      });
    }
    const autoRemove = request.HostConfig?.AutoRemove === true;
    const pending = await startWait(ctx, id, autoRemove ? 'removed' : 'next-exit');
    wait = pending;
    try {
      await startContainer(client, id);
    } catch (err) {
      if (session) {
        session.cancel();
        await session.done.catch(() => undefined);
      }
      // As docker: the daemon removes an AutoRemove container that failed to start.
      if (autoRemove && !(pending instanceof Error)) await settleWithin(pending.result, 5000);
      throw runError(err, 'run');
    }
    if (!session) return;
    if (tty && outIsTerminal(ctx)) {
      stopResize = monitorTtySize(ctx, (size) => resizeContainer(client, id, size.height, size.width));
    }
    const status = waitStatus(ctx, pending);
    const first = await Promise.race([
      session.done.then(
        (end): { kind: 'stream'; end: StreamEnd } => ({ kind: 'stream', end }),
        (err: unknown): { kind: 'error'; err: unknown } => ({ kind: 'error', err }),
      ),
      status.then((code): { kind: 'status'; code: number } => ({ kind: 'status', code })),
    ]);
    let code: number;
    if (first.kind === 'stream') {
      if (first.end === 'detached') return;
      code = await status;
    } else if (first.kind === 'error') {
      throw first.err;
    } else {
      // The container has exited: let the output drain unless none is attached.
      if (!request.AttachStdout && !request.AttachStderr) session.cancel();
      await session.done.catch(() => undefined);
      code = first.code;
    }
    stopResize();
    stopSignals();
    if (code !== 0) await exitWithStatus(code);
  } finally {
    stopResize();
    stopSignals();
    // Detached, or detached from: stop waiting for the exit.
    if (wait !== undefined && !(wait instanceof Error)) wait.cancel();
  }
}

/** `run [OPTIONS] IMAGE [COMMAND] [ARG...]`. */
export function registerRun(parent: Command, ctx: CliContext): Command {
  const cmd = parent
    .command('run')
    .description('Create and run a new container from an image')
    .usage('[OPTIONS] IMAGE [COMMAND] [ARG...]')
    .argument('<image>', 'IMAGE')
    .argument('[command...]', 'COMMAND [ARG...]')
    .passThroughOptions();
  addCreateFlags(cmd);
  cmd
    .option('-d, --detach', 'run container in background and print container ID')
    .option('--sig-proxy', 'proxy received signals to the process', true)
    .option('--detach-keys <keys>', 'override the key sequence for detaching a container');
  goBooleanFlags(cmd, true);
  return cmd.action((image: string, args: string[], flags: RunFlags) =>
    runContainerCommand(() => runContainer(ctx, image, args, flags)),
  );
}
