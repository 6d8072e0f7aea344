/**
 * Size-based rotation of a container's k8s-file log, done by the daemon.
 *
 * conmon's own `--log-size-max` truncates the log (it reopens `<path>.tmp`
 * with O_TRUNC and renames it over `<path>`), losing what was there. Docker's
 * json-file and local drivers rotate instead, and so does berth: when
 * `ctr.log` has reached max-size, the daemon shifts the rotated copies up
 * (`ctr.log.1` → `ctr.log.2` …, deleting the oldest), renames `ctr.log` to
 * `ctr.log.1`, and has conmon reopen its log (the engine writes `2 0 0\n` to
 * the bundle's `ctl` FIFO). conmon then closes the renamed file and creates a
 * new `ctr.log`.
 *
 * No line is lost on the way: conmon keeps writing to the file it has open,
 * so lines written between the rename and the reopen land at the end of
 * `ctr.log.1`, where readers find them (readLogs finishes a rotated file
 * before moving on). With max-file 1 there is nothing to keep: `ctr.log` is
 * renamed to a temporary name, and deleted once conmon has reopened, as
 * Docker deletes the current file. If the reopen fails, the rename is undone
 * (when conmon has not created a new file meanwhile) so conmon's file stays
 * where readers look for it.
 */
import { rename, stat, unlink } from 'node:fs/promises';

import { InvalidParameterError, SystemError, errorMessage } from '../errors.js';

// ---------------------------------------------------------------------------
// Options

export type LogDriverName = 'json-file' | 'local';

export interface LogOptions {
  /** Rotate once the live file has this many bytes; -1 for never. */
  maxSize: number;
  /** Files kept, the live one included. Values below 2 mean: no rotated copies. */
  maxFiles: number;
  /**
   * Accepted and validated as Docker does. berth does not compress rotated
   * copies (readers would have to decompress them); they stay plain files.
   */
  compress: boolean;
}

/** Options every driver takes; they shape log attributes, which k8s-file records do not carry. */
const COMMON_OPTS: ReadonlySet<string> = new Set(['env', 'env-regex', 'labels', 'labels-regex', 'tag']);
const SIZE_OPTS: ReadonlySet<string> = new Set(['max-size', 'max-file', 'compress']);

const GO_FLOAT_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * go-units FromHumanSize, which Docker uses for max-size: decimal units
 * (k = 1000; `kb`, `kib` are read the same), an optional space before the
 * unit, fractions truncated. Throws Go's messages.
 */
function fromHumanSize(text: string): number {
  let sep = -1;
  for (let i = text.length - 1; i >= 0; i--) {
    if ('0123456789. '.includes(text.charAt(i))) {
      sep = i;
      break;
    }
  }
  if (sep === -1) throw new Error(`invalid size: '${text}'`);
  const num = text.charAt(sep) === ' ' ? text.slice(0, sep) : text.slice(0, sep + 1);
  let suffix = text.slice(sep + 1);
  if (!GO_FLOAT_RE.test(num)) throw new Error(`strconv.ParseFloat: parsing "${num}": invalid syntax`);
  let size = Number(num);
  if (size < 0) throw new Error(`invalid size: '${text}'`);
  if (suffix === '') return Math.trunc(size);
  const bad = (): Error => new Error(`invalid suffix: '${suffix}'`);
  if (suffix.length > 3) throw bad();
  suffix = suffix.toLowerCase();
  if (suffix.startsWith('b')) {
    if (suffix.length > 1) throw bad();
    return Math.trunc(size);
  }
  const power = ['k', 'm', 'g', 't', 'p'].indexOf(suffix.charAt(0));
  if (power < 0) throw bad();
  size *= 1000 ** (power + 1);
  if (
    (suffix.length === 2 && suffix.charAt(1) !== 'b') ||
    (suffix.length === 3 && suffix.slice(1) !== 'ib')
  ) {
    throw bad();
  }
  return Math.trunc(size);
}

/** Go's strconv.Atoi, with its messages. */
function atoi(text: string): number {
  if (!/^[+-]?\d+$/.test(text)) throw new Error(`strconv.Atoi: parsing "${text}": invalid syntax`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new Error(`strconv.Atoi: parsing "${text}": value out of range`);
  return n;
}

/** Go's strconv.ParseBool, with its message. */
function parseBool(text: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  throw new Error(`strconv.ParseBool: parsing "${text}": invalid syntax`);
}

function invalid(err: unknown): InvalidParameterError {
  return new InvalidParameterError(errorMessage(err), { cause: err });
}

/**
 * Validates a container's `--log-opt`s for the json-file (default) or local
 * driver as Docker does, with Docker's messages, and returns the rotation
 * settings. Throws InvalidParameterError.
 *
 * json-file: max-size unset means no rotation; max-size must be positive;
 * max-file defaults to 1 and must be ≥ 1 (without max-size it is accepted
 * but has no effect, as Docker documents); compress needs max-file ≥ 2 and
 * max-size. local: 20 MiB × 5 files by default, compression on by default.
 * berth also accepts max-size `-1` as "no limit".
 */
export function parseLogOpts(
  opts: Readonly<Record<string, string>>,
  driver: LogDriverName = 'json-file',
): LogOptions {
  for (const key of Object.keys(opts)) {
    if (COMMON_OPTS.has(key) || SIZE_OPTS.has(key)) continue;
    throw new InvalidParameterError(
      driver === 'json-file'
        ? `unknown log opt '${key}' for json-file log driver`
        : `unknown log opt '${key}' for log driver local`,
    );
  }
  const size = opts['max-size'];
  const files = opts['max-file'];
  const compressText = opts['compress'];

  if (driver === 'json-file') {
    let maxSize = -1;
    if (size !== undefined && size !== '-1') {
      try {
        maxSize = fromHumanSize(size);
      } catch (err) {
        throw invalid(err);
      }
      if (maxSize <= 0) throw new InvalidParameterError('max-size must be a positive number');
    }
    let maxFiles = 1;
    if (files !== undefined) {
      try {
        maxFiles = atoi(files);
      } catch (err) {
        throw invalid(err);
      }
      if (maxFiles < 1) throw new InvalidParameterError('max-file cannot be less than 1');
    }
    let compress = false;
    if (compressText !== undefined) {
      try {
        compress = parseBool(compressText);
      } catch (err) {
        throw invalid(err);
      }
      if (compress && (maxFiles === 1 || maxSize === -1)) {
        throw new InvalidParameterError(
          'compress cannot be true when max-file is less than 2 or max-size is not set',
        );
      }
    }
    return { maxSize, maxFiles, compress };
  }

  let maxSize = 20 * 1024 * 1024;
  let maxFiles = 5;
  let compress = true;
  if (size !== undefined) {
    if (size === '-1') maxSize = -1;
    else {
      try {
        maxSize = fromHumanSize(size);
      } catch (err) {
        throw new InvalidParameterError(`invalid value for max-size: ${size}: ${errorMessage(err)}`, {
          cause: err,
        });
      }
    }
  }
  if (files !== undefined) {
    try {
      maxFiles = atoi(files);
    } catch (err) {
      throw new InvalidParameterError(`invalid value for max-file: ${files}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
  }
  if (compressText !== undefined) {
    try {
      compress = parseBool(compressText);
    } catch (err) {
      throw new InvalidParameterError(`invalid boolean value for compress: ${errorMessage(err)}`, {
        cause: err,
      });
    }
  }
  if (maxFiles < 0) throw new InvalidParameterError('max-file must not be negative');
  if (compress && maxFiles <= 1) {
    throw new InvalidParameterError('compression cannot be enabled when max file count is 1');
  }
  return { maxSize, maxFiles, compress };
}

// ---------------------------------------------------------------------------
// Rotation

export interface LogRotatorOptions {
  /** The live log conmon writes (`<bundle>/ctr.log`). */
  logPath: string;
  /** Bytes; -1 (or any negative) never rotates. */
  maxSize: number;
  /** Files kept, the live one included; below 2 the old content is dropped. */
  maxFiles: number;
  /** Makes conmon reopen its log (write `2 0 0\n` to the bundle's `ctl`), resolving once written. */
  reopen: () => Promise<void>;
}

function code(err: unknown): unknown {
  return (err as { code?: unknown } | null)?.code;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if (code(err) === 'ENOENT') return false;
    throw err;
  }
}

async function renameIfExists(from: string, to: string): Promise<boolean> {
  try {
    await rename(from, to);
    return true;
  } catch (err) {
    if (code(err) === 'ENOENT') return false;
    throw err;
  }
}

async function unlinkIfExists(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if (code(err) !== 'ENOENT') throw err;
  }
}

/**
 * Rotation for one container's log. Call `check()` periodically (and when
 * the container starts) while conmon runs; concurrent calls share one
 * rotation. Only while conmon runs: `reopen` needs it.
 */
export class LogRotator {
  readonly logPath: string;
  readonly maxSize: number;
  readonly maxFiles: number;
  private readonly reopen: () => Promise<void>;
  private inFlight: Promise<boolean> | undefined;

  constructor(options: LogRotatorOptions) {
    this.logPath = options.logPath;
    this.maxSize = options.maxSize;
    this.maxFiles = Math.max(1, Math.floor(options.maxFiles));
    this.reopen = options.reopen;
  }

  /** Rotates if the live log has reached maxSize. Resolves true if it rotated. */
  check(): Promise<boolean> {
    if (this.inFlight) return this.inFlight;
    const run = this.checkNow().finally(() => {
      this.inFlight = undefined;
    });
    this.inFlight = run;
    return run;
  }

  private async checkNow(): Promise<boolean> {
    if (this.maxSize < 0) return false;
    try {
      const st = await stat(this.logPath).catch((err: unknown) => {
        if (code(err) === 'ENOENT') return undefined;
        throw err;
      });
      if (!st || st.size === 0 || st.size < this.maxSize) return false;
      return this.maxFiles < 2 ? await this.truncate() : await this.rotate();
    } catch (err) {
      if (err instanceof SystemError) throw err;
      throw new SystemError(`rotating ${this.logPath}: ${errorMessage(err)}`, { cause: err });
    }
  }

  private async rotate(): Promise<boolean> {
    const path = this.logPath;
    await unlinkIfExists(`${path}.${this.maxFiles - 1}`);
    for (let i = this.maxFiles - 1; i >= 2; i--) await renameIfExists(`${path}.${i - 1}`, `${path}.${i}`);
    if (!(await renameIfExists(path, `${path}.1`))) return false;
    await this.reopenOrUndo(`${path}.1`);
    return true;
  }

  private async truncate(): Promise<boolean> {
    const path = this.logPath;
    const old = `${path}.rotated`;
    if (!(await renameIfExists(path, old))) return false;
    await this.reopenOrUndo(old);
    await unlinkIfExists(old);
    return true;
  }

  private async reopenOrUndo(renamed: string): Promise<void> {
    try {
      await this.reopen();
    } catch (err) {
      // conmon still writes to the renamed file; put it back where readers look, unless conmon made a new one.
      if (!(await exists(this.logPath))) await renameIfExists(renamed, this.logPath);
      throw new SystemError(`reopening ${this.logPath} after rotation: ${errorMessage(err)}`, { cause: err });
    }
  }
}
