/**
 * What the container commands share: error handling and exit statuses as
 * the docker CLI has them, per-container loops for `stop a b`, signal
 * proxying, TTY size monitoring, and docker config values.
 */
import { readFileSync } from 'node:fs';

import { ApiError, DaemonUnreachableError, type BerthClient } from '../../../client/client.js';
import { InvalidArgumentError, killContainer } from '../../../client/containers.js';
import { ResponseHeadError, StdcopyError } from '../../../client/hijack.js';
import { CliError, type CliContext } from '../../context.js';
import { ContainerFlagError } from '../../opts/flag-error.js';
import { isTerminal, terminalSize, watchTerminalSize, type TerminalSize } from '../../terminal.js';
import { errorText, readDockerConfig, runCommand } from '../images/common.js';

export { errorText };

/**
 * Runs a command body, turning client-side failures into CliErrors printed
 * as docker prints them (daemon errors pass through to main).
 */
export function runContainerCommand(body: () => Promise<void>): Promise<void> {
  return runCommand(async () => {
    try {
      await body();
    } catch (err) {
      if (
        err instanceof InvalidArgumentError ||
        err instanceof StdcopyError ||
        err instanceof ResponseHeadError ||
        err instanceof ContainerFlagError
      ) {
        throw new CliError(err.message);
      }
      // Plain errors (a TTY check, a local file) are printed as they are, as docker does.
      if (err instanceof Error && err.constructor === Error) throw new CliError(err.message);
      throw err;
    }
  });
}

/**
 * Ends the process with `code` and no message, as docker's StatusError with
 * an empty status (the exit code of a container, of an exec). Output
 * already written is flushed first.
 */
export async function exitWithStatus(code: number): Promise<never> {
  const flush = (stream: NodeJS.WriteStream): Promise<void> =>
    new Promise((resolve) => {
      if (stream.writableLength === 0) resolve();
      else stream.write('', () => resolve());
    });
  await Promise.all([flush(process.stdout), flush(process.stderr)]);
  process.exit(code);
}

/** A string setting of the docker config file (`psFormat`, `detachKeys`…); empty when unset. */
export function configString(ctx: CliContext, key: string): string {
  const path = readDockerConfig(ctx).path;
  try {
    const data = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    const value = data[key];
    return typeof value === 'string' ? value : '';
  } catch {
    return '';
  }
}

/**
 * docker's `run`/`create` failure (toStatusError): `berth: <error>` and the
 * help hint, status 127 for a missing executable, 126 for one that cannot
 * be run, 125 otherwise.
 */
export function runError(err: unknown, command: string): CliError {
  if (err instanceof CliError && err.exitCode !== 1) return err;
  const text = errorText(err);
  const message = `berth: ${text}\n\nRun 'berth ${command} --help' for more information`;
  if (
    text.includes('executable file not found') ||
    text.includes('no such file or directory') ||
    text.includes('system cannot find the file specified')
  ) {
    return new CliError(message, 127);
  }
  if (text.includes('permission denied') || text.includes('is a directory'))
    return new CliError(message, 126);
  return new CliError(message, 125);
}

/**
 * Runs `op` on each container (up to 50 at a time, as docker's
 * parallelOperation), printing each name that succeeded in the order
 * given; the failures are reported together, exit status 1.
 */
export async function forEachContainer(
  ctx: CliContext,
  names: readonly string[],
  op: (name: string) => Promise<void>,
  options: { parallel?: boolean; ignore?: (err: unknown) => boolean } = {},
): Promise<void> {
  // Negotiate the API version once, not once per parallel request.
  await ctx.client().apiVersion();
  const limit = options.parallel === false ? 1 : 50;
  const results: Promise<unknown>[] = [];
  let running = 0;
  const queue: (() => void)[] = [];
  const slot = (): Promise<void> =>
    running < limit ? (running++, Promise.resolve()) : new Promise((r) => queue.push(() => (running++, r())));
  const release = (): void => {
    running--;
    queue.shift()?.();
  };
  for (const name of names) {
    const run = slot().then(() => op(name).finally(release));
    run.catch(() => undefined);
    results.push(run);
    if (options.parallel === false) await run.catch(() => undefined);
  }
  const errors: string[] = [];
  for (let i = 0; i < names.length; i++) {
    try {
      await results[i];
      ctx.out.write(`${names[i]}\n`);
    } catch (err) {
      if (options.ignore?.(err)) continue;
      if (err instanceof DaemonUnreachableError) throw err;
      errors.push(errorText(err));
    }
  }
  if (errors.length > 0) throw new CliError(errors.join('\n'));
}

/** True for a 404 from the daemon. */
export function isNotFound(err: unknown): boolean {
  return err instanceof ApiError && err.status === 404;
}

/** The signals the CLI forwards to a container (docker forwards all it can catch). */
const PROXIED_SIGNALS: readonly NodeJS.Signals[] = [
  'SIGINT',
  'SIGTERM',
  'SIGHUP',
  'SIGQUIT',
  'SIGUSR2',
  'SIGALRM',
  'SIGCONT',
  'SIGTSTP',
  'SIGTTIN',
  'SIGTTOU',
  'SIGVTALRM',
  'SIGPROF',
  'SIGXCPU',
  'SIGXFSZ',
  'SIGTRAP',
  'SIGIO',
  'SIGPWR',
  'SIGSYS',
];

/**
 * docker's ForwardAllSignals: signals sent to the CLI are sent on to the
 * container with `POST /containers/{id}/kill?signal=`. Returns the function
 * that stops forwarding.
 */
export function proxySignals(client: BerthClient, id: string): () => void {
  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const sig of PROXIED_SIGNALS) {
    const handler = (): void => {
      killContainer(client, id, sig.replace(/^SIG/, '')).catch(() => {
        // as docker: a failed forward is only logged at debug level
      });
    };
    try {
      process.on(sig, handler);
      handlers.set(sig, handler);
    } catch {
      // not a signal on this platform
    }
  }
  return () => {
    for (const [sig, handler] of handlers) process.removeListener(sig, handler);
  };
}

/**
 * docker's MonitorTtySize: resizes the container (or exec) TTY to the
 * terminal now (retrying a few times, as the process may not be up yet) and
 * whenever the window changes. Returns the function that stops it.
 */
export function monitorTtySize(ctx: CliContext, resize: (size: TerminalSize) => Promise<void>): () => void {
  let first = true;
  const apply = (size: TerminalSize): void => {
    if (size.height === 0 && size.width === 0) return;
    const attempt = first;
    first = false;
    resize(size).catch(async () => {
      if (!attempt) return;
      for (let retry = 0; retry < 10; retry++) {
        await new Promise((r) => setTimeout(r, (retry + 1) * 10));
        try {
          await resize(terminalSize(ctx.out));
          return;
        } catch {
          // retry
        }
      }
      ctx.err.write('failed to resize tty, using default size\n');
    });
  };
  return watchTerminalSize(ctx.out, apply);
}

/** True when the CLI's stdout is a terminal. */
export function outIsTerminal(ctx: CliContext): boolean {
  return isTerminal(ctx.out);
}

/**
 * Waits for `promise`, but no longer than `ms`: for waits that only tidy up
 * (a container the daemon should remove after a failed start).
 */
export async function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise.catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}
