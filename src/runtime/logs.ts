/**
 * Reading container logs that conmon writes with `-l k8s-file:<path>`.
 *
 * The file holds one record per line:
 *
 *     <RFC 3339 time with nanoseconds and a numeric offset> <stdout|stderr> <F|P> <raw bytes>\n
 *
 * `F` ends a line of output; `P` is a partial line (the output had no newline
 * there, and conmon added the `\n` that ends the record). So the bytes the
 * container wrote are an F record's content plus `\n`, or a P record's
 * content alone, and `readLogs` gives back exactly that.
 *
 * Rotation (see log-rotation.ts) renames `ctr.log` to `ctr.log.1` (shifting
 * older copies up) and makes conmon reopen `ctr.log`. Readers take the files
 * oldest first, the live `ctr.log` last.
 *
 * Docker semantics kept here (moby daemon/logger/loggerutils): `tail` picks
 * the last N lines over all files and both streams first; then `since` drops
 * records older than it up to the first one that is not (later records are
 * not filtered again, as timestamps need not be monotonic); a record newer
 * than `until` ends the read; and the stream selection is applied last.
 */
import { watch, type FSWatcher, type Stats } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

export type LogStream = 'stdout' | 'stderr';

/** One record of a k8s-file log. */
export interface LogEntry {
  /** Unix time in nanoseconds. */
  timeNano: bigint;
  stream: LogStream;
  /** A `P` record: the output had no newline here. */
  partial: boolean;
  /** The raw content, without the record's terminating newline. */
  content: Buffer;
}

/** What the container wrote, one record's worth. */
export interface LogMessage {
  timeNano: bigint;
  stream: LogStream;
  /** An F record's content plus `\n`, or a P record's content as is. */
  data: Buffer;
}

export interface ReadLogsOptions {
  stdout: boolean;
  stderr: boolean;
  /** Skip records older than this (Unix ns) — up to the first record that is not. */
  sinceNano?: bigint;
  /** End at the first record newer than this (Unix ns). */
  untilNano?: bigint;
  /** The last N lines only; -1 or undefined for all. */
  tail?: number;
  /** Keep reading what is appended, across rotations. */
  follow?: boolean;
  /** While following: once this is false and the log is drained, the read ends. Omitted: follow until aborted. */
  isRunning?: () => boolean;
  /** Ends the read (also wakes a follow that is waiting for more data). */
  signal?: AbortSignal;
  /** While following, how often to look for new data when no change notification arrives (ms). */
  pollMs?: number;
}

const NEWLINE = 0x0a;
const SPACE = 0x20;
const CHUNK = 64 * 1024;
const DEFAULT_POLL_MS = 250;
const EMPTY = Buffer.alloc(0);

// ---------------------------------------------------------------------------
// Time

const TIME_RE =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):?(\d{2}))$/;

/** Days from 1970-01-01 to the given proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * Parses RFC 3339 time with up to nine fraction digits and a `Z` or numeric
 * offset (`+02:00`, `+0200`) into Unix nanoseconds, exactly. Undefined if
 * malformed or out of range.
 */
export function parseRfc3339Nano(text: string): bigint | undefined {
  const m = TIME_RE.exec(text);
  if (!m) return undefined;
  const [, ys, mos, ds, hs, mis, ss, frac = '', z, sign, oh = '0', om = '0'] = m;
  const year = Number(ys);
  const month = Number(mos);
  const day = Number(ds);
  const hour = Number(hs);
  const minute = Number(mis);
  const second = Number(ss);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetSeconds = 0;
  if (z === undefined) {
    const offH = Number(oh);
    const offM = Number(om);
    if (offH > 23 || offM > 59) return undefined;
    offsetSeconds = (sign === '-' ? -1 : 1) * (offH * 3600 + offM * 60);
  }
  const seconds =
    daysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offsetSeconds;
  return BigInt(seconds) * 1_000_000_000n + BigInt(frac.padEnd(9, '0'));
}

/**
 * Formats Unix nanoseconds as Docker prefixes log lines with `timestamps=1`:
 * UTC, nine fraction digits always (`2024-01-01T00:00:00.123456789Z`).
 */
export function formatLogTimestamp(timeNano: bigint): string {
  let seconds = timeNano / 1_000_000_000n;
  let nanos = timeNano % 1_000_000_000n;
  if (nanos < 0n) {
    nanos += 1_000_000_000n;
    seconds -= 1n;
  }
  const iso = new Date(Number(seconds) * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z
  return `${iso.slice(0, 19)}.${nanos.toString().padStart(9, '0')}Z`;
}

// ---------------------------------------------------------------------------
// Records

interface ParsedLine {
  timeNano: bigint;
  stream: LogStream;
  partial: boolean;
  contentStart: number;
  /** Exclusive, before the terminating newline if there is one. */
  contentEnd: number;
}

function parseLine(buf: Buffer): ParsedLine | undefined {
  let end = buf.length;
  if (end > 0 && buf[end - 1] === NEWLINE) end--;
  const s1 = buf.indexOf(SPACE);
  if (s1 <= 0 || s1 >= end) return undefined;
  const timeNano = parseRfc3339Nano(buf.toString('latin1', 0, s1));
  if (timeNano === undefined) return undefined;
  const s2 = buf.indexOf(SPACE, s1 + 1);
  if (s2 < 0 || s2 >= end) return undefined;
  const stream = buf.toString('latin1', s1 + 1, s2);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const s3 = buf.indexOf(SPACE, s2 + 1);
  const tagEnd = s3 < 0 || s3 > end ? end : s3;
  // CRI allows further ':'-separated tags after the first; only P and F mean anything.
  const tag = buf.toString('latin1', s2 + 1, tagEnd).split(':')[0];
  if (tag !== 'F' && tag !== 'P') return undefined;
  const contentStart = tagEnd === end ? end : tagEnd + 1;
  return { timeNano, stream, partial: tag === 'P', contentStart, contentEnd: end };
}

/**
 * Parses one k8s-file record (with or without its trailing newline).
 * Malformed records give undefined. For a Buffer, `content` shares its memory.
 */
export function parseK8sLogLine(line: Buffer | string): LogEntry | undefined {
  const buf = typeof line === 'string' ? Buffer.from(line) : line;
  const p = parseLine(buf);
  if (!p) return undefined;
  return {
    timeNano: p.timeNano,
    stream: p.stream,
    partial: p.partial,
    content: buf.subarray(p.contentStart, p.contentEnd),
  };
}

/** The message a record stands for; `line` includes its newline. */
function toMessage(line: Buffer, p: ParsedLine): LogMessage {
  // An F record's content is followed by the newline the container wrote.
  const data = p.partial ? line.subarray(p.contentStart, p.contentEnd) : line.subarray(p.contentStart);
  return { timeNano: p.timeNano, stream: p.stream, data };
}

// ---------------------------------------------------------------------------
// Files

interface FileId {
  dev: number;
  ino: number;
}

function sameFile(st: Stats, id: FileId): boolean {
  return st.dev === id.dev && st.ino === id.ino;
}

function isNotFound(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'ENOENT';
}

async function statIfExists(path: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

interface OpenedFile {
  fh: FileHandle;
  id: FileId;
  /** Size when opened. */
  size: number;
}

async function openIfExists(path: string): Promise<OpenedFile | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  try {
    const st = await fh.stat();
    return { fh, id: { dev: st.dev, ino: st.ino }, size: st.size };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/**
 * The log files of a container whose live log is `logPath`, oldest first:
 * the rotated copies that exist (`<logPath>.<maxFiles-1>` … `<logPath>.1`),
 * then `logPath` itself, which is always listed (it may not exist yet, or be
 * between rotation and reopen).
 */
export async function logFiles(logPath: string, maxFiles: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = Math.max(1, Math.floor(maxFiles)) - 1; i >= 1; i--) {
    const path = `${logPath}.${i}`;
    if (await statIfExists(path)) out.push(path);
  }
  out.push(logPath);
  return out;
}

/** Reads a file forwards from a position, handing out complete lines (each with its newline). */
class LineReader {
  readonly fh: FileHandle;
  readonly id: FileId;
  pos: number;
  private rest: Buffer = EMPTY;
  private readonly scratch = Buffer.allocUnsafe(CHUNK);

  constructor(file: OpenedFile, pos: number) {
    this.fh = file.fh;
    this.id = file.id;
    this.pos = pos;
  }

  /** Restarts at 0, for a file truncated in place. */
  reset(): void {
    this.pos = 0;
    this.rest = EMPTY;
  }

  /**
   * Reads one chunk (not past `limit` if given) and returns the lines it
   * completes, or undefined at the end. Lines do not share memory with
   * anything that is reused.
   */
  async next(limit?: number): Promise<Buffer[] | undefined> {
    for (;;) {
      const want = limit === undefined ? CHUNK : Math.min(CHUNK, limit - this.pos);
      if (want <= 0) return undefined;
      const { bytesRead } = await this.fh.read(this.scratch, 0, want, this.pos);
      if (bytesRead === 0) return undefined;
      this.pos += bytesRead;
      const chunk = Buffer.from(this.scratch.subarray(0, bytesRead));
      const data = this.rest.length > 0 ? Buffer.concat([this.rest, chunk]) : chunk;
      const lines: Buffer[] = [];
      let start = 0;
      for (let nl = data.indexOf(NEWLINE); nl >= 0; nl = data.indexOf(NEWLINE, start)) {
        lines.push(data.subarray(start, nl + 1));
        start = nl + 1;
      }
      this.rest = start < data.length ? data.subarray(start) : EMPTY;
      if (lines.length > 0) return lines;
    }
  }
}

/**
 * The complete lines of `fh[0, end)` from the last to the first, read
 * backwards in blocks. Bytes after the last newline (a record still being
 * written) are skipped. `start` is the offset of the line in the file.
 */
async function* linesBackward(
  fh: FileHandle,
  end: number,
): AsyncGenerator<{ start: number; line: Buffer }, void, undefined> {
  let pos = end;
  let carry = EMPTY;
  let started = false;
  while (pos > 0) {
    const n = Math.min(CHUNK, pos);
    pos -= n;
    const block = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const { bytesRead } = await fh.read(block, got, n - got, pos + got);
      if (bytesRead === 0) throw new Error('log file shrank while reading');
      got += bytesRead;
    }
    const buf = carry.length > 0 ? Buffer.concat([block, carry]) : block;
    let j = buf.length;
    if (!started) {
      const last = buf.lastIndexOf(NEWLINE);
      if (last < 0) {
        carry = EMPTY;
        continue;
      }
      started = true;
      j = last + 1;
    }
    // buf[0, j) ends with a newline; lines after j have been handed out.
    for (;;) {
      const k = j >= 2 ? buf.lastIndexOf(NEWLINE, j - 2) : -1;
      if (k < 0) {
        carry = buf.subarray(0, j);
        break;
      }
      yield { start: pos + k + 1, line: buf.subarray(k + 1, j) };
      j = k + 1;
    }
  }
  if (carry.length > 0) yield { start: 0, line: carry };
}

interface Position {
  index: number;
  offset: number;
}

/**
 * Where reading starts so as to give the last `tail` lines. A line is a run
 * of P records ended by an F record; trailing P records with no F after them
 * count as one (unfinished) line.
 */
async function tailStart(files: readonly (OpenedFile | undefined)[], tail: number): Promise<Position> {
  if (tail < 0) return { index: 0, offset: 0 };
  let lines = 0;
  let sawAny = false;
  for (let index = files.length - 1; index >= 0; index--) {
    const file = files[index];
    if (!file) continue;
    for await (const { start, line } of linesBackward(file.fh, file.size)) {
      if (tail === 0) return { index, offset: start + line.length };
      const p = parseLine(line);
      if (!p) continue;
      if (!sawAny) {
        sawAny = true;
        if (p.partial) lines = 1;
      }
      if (p.partial) continue;
      if (lines >= tail) return { index, offset: start + line.length };
      lines++;
    }
  }
  return { index: 0, offset: 0 };
}

// ---------------------------------------------------------------------------
// Filtering and following

type Verdict = 'emit' | 'skip' | 'stop';

class Filter {
  private since: bigint | undefined;
  private readonly until: bigint | undefined;
  private readonly stdout: boolean;
  private readonly stderr: boolean;

  constructor(options: ReadLogsOptions) {
    this.since = options.sinceNano;
    this.until = options.untilNano;
    this.stdout = options.stdout;
    this.stderr = options.stderr;
  }

  verdict(p: ParsedLine): Verdict {
    if (this.since !== undefined) {
      if (p.timeNano < this.since) return 'skip';
      this.since = undefined;
    }
    if (this.until !== undefined && p.timeNano > this.until) return 'stop';
    return (p.stream === 'stdout' ? this.stdout : this.stderr) ? 'emit' : 'skip';
  }

  /** Nothing written from now on can be within `until`. */
  untilPassed(): boolean {
    return this.until !== undefined && BigInt(Date.now()) * 1_000_000n > this.until;
  }
}

/** Wakes a waiting follower on any change in the log's directory, or after a timeout. */
class ChangeNotifier {
  private watcher: FSWatcher | undefined;
  private dirty = false;
  private wake: (() => void) | undefined;

  constructor(dir: string) {
    try {
      this.watcher = watch(dir, { persistent: false }, () => this.poke());
      this.watcher.on('error', () => this.stopWatching());
    } catch {
      this.watcher = undefined; // polling only
    }
  }

  private poke(): void {
    this.dirty = true;
    this.wake?.();
  }

  private stopWatching(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
    if (this.dirty || signal?.aborted) {
      this.dirty = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.wake = undefined;
        this.dirty = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  close(): void {
    this.wake?.();
    this.stopWatching();
  }
}

/**
 * The file that was rotated in right after `id`: if `id` is now
 * `<live>.<k>`, that is `<live>.<k-1>` (or `<live>` for k = 1). If `id` is
 * gone from the rotated names (deleted, or max-file 1), the live path.
 */
async function successor(livePath: string, id: FileId): Promise<string> {
  for (let k = 1; k < 10_000; k++) {
    const st = await statIfExists(`${livePath}.${k}`);
    if (!st) break;
    if (sameFile(st, id)) return k === 1 ? livePath : `${livePath}.${k - 1}`;
  }
  return livePath;
}

/** Hands out the filtered messages of the lines `reader` gives; returns false once the read must end. */
async function* drain(
  reader: LineReader,
  filter: Filter,
  signal: AbortSignal | undefined,
  limit?: number,
): AsyncGenerator<LogMessage, boolean, undefined> {
  for (let lines = await reader.next(limit); lines; lines = await reader.next(limit)) {
    for (const line of lines) {
      if (signal?.aborted) return false;
      const p = parseLine(line);
      if (!p) continue;
      const v = filter.verdict(p);
      if (v === 'stop') return false;
      if (v === 'emit') yield toMessage(line, p);
    }
  }
  return true;
}

/**
 * Reads a container's log: replays the files (oldest first; the last one is
 * the live log) after applying `tail`, then, with `follow`, goes on with
 * what is appended to the live log.
 *
 * Following copes with rotation: once another file is at the live path, the
 * file being read is complete (conmon closes it before the new one appears),
 * so it is read to its end and reading goes on with the file rotated in
 * after it, from offset 0. Between the rename and conmon's reopen the path
 * may be missing; the old file is followed meanwhile. A follower that falls
 * behind by more rotations than there are rotated copies loses the copies
 * already deleted.
 *
 * The read ends when: the replay is done and `follow` is off; a record newer
 * than `untilNano` is met, or (following) the clock has passed `untilNano`
 * with the log drained; `isRunning()` is false and the log is drained; or
 * `signal` aborts. Breaking out of a `for await` also ends it, but only once
 * the generator next runs: abort the signal to end a follow that is waiting.
 */
export async function* readLogs(
  files: readonly string[],
  options: ReadLogsOptions,
): AsyncGenerator<LogMessage, void, undefined> {
  const { signal } = options;
  const livePath = files[files.length - 1];
  if (livePath === undefined || signal?.aborted) return;
  const follow = options.follow === true;
  const filter = new Filter(options);
  const handles = new Set<FileHandle>();
  const track = (file: OpenedFile | undefined, pos = 0): LineReader | undefined => {
    if (!file) return undefined;
    handles.add(file.fh);
    return new LineReader(file, pos);
  };
  const release = async (reader: LineReader): Promise<void> => {
    if (handles.delete(reader.fh)) await reader.fh.close();
  };

  try {
    const opened: (OpenedFile | undefined)[] = [];
    for (const path of files) {
      const file = await openIfExists(path);
      if (file) handles.add(file.fh);
      opened.push(file);
    }

    const start = await tailStart(opened, options.tail ?? -1);
    for (const file of opened.slice(0, start.index)) {
      if (file && handles.delete(file.fh)) await file.fh.close();
    }

    let current: LineReader | undefined;
    for (let index = start.index; index < opened.length; index++) {
      const file = opened[index];
      if (!file) continue;
      const isLive = index === opened.length - 1;
      const reader = new LineReader(file, index === start.index ? start.offset : 0);
      if (!(yield* drain(reader, filter, signal, isLive && !follow ? file.size : undefined))) return;
      if (isLive) current = reader;
      else await release(reader);
    }

    if (!follow || filter.untilPassed()) return;

    const notifier = new ChangeNotifier(dirname(livePath));
    try {
      for (;;) {
        if (signal?.aborted) return;
        // Decided before draining, so that what was written before the container stopped is read.
        const running = options.isRunning ? options.isRunning() : true;
        if (current && !(yield* drain(current, filter, signal))) return;
        const st = await statIfExists(livePath);
        if (current === undefined) {
          if (st) {
            current = track(await openIfExists(livePath));
            if (current) continue;
          }
        } else if (st && !sameFile(st, current.id)) {
          // Rotated: what was written before the switch is in the old file. Finish it, then go on.
          if (!(yield* drain(current, filter, signal))) return;
          const next = await successor(livePath, current.id);
          await release(current);
          current = track(await openIfExists(next));
          continue;
        } else if (st && st.size < current.pos) {
          current.reset(); // truncated in place
          continue;
        }
        if (!running || filter.untilPassed()) return;
        await notifier.wait(options.pollMs ?? DEFAULT_POLL_MS, signal);
      }
    } finally {
      notifier.close();
    }
  } finally {
    await Promise.allSettled([...handles].map((fh) => fh.close()));
  }
}
