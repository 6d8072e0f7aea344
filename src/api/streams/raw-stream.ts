/**
 * Helpers for the streams of attach, exec and logs once the route has the
 * connection: container output goes to the client framed with stdcopy (no
 * TTY) or as raw bytes (TTY); the client's stdin goes to the container, with
 * Docker's detach-key sequence (default ctrl-p,ctrl-q) ending the attach
 * without stopping the container.
 *
 * Docker looks for the detach keys only when the container has a TTY
 * (moby daemon/internal/stream/attach.go); callers pass `detachKeys` only
 * then.
 */
import type { Readable, Writable } from 'node:stream';

import { InvalidParameterError } from '../../errors.js';
import { DEFAULT_DETACH_KEYS, detachKeysToBytes } from '../../util/detach-keys.js';
import { STDERR, STDOUT, StdcopyWriter, waitForDrain } from './stdcopy.js';

// ---------------------------------------------------------------------------
// Detach keys

export { DEFAULT_DETACH_KEYS };

/**
 * Parses Docker's `detachKeys` into the bytes to look for. Empty or
 * undefined gives the default, ctrl-p,ctrl-q. Throws InvalidParameterError
 * with the message of the attach route (or of exec, with `what = 'exec'`).
 */
export function parseDetachKeys(keys: string | undefined, what: 'attach' | 'exec' = 'attach'): Buffer {
  if (keys === undefined || keys === '') return Buffer.from(detachKeysToBytes(DEFAULT_DETACH_KEYS));
  try {
    return Buffer.from(detachKeysToBytes(keys));
  } catch (err) {
    throw new InvalidParameterError(
      what === 'exec' ? `Invalid escape keys (${keys}) provided` : `Invalid detach keys (${keys}) provided`,
      { cause: err },
    );
  }
}

export interface DetachFilterResult {
  /** The bytes to pass on to the container. */
  data: Buffer;
  /** The full sequence was seen; `data` holds what came before it and the rest of the chunk is dropped. */
  detached: boolean;
}

/**
 * Passes stdin through, holding back bytes that may be the start of the
 * detach sequence. When the whole sequence has arrived (possibly over several
 * chunks) it reports `detached`; the sequence itself is never passed on.
 * Held-back bytes that turn out not to start the sequence are passed on, in
 * order; `flush()` gives those still held when stdin ends.
 */
export class DetachKeyFilter {
  readonly keys: Buffer;
  private matched = 0;
  private done = false;

  constructor(keys: Buffer) {
    if (keys.length === 0) throw new RangeError('detach key sequence is empty');
    this.keys = keys;
  }

  /** Bytes currently held back (a prefix of the sequence). */
  get pending(): number {
    return this.matched;
  }

  get detached(): boolean {
    return this.done;
  }

  push(chunk: Buffer): DetachFilterResult {
    if (this.done) return { data: Buffer.alloc(0), detached: true };
    const first = this.keys[0] ?? 0;
    if (this.matched === 0 && !chunk.includes(first)) return { data: chunk, detached: false };
    const out = Buffer.allocUnsafe(chunk.length + this.matched);
    let n = 0;
    for (const byte of chunk) {
      if (byte === this.keys[this.matched]) {
        this.matched++;
        if (this.matched === this.keys.length) {
          this.done = true;
          this.matched = 0;
          return { data: out.subarray(0, n), detached: true };
        }
        continue;
      }
      // Not the next key: the held bytes plus this one. Release from the front
      // until what is left could still begin the sequence.
      const held = Buffer.concat([this.keys.subarray(0, this.matched), Buffer.of(byte)]);
      let from = 0;
      while (from < held.length && !this.keys.subarray(0, held.length - from).equals(held.subarray(from))) {
        out[n++] = held[from++] ?? 0;
      }
      this.matched = held.length - from;
    }
    return { data: out.subarray(0, n), detached: false };
  }

  /** The bytes held back, released (stdin ended before the sequence completed). */
  flush(): Buffer {
    const held = Buffer.from(this.keys.subarray(0, this.matched));
    this.matched = 0;
    return held;
  }
}

// ---------------------------------------------------------------------------
// Output

export interface OutputMessage {
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

export interface PipeOutputOptions {
  /** Raw bytes (the container has a TTY) instead of stdcopy frames. */
  tty: boolean;
  /** Which streams to pass on; both by default. */
  stdout?: boolean;
  stderr?: boolean;
  /** Call `dest.end()` once the source is exhausted (default true). */
  end?: boolean;
  signal?: AbortSignal;
}

/** How a pipe ended. */
export type PipeOutputResult = 'end' | 'closed' | 'aborted';

/**
 * Copies output messages to the client: stdcopy-framed (stdout → 1, stderr
 * → 2) or raw for a TTY, waiting for the destination to drain. Resolves
 * 'end' when the source is exhausted (ending `dest` unless `end: false`),
 * 'closed' as soon as the destination goes away, 'aborted' on the signal. In
 * the last two cases the source's `return()` is called without waiting; a
 * source that is blocked waiting (a log follow) should be given the same
 * signal, aborted when the client goes away.
 */
export async function pipeOutput(
  source: AsyncIterable<OutputMessage>,
  dest: Writable,
  options: PipeOutputOptions,
): Promise<PipeOutputResult> {
  const { signal } = options;
  const wantStdout = options.stdout ?? true;
  const wantStderr = options.stderr ?? true;
  const framed = options.tty ? undefined : new StdcopyWriter(dest);
  const iterator = source[Symbol.asyncIterator]();

  // One listener each for the whole pipe; the wait for the next message is woken through `wake`.
  let stopped: 'closed' | 'aborted' | undefined;
  let wake: ((why: 'closed' | 'aborted') => void) | undefined;
  const onClose = (): void => {
    stopped ??= 'closed';
    wake?.(stopped);
  };
  const onAbort = (): void => {
    stopped ??= 'aborted';
    wake?.(stopped);
  };
  dest.on('close', onClose);
  dest.on('error', onClose);
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) stopped = 'aborted';
  else if (dest.destroyed) stopped = 'closed';

  let finished = false;
  try {
    for (;;) {
      if (stopped) return stopped;
      const next = await new Promise<IteratorResult<OutputMessage> | 'closed' | 'aborted'>(
        (resolve, reject) => {
          wake = resolve;
          iterator.next().then(resolve, reject);
        },
      );
      wake = undefined;
      if (typeof next === 'string') return next;
      if (next.done === true) {
        finished = true;
        if ((options.end ?? true) && !dest.destroyed && !dest.writableEnded) dest.end();
        return 'end';
      }
      const msg = next.value;
      if (msg.data.length === 0) continue;
      if (msg.stream === 'stdout' ? !wantStdout : !wantStderr) continue;
      let ok: boolean;
      if (framed) {
        ok = await framed.write(msg.stream === 'stdout' ? STDOUT : STDERR, msg.data);
      } else if (dest.destroyed || dest.writableEnded) {
        ok = false;
      } else {
        ok = dest.write(msg.data) || (await waitForDrain(dest));
      }
      if (!ok) return stopped ?? (signal?.aborted ? 'aborted' : 'closed');
    }
  } finally {
    wake = undefined;
    dest.off('close', onClose);
    dest.off('error', onClose);
    signal?.removeEventListener('abort', onAbort);
    if (!finished) iterator.return?.().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------
// Stdin

/** Where stdin goes: conmon's attach socket, an exec session's stdin, a pipe. */
export interface StdinSink {
  /** Writes a chunk; a returned promise holds further input until it settles. */
  write(data: Buffer): Promise<void> | void;
  /** The container's stdin gets EOF. */
  end(): void;
}

/** A Writable as a StdinSink that waits for 'drain'. */
export function writableSink(dest: Writable): StdinSink {
  return {
    write(data: Buffer): Promise<void> | void {
      if (dest.destroyed || dest.writableEnded) return;
      if (!dest.write(data)) return waitForDrain(dest).then(() => undefined);
    },
    end(): void {
      if (!dest.destroyed && !dest.writableEnded) dest.end();
    },
  };
}

export interface PipeStdinOptions {
  /** The detach sequence to look for (see parseDetachKeys); none: no detection. */
  detachKeys?: Buffer;
  /** End the sink when the client's stdin ends or the connection closes (Docker's StdinOnce). */
  closeStdin?: boolean;
  signal?: AbortSignal;
}

/** How stdin ended: the client half-closed, it sent the detach keys, the connection closed or failed, or the signal. */
export type PipeStdinResult = 'eof' | 'detach' | 'closed' | 'aborted';

/**
 * Copies the client's stdin (the hijacked connection's readable side) to the
 * container, pausing the connection while the sink is busy. On detach the
 * bytes before the sequence are passed on and reading stops (the connection
 * is left paused, not closed: the caller ends the output and closes it, as
 * Docker does). Held-back bytes of an unfinished sequence are passed on when
 * stdin ends.
 */
export function pipeStdin(
  source: Readable,
  sink: StdinSink,
  options: PipeStdinOptions = {},
): Promise<PipeStdinResult> {
  const filter =
    options.detachKeys && options.detachKeys.length > 0 ? new DetachKeyFilter(options.detachKeys) : undefined;
  const { signal } = options;
  return new Promise<PipeStdinResult>((resolve) => {
    let settled = false;
    let writing: Promise<void> = Promise.resolve();

    const finish = (result: PipeStdinResult): void => {
      if (settled) return;
      settled = true;
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('close', onClose);
      source.off('error', onClose);
      signal?.removeEventListener('abort', onAbort);
      source.pause();
      const ending = result !== 'detach' && result !== 'aborted';
      void writing.then(() => {
        if (ending) {
          const rest = filter?.flush();
          if (rest && rest.length > 0) void Promise.resolve(sink.write(rest)).catch(() => undefined);
          if (options.closeStdin) sink.end();
        }
        resolve(result);
      });
    };

    const send = (data: Buffer): void => {
      if (data.length === 0) return;
      let pending: Promise<void> | void;
      try {
        pending = sink.write(data);
      } catch {
        finish('closed');
        return;
      }
      if (pending instanceof Promise) {
        source.pause();
        writing = pending.then(
          () => {
            if (!settled) source.resume();
          },
          () => finish('closed'),
        );
      }
    };

    const onData = (chunk: Buffer | string): void => {
      if (settled) return;
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (!filter) {
        send(buf);
        return;
      }
      const { data, detached } = filter.push(buf);
      send(data);
      if (detached) finish('detach');
    };
    const onEnd = (): void => finish('eof');
    const onClose = (): void => finish('closed');
    const onAbort = (): void => finish('aborted');

    if (signal?.aborted) {
      finish('aborted');
      return;
    }
    source.on('data', onData);
    source.on('end', onEnd);
    source.on('close', onClose);
    source.on('error', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (source.readableEnded) finish('eof');
    // A source paused before (e.g. after its request body was read off it) flows from here on.
    else source.resume();
  });
}
