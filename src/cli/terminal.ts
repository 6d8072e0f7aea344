/**
 * The local terminal, as the docker CLI handles it for `run -t`, `attach`
 * and `exec -t` (moby/term and cli/streams): raw mode with a guaranteed
 * restore, the window size, the TTY check, and the detach key sequence
 * (`ctrl-p,ctrl-q` by default) spotted in what the user types.
 */
import { spawnSync } from 'node:child_process';
import type { ReadStream } from 'node:tty';

import { DEFAULT_DETACH_KEYS as DEFAULT_DETACH_KEY_NAMES, detachKeysToBytes } from '../util/detach-keys.js';

/** A terminal size as the resize endpoints take it. */
export interface TerminalSize {
  height: number;
  width: number;
}

/** True when the stream is a terminal. */
export function isTerminal(stream: NodeJS.ReadableStream | NodeJS.WritableStream): boolean {
  return (stream as { isTTY?: boolean }).isTTY === true;
}

/** The size of a terminal output stream; `0x0` when it is not a terminal. */
export function terminalSize(stream: NodeJS.WritableStream): TerminalSize {
  const s = stream as { isTTY?: boolean; rows?: number; columns?: number };
  if (s.isTTY !== true) return { height: 0, width: 0 };
  return { height: s.rows ?? 0, width: s.columns ?? 0 };
}

/**
 * docker's In.CheckTty: a container TTY with stdin attached needs a terminal
 * as stdin.
 * @throws Error `the input device is not a TTY`.
 */
export function checkTty(stdin: NodeJS.ReadableStream, attachStdin: boolean, tty: boolean): void {
  if (tty && attachStdin && !isTerminal(stdin)) throw new Error('the input device is not a TTY');
}

/**
 * Raw mode for a terminal stdin: `enable()` switches it on (nothing happens
 * for a non-terminal), `restore()` switches it back, once, however often it
 * is called. The process's exit restores it too.
 */
export class RawTerminal {
  private readonly stdin: NodeJS.ReadableStream;
  private active = false;
  private readonly onExit: () => void;

  constructor(stdin: NodeJS.ReadableStream) {
    this.stdin = stdin;
    this.onExit = () => this.restore();
  }

  enable(): void {
    if (this.active || !isTerminal(this.stdin)) return;
    (this.stdin as ReadStream).setRawMode(true);
    // libuv's raw mode keeps output post-processing (ONLCR) on, where
    // moby/term's MakeRaw turns it off: the container's TTY already did it.
    // Leaving raw mode restores the saved settings, this included.
    if (process.platform !== 'win32') {
      try {
        spawnSync('stty', ['-opost'], {
          stdio: [this.stdin as ReadStream, 'ignore', 'ignore'],
          timeout: 2000,
        });
      } catch {
        // no stty: output is post-processed twice, which only adds carriage returns
      }
    }
    this.active = true;
    process.once('exit', this.onExit);
  }

  restore(): void {
    if (!this.active) return;
    this.active = false;
    process.removeListener('exit', this.onExit);
    try {
      (this.stdin as ReadStream).setRawMode(false);
    } catch {
      // the terminal is gone
    }
  }

  get isRaw(): boolean {
    return this.active;
  }
}

/** The default detach sequence: ctrl-p, ctrl-q. */
export const DEFAULT_DETACH_KEYS: readonly number[] = detachKeysToBytes(DEFAULT_DETACH_KEY_NAMES);

export { detachKeysToBytes };

/**
 * docker's validateDetachKeys: empty is fine (the default).
 * @throws Error `invalid detach keys (x): Unknown character: 'x'`.
 */
export function validateDetachKeys(keys: string | undefined): void {
  if (keys === undefined || keys === '') return;
  try {
    detachKeysToBytes(keys);
  } catch (err) {
    throw new Error(`invalid detach keys (${keys}): ${(err as Error).message}`, { cause: err });
  }
}

/**
 * moby/term's EscapeProxy as a filter: keystrokes (reads of one byte) that
 * match the detach sequence are held back; a complete sequence means
 * "detach", a mismatch releases what was held back. Longer reads (pastes)
 * are passed through as they are.
 */
export class DetachKeyFilter {
  private readonly keys: readonly number[];
  private position = 0;

  constructor(keys: readonly number[] = DEFAULT_DETACH_KEYS) {
    this.keys = keys;
  }

  /** The bytes to forward for a chunk read from stdin, or `detach`. */
  filter(chunk: Buffer): { forward: Buffer; detach: boolean } {
    if (this.keys.length === 0) return { forward: chunk, detach: false };
    const held = (): Buffer => Buffer.from(this.keys.slice(0, this.position));
    if (chunk.length !== 1) {
      const out = this.position > 0 ? Buffer.concat([held(), chunk]) : chunk;
      this.position = 0;
      return { forward: out, detach: false };
    }
    if (chunk[0] !== this.keys[this.position]) {
      const out = this.position > 0 ? Buffer.concat([held(), chunk]) : chunk;
      this.position = 0;
      return { forward: out, detach: false };
    }
    if (this.position === this.keys.length - 1) {
      this.position = 0;
      return { forward: Buffer.alloc(0), detach: true };
    }
    this.position++;
    return { forward: Buffer.alloc(0), detach: false };
  }
}

/**
 * Calls `onResize` with the terminal's size now and on every window change
 * (SIGWINCH, which node turns into the stream's `resize` event once it has
 * refreshed the size); returns the function that stops watching.
 */
export function watchTerminalSize(
  stream: NodeJS.WritableStream,
  onResize: (size: TerminalSize) => void,
): () => void {
  const handler = (): void => onResize(terminalSize(stream));
  handler();
  if (!isTerminal(stream)) return () => undefined;
  stream.on('resize', handler);
  return () => {
    stream.removeListener('resize', handler);
  };
}
