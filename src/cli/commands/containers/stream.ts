/**
 * docker's hijackedIOStreamer: copies the local stdin to a hijacked attach
 * or exec connection and the connection's output to stdout/stderr
 * (demultiplexed unless a TTY), with the local terminal in raw mode for a
 * TTY and the detach sequence watched for in what the user types.
 *
 * The session ends when the output ends (after stdin has ended too, or
 * straight away when there is no stdin), when the user types the detach
 * keys (TTY only; the daemon spots them otherwise), or when it is cancelled.
 */
import { copyStream, demuxStream, type HijackedConnection } from '../../../client/hijack.js';
import {
  DEFAULT_DETACH_KEYS,
  DetachKeyFilter,
  RawTerminal,
  detachKeysToBytes,
  validateDetachKeys,
} from '../../terminal.js';

export interface StreamOptions {
  /** The local stdin, when the container's stdin is attached. */
  stdin?: NodeJS.ReadableStream;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  tty: boolean;
  /** `--detach-keys` (or the config file's `detachKeys`). */
  detachKeys?: string;
}

/** How a session ended. */
export type StreamEnd = 'done' | 'detached' | 'cancelled';

/** A running session: `done` settles when it ends; `cancel()` ends it early. */
export interface StreamSession {
  done: Promise<StreamEnd>;
  cancel(): void;
}

/**
 * Starts streaming over `conn`. `done` rejects with the output's error
 * (a broken connection, a stdcopy error frame) and resolves otherwise.
 */
export function streamConnection(conn: HijackedConnection, options: StreamOptions): StreamSession {
  const stdin = options.stdin;
  let raw: RawTerminal | undefined;
  let filter: DetachKeyFilter | undefined;
  if (stdin && options.tty) {
    validateDetachKeys(options.detachKeys);
    raw = new RawTerminal(stdin);
    raw.enable();
    filter = new DetachKeyFilter(
      options.detachKeys ? detachKeysToBytes(options.detachKeys) : DEFAULT_DETACH_KEYS,
    );
  }
  const restore = (): void => raw?.restore();

  let finish: (end: StreamEnd) => void = () => undefined;
  let fail: (err: Error) => void = () => undefined;
  const done = new Promise<StreamEnd>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  let ended = false;
  let inputDone = stdin === undefined;
  let outputDone = options.stdout === undefined && options.stderr === undefined;
  let outputError: Error | undefined;

  const stopInput = (): void => {
    if (!stdin) return;
    stdin.removeListener('data', onData);
    stdin.removeListener('end', onInputEnd);
    stdin.removeListener('error', onInputEnd);
    stdin.pause();
  };
  const end = (how: StreamEnd): void => {
    if (ended) return;
    ended = true;
    stopInput();
    restore();
    conn.close();
    if (outputError && how === 'done') fail(outputError);
    else finish(how);
  };
  const maybeDone = (): void => {
    if (outputDone && inputDone) end('done');
  };

  // Output
  if (options.stdout || options.stderr) {
    const copy = options.tty
      ? copyStream(conn.socket, options.stdout)
      : demuxStream(conn.socket, options.stdout, options.stderr);
    copy.then(
      () => {
        if (options.tty) restore();
        outputDone = true;
        // The output has ended: what the user types no longer matters.
        inputDone = true;
        maybeDone();
      },
      (err: unknown) => {
        if (options.tty) restore();
        outputDone = true;
        inputDone = true;
        outputError = err instanceof Error ? err : new Error(String(err));
        maybeDone();
      },
    );
  } else {
    conn.socket.resume();
  }

  // Input
  function onData(chunk: Buffer | string): void {
    let data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (filter) {
      const result = filter.filter(data);
      if (result.detach) {
        end('detached');
        return;
      }
      data = result.forward;
      if (data.length === 0) return;
    }
    if (!conn.socket.writable) return;
    if (!conn.socket.write(data) && stdin) {
      stdin.pause();
      conn.socket.once('drain', () => {
        if (!ended) stdin.resume();
      });
    }
  }
  function onInputEnd(): void {
    stopInput();
    restore();
    conn.closeWrite();
    inputDone = true;
    maybeDone();
  }
  if (stdin) {
    stdin.on('data', onData);
    stdin.once('end', onInputEnd);
    stdin.once('error', onInputEnd);
    stdin.resume();
  } else {
    conn.closeWrite();
    maybeDone();
  }

  return { done, cancel: () => end('cancelled') };
}
