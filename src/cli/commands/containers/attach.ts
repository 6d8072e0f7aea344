import type { Command } from 'commander';

import type { ContainerInspectResponse } from '../../../api/types/index.js';
import {
  attachContainer,
  inspectContainer,
  resizeContainer,
  waitContainer,
  type PendingWait,
} from '../../../client/containers.js';
import { CliError, type CliContext } from '../../context.js';
import { goBooleanFlags } from '../../opts/flags.js';
import { checkTty, terminalSize, validateDetachKeys } from '../../terminal.js';
import {
  configString,
  errorText,
  exitWithStatus,
  monitorTtySize,
  outIsTerminal,
  proxySignals,
  runContainerCommand,
} from './common.js';
import { streamConnection } from './stream.js';

interface AttachFlags {
  /** false with `--no-stdin`. */
  stdin?: boolean;
  sigProxy?: boolean;
  detachKeys?: string;
}

/**
 * docker's inspectContainerAndCheckState: attaching needs a running container.
 * @throws CliError `You cannot attach to a stopped container, start it first` and the like.
 */
export function checkAttachable(c: ContainerInspectResponse): void {
  const state = c.State ?? {};
  if (!state.Running) throw new CliError('You cannot attach to a stopped container, start it first');
  if (state.Paused) throw new CliError('You cannot attach to a paused container, unpause it first');
  if (state.Restarting) {
    throw new CliError('You cannot attach to a restarting container, wait until it is running');
  }
}

/** `attach [OPTIONS] CONTAINER`. */
export function registerAttach(parent: Command, ctx: CliContext): Command {
  const cmd = parent
    .command('attach')
    .description('Attach local standard input, output, and error streams to a running container')
    .argument('<container>', 'CONTAINER')
    .option('--no-stdin', 'do not attach STDIN')
    .option('--sig-proxy', 'proxy all received signals to the process', true)
    .option('--detach-keys <keys>', 'override the key sequence for detaching a container');
  goBooleanFlags(cmd);
  return cmd.action((ref: string, flags: AttachFlags) =>
    runContainerCommand(async () => {
      const detachKeys = flags.detachKeys || configString(ctx, 'detachKeys');
      validateDetachKeys(detachKeys);
      const client = ctx.client();
      let wait: PendingWait | undefined;
      let waitError: unknown;
      try {
        wait = await waitContainer(client, ref);
      } catch (err) {
        waitError = err;
      }
      try {
        const c = await inspectContainer(client, ref);
        checkAttachable(c);
        const noStdin = flags.stdin === false;
        const tty = c.Config?.Tty === true;
        checkTty(process.stdin, !noStdin, tty);
        const stdin = !noStdin && c.Config?.OpenStdin === true;
        const stopSignals = flags.sigProxy !== false && !tty ? proxySignals(client, ref) : () => undefined;
        let stopResize: () => void = () => undefined;
        try {
          const conn = await attachContainer(client, ref, {
            stream: true,
            stdin,
            stdout: true,
            stderr: true,
            detachKeys: detachKeys || undefined,
          });
          try {
            checkAttachable(await inspectContainer(client, ref));
          } catch (err) {
            conn.close();
            throw err;
          }
          if (tty && outIsTerminal(ctx)) {
            const { height, width } = terminalSize(ctx.out);
            await resizeContainer(client, ref, height + 1, width + 1).catch(() => undefined);
            stopResize = monitorTtySize(ctx, (size) => resizeContainer(client, ref, size.height, size.width));
          }
          const session = streamConnection(conn, {
            stdin: stdin ? process.stdin : undefined,
            stdout: ctx.out,
            stderr: ctx.err,
            tty,
            detachKeys: detachKeys || undefined,
          });
          const end = await session.done;
          // As docker attach: detaching is reported as the escape it is.
          if (end === 'detached') throw new CliError('read escape sequence');
        } finally {
          stopResize();
          stopSignals();
        }
      } catch (err) {
        wait?.cancel();
        throw err;
      }
      if (waitError !== undefined) throw new CliError(errorText(waitError));
      if (!wait) return;
      let result;
      try {
        result = await wait.result;
      } catch (err) {
        throw new CliError(errorText(err));
      }
      if (result.Error?.Message) throw new CliError(result.Error.Message);
      if (result.StatusCode !== 0) await exitWithStatus(result.StatusCode);
    }),
  );
}
