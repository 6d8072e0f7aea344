/**
 * The durable event journal.
 *
 * Docker keeps only its last 256 events in memory and loses them on restart.
 * berth appends every event to an on-disk journal so that
 * `GET /events?since=...` reaches back across daemon restarts, bounded by
 * age (`maxAgeMs`) and total size (`maxBytes`).
 *
 * On-disk layout
 * --------------
 * One directory (`opts.dir`, created 0700) of segment files, oldest first by
 * sequence number:
 *
 *     <dir>/
 *       0000000000000001-1540182459729138259-1540182466002338021.jsonl   sealed
 *       0000000000004711-1540182466002339000-1540182512000000000.jsonl   sealed
 *       0000000000009342-1540182512000000118.jsonl                       active
 *
 * - Active segment:  `<firstSeq>-<firstTimeNano>.jsonl`
 * - Sealed segment:  `<firstSeq>-<minTimeNano>-<maxTimeNano>.jsonl`
 *
 * `firstSeq` is the seq of the segment's first event, zero-padded to 16
 * digits (2^53 has 16), so `ls` lists segments in order. Times are Unix
 * nanoseconds in decimal. Only the newest segment is ever written. When
 * appending an event would take it past `segmentBytes`, it is fdatasync'ed
 * and renamed to its sealed name, which records the exact time range of its
 * events; a new active segment is then created for the event. Readers use the
 * names to open only segments that can hold events in the requested seq/time
 * range (the active segment's range is tracked in memory; it is scanned on
 * open). Recording min and max, rather than trusting the next segment's first
 * time, keeps range reads correct when the wall clock steps backwards.
 *
 * Each file holds one JSON object per line, each line terminated by `\n`:
 *
 *     {"seq":1,"timeNano":"1540182459729138259","Type":"container","Action":"start",
 *      "Actor":{"ID":"…","Attributes":{"name":"web"}},"scope":"local"}
 *
 * `timeNano` is a decimal string so that the bigint round-trips exactly. seq
 * increases strictly across lines and files. Files in the directory whose
 * names do not match the two patterns above are ignored.
 *
 * Durability: each append is one `write(2)` of one complete line to a file
 * descriptor opened O_APPEND, with no fsync, so a `kill -9` loses at most the
 * event being written and a power loss loses what the page cache had not yet
 * written back. Segments are fdatasync'ed on rotation and on close.
 *
 * Recovery on open: a torn tail of the newest segment (bytes after the last
 * newline, or trailing lines that do not parse, e.g. a half-written line or
 * the NUL blocks a filesystem can leave after a power loss) is cut off with
 * ftruncate at the end of the last good line, and appending continues there.
 * An unparseable line elsewhere is skipped by readers and counted in
 * `corruptLines`. Unsealed segments that are not the newest (a crash in the
 * middle of a rotation) are scanned and sealed.
 *
 * Retention: `prune()` deletes whole segments, oldest first, while the oldest
 * is entirely older than `maxAgeMs` or the journal exceeds `maxBytes`. The
 * newest segment is never deleted (so `lastSeq` survives restarts). It runs on
 * open and on each rotation; a long-running daemon should also call it
 * periodically, since age alone does not cause a rotation.
 */
import {
  close as fsClose,
  closeSync,
  fdatasync,
  fdatasyncSync,
  ftruncateSync,
  openSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDir, fsyncDirSync, isErrno } from '../../storage/atomic.js';
import { EVENT_TYPES } from './types.js';
import type { EngineEvent, EventActor, EventType } from './types.js';

export interface JournalOptions {
  /** Directory holding the segment files; created if missing. */
  dir: string;
  /** Segments whose newest event is older than this are pruned. `Infinity` disables age retention. */
  maxAgeMs: number;
  /** Prune oldest segments while the journal is larger than this. `Infinity` disables size retention. */
  maxBytes: number;
  /** Rotate when the active segment would exceed this. Default 4 MiB, clamped to at most `maxBytes / 4`. */
  segmentBytes?: number;
  /** Clock for retention, in Unix nanoseconds. Defaults to the wall clock. */
  now?: () => bigint;
}

export interface JournalReadOptions {
  /** Only events with `timeNano >= sinceNano`. */
  sinceNano?: bigint;
  /** Only events with `timeNano <= untilNano`. */
  untilNano?: bigint;
  /** Only events with `seq > afterSeq`. */
  afterSeq?: number;
}

/** A segment as reported by {@link EventJournal.segments}. */
export interface JournalSegmentInfo {
  name: string;
  firstSeq: number;
  minTimeNano: bigint;
  maxTimeNano: bigint;
  bytes: number;
  active: boolean;
}

export const DEFAULT_SEGMENT_BYTES = 4 * 1024 * 1024;

const SEQ_DIGITS = 16;
const SEGMENT_RE = /^(\d{16})-(\d{1,20})(?:-(\d{1,20}))?\.jsonl$/;
const TIME_RE = /^\d{1,20}$/;
const NEWLINE = 0x0a;
const READ_CHUNK = 64 * 1024;
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

interface Segment {
  /** Current file name; changes once, when the segment is sealed. */
  name: string;
  firstSeq: number;
  sealed: boolean;
  bytes: number;
  minTime: bigint;
  maxTime: bigint;
  /** Set when prune deleted the file, so readers holding it skip it. */
  removed: boolean;
}

interface ScanResult {
  /** Byte offset just past the newline of the last valid line (0 if none). */
  goodEnd: number;
  count: number;
  lastSeq: number;
  minTime: bigint;
  maxTime: bigint;
  /** Byte offsets of unparseable lines before `goodEnd`. */
  corruptOffsets: number[];
}

/** An append-only, segmented, size- and age-bounded event log. */
export class EventJournal {
  readonly dir: string;
  #maxAgeMs: number;
  #maxBytes: number;
  readonly segmentBytes: number;
  readonly #now: () => bigint;
  /** Ordered by firstSeq; the last one is the active segment when it is not sealed. */
  #segments: Segment[] = [];
  #fd: number | undefined;
  #totalBytes = 0;
  #lastSeq = 0;
  #hasEvents = false;
  #closed = false;
  #truncatedBytes = 0;
  readonly #corrupt = new Set<string>();

  private constructor(opts: JournalOptions) {
    if (!(opts.maxBytes > 0)) throw new RangeError(`journal: maxBytes must be > 0, got ${opts.maxBytes}`);
    if (!(opts.maxAgeMs >= 0)) throw new RangeError(`journal: maxAgeMs must be >= 0, got ${opts.maxAgeMs}`);
    const seg = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    if (!(seg > 0)) throw new RangeError(`journal: segmentBytes must be > 0, got ${seg}`);
    this.dir = opts.dir;
    this.#maxAgeMs = opts.maxAgeMs;
    this.#maxBytes = opts.maxBytes;
    this.segmentBytes = Math.max(1, Math.floor(Math.min(seg, opts.maxBytes / 4)));
    this.#now = opts.now ?? (() => BigInt(Date.now()) * 1_000_000n);
  }

  get maxAgeMs(): number {
    return this.#maxAgeMs;
  }

  get maxBytes(): number {
    return this.#maxBytes;
  }

  /** Changes the retention limits (a config reload); they apply from the next prune. */
  setRetention(maxAgeMs: number, maxBytes: number): void {
    if (!(maxBytes > 0)) throw new RangeError(`journal: maxBytes must be > 0, got ${maxBytes}`);
    if (!(maxAgeMs >= 0)) throw new RangeError(`journal: maxAgeMs must be >= 0, got ${maxAgeMs}`);
    this.#maxAgeMs = maxAgeMs;
    this.#maxBytes = maxBytes;
  }

  /** Open (creating if needed) the journal in `opts.dir`, recover from a crash, and prune. */
  static async open(opts: JournalOptions): Promise<EventJournal> {
    const j = new EventJournal(opts);
    await mkdir(j.dir, { recursive: true, mode: DIR_MODE });
    await j.#recover();
    j.prune();
    return j;
  }

  /** Highest seq in the journal: found on disk at open, then advanced by `append`. 0 when empty. */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** Distinct unparseable lines met so far (on open and by readers); for logging. */
  get corruptLines(): number {
    return this.#corrupt.size;
  }

  /** Bytes of torn tail cut off the newest segment at open; for logging. */
  get truncatedBytes(): number {
    return this.#truncatedBytes;
  }

  /** Total size of all segment files. */
  get sizeBytes(): number {
    return this.#totalBytes;
  }

  /** The current segments, oldest first. */
  segments(): JournalSegmentInfo[] {
    return this.#segments.map((s) => ({
      name: s.name,
      firstSeq: s.firstSeq,
      minTimeNano: s.minTime,
      maxTimeNano: s.maxTime,
      bytes: s.bytes,
      active: !s.sealed,
    }));
  }

  /**
   * Append one event. Synchronous: one write of one complete line. `ev.seq`
   * must be greater than `lastSeq`. Throws on I/O errors (e.g. ENOSPC) after
   * cutting any partially written line back off, so the journal stays valid.
   */
  append(ev: EngineEvent): void {
    if (this.#closed) throw new Error('journal: append after close');
    if (!Number.isSafeInteger(ev.seq) || ev.seq < 0) throw new RangeError(`journal: invalid seq ${ev.seq}`);
    if (this.#hasEvents && ev.seq <= this.#lastSeq) {
      throw new RangeError(`journal: seq ${ev.seq} is not after lastSeq ${this.#lastSeq}`);
    }
    if (typeof ev.timeNano !== 'bigint' || ev.timeNano < 0n) {
      throw new RangeError(`journal: invalid timeNano ${String(ev.timeNano)}`);
    }
    const buf = Buffer.from(encodeEvent(ev) + '\n', 'utf8');
    const active = this.#active();
    if (active !== undefined && this.#fd !== undefined && active.bytes + buf.length <= this.segmentBytes) {
      this.#write(active, this.#fd, buf);
      this.#appended(active, ev);
      return;
    }
    if (active !== undefined) this.#seal(active);
    const seg = this.#createSegment(ev, buf);
    this.#appended(seg, ev);
    try {
      this.prune();
    } catch {
      // The event is written; a failing unlink must not make append look failed.
      // The caller's periodic prune() reports the error.
    }
  }

  #appended(seg: Segment, ev: EngineEvent): void {
    if (ev.timeNano < seg.minTime) seg.minTime = ev.timeNano;
    if (ev.timeNano > seg.maxTime) seg.maxTime = ev.timeNano;
    this.#lastSeq = ev.seq;
    this.#hasEvents = true;
  }

  /**
   * Events with `sinceNano <= timeNano <= untilNano` and `seq > afterSeq`, in
   * seq order. The upper seq bound is fixed when `read` is called: events
   * appended later are not yielded (subscribe to the live bus first, then read
   * the journal, and de-duplicate by seq). Only segments that can overlap the
   * range are opened; segments pruned meanwhile are skipped.
   */
  read(opts: JournalReadOptions = {}): AsyncIterable<EngineEvent> {
    const maxSeq = this.#hasEvents ? this.#lastSeq : -1;
    const afterSeq = opts.afterSeq ?? -1;
    const { sinceNano, untilNano } = opts;
    const plan: Segment[] = [];
    const segs = this.#segments;
    for (let i = 0; i < segs.length; i++) {
      const s = segs[i];
      if (s.firstSeq > maxSeq) break;
      const next = segs[i + 1];
      const hiSeq = next === undefined ? maxSeq : next.firstSeq - 1;
      if (hiSeq <= afterSeq) continue;
      if (sinceNano !== undefined && s.maxTime < sinceNano) continue;
      if (untilNano !== undefined && s.minTime > untilNano) continue;
      plan.push(s);
    }
    return this.#readSegments(plan, { maxSeq, afterSeq, sinceNano, untilNano });
  }

  /**
   * Delete whole segments, oldest first, while the oldest is entirely older
   * than `maxAgeMs` or the journal is larger than `maxBytes`. Never deletes the
   * newest segment.
   */
  prune(): void {
    const cutoff = Number.isFinite(this.maxAgeMs)
      ? this.#now() - BigInt(Math.floor(this.maxAgeMs)) * 1_000_000n
      : undefined;
    while (this.#segments.length > 1) {
      const oldest = this.#segments[0];
      const tooOld = cutoff !== undefined && oldest.maxTime < cutoff;
      const tooBig = this.#totalBytes > this.maxBytes;
      if (!tooOld && !tooBig) break;
      try {
        unlinkSync(join(this.dir, oldest.name));
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
      }
      oldest.removed = true;
      this.#totalBytes -= oldest.bytes;
      this.#segments.shift();
    }
  }

  /** fdatasync and close the active segment. Further appends throw; reads still work. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const fd = this.#fd;
    this.#fd = undefined;
    if (fd === undefined) return;
    try {
      await new Promise<void>((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
    } finally {
      await new Promise<void>((resolve, reject) => fsClose(fd, (err) => (err ? reject(err) : resolve())));
    }
  }

  #active(): Segment | undefined {
    const last = this.#segments.at(-1);
    return last !== undefined && !last.sealed ? last : undefined;
  }

  #write(seg: Segment, fd: number, buf: Buffer): void {
    let written: number;
    try {
      written = writeSync(fd, buf, 0, buf.length);
    } catch (err) {
      this.#rollback(fd, seg.bytes);
      throw err;
    }
    if (written !== buf.length) {
      this.#rollback(fd, seg.bytes);
      throw new Error(`journal: short write to ${seg.name} (${written} of ${buf.length} bytes)`);
    }
    seg.bytes += written;
    this.#totalBytes += written;
  }

  /** Cut a partially written line back off so the next append starts on a line boundary. */
  #rollback(fd: number, size: number): void {
    try {
      ftruncateSync(fd, size);
    } catch {
      // Nothing more to do: recovery on the next open treats it as a torn or corrupt line.
    }
  }

  /** fdatasync the active segment, close it and rename it to its sealed name. */
  #seal(seg: Segment): void {
    const fd = this.#fd;
    this.#fd = undefined;
    if (fd !== undefined) {
      try {
        fdatasyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    const sealedName = segmentName(seg.firstSeq, seg.minTime, seg.maxTime);
    renameSync(join(this.dir, seg.name), join(this.dir, sealedName));
    seg.name = sealedName;
    seg.sealed = true;
  }

  #createSegment(ev: EngineEvent, buf: Buffer): Segment {
    const name = segmentName(ev.seq, ev.timeNano);
    const path = join(this.dir, name);
    const fd = openSync(path, 'ax', FILE_MODE);
    const seg: Segment = {
      name,
      firstSeq: ev.seq,
      sealed: false,
      bytes: 0,
      minTime: ev.timeNano,
      maxTime: ev.timeNano,
      removed: false,
    };
    try {
      this.#write(seg, fd, buf);
    } catch (err) {
      closeSync(fd);
      try {
        unlinkSync(path);
      } catch {
        // An empty or torn file is dropped by recovery on the next open.
      }
      throw err;
    }
    this.#segments.push(seg);
    this.#fd = fd;
    // Makes both the new segment and the previous one's rename durable.
    fsyncDirSync(this.dir);
    return seg;
  }

  async #recover(): Promise<void> {
    const found = new Map<number, Segment>();
    for (const name of await readdir(this.dir)) {
      const m = SEGMENT_RE.exec(name);
      if (m === null) continue;
      const firstSeq = Number(m[1]);
      if (!Number.isSafeInteger(firstSeq)) continue;
      const sealed = m[3] !== undefined;
      const seg: Segment = {
        name,
        firstSeq,
        sealed,
        bytes: 0,
        minTime: BigInt(m[2]),
        maxTime: BigInt(m[3] ?? m[2]),
        removed: false,
      };
      // Two files for one seq cannot come from this code; prefer the sealed one.
      const prev = found.get(firstSeq);
      if (prev === undefined || (!prev.sealed && sealed)) found.set(firstSeq, seg);
    }
    const segs = [...found.values()].sort((a, b) => a.firstSeq - b.firstSeq);

    // The newest segment: cut a torn tail, learn lastSeq and its time range.
    while (segs.length > 0) {
      const seg = segs.at(-1)!;
      const path = join(this.dir, seg.name);
      const buf = await readFile(path);
      const scan = scanSegment(buf);
      if (scan.count === 0) {
        // Nothing valid in it (e.g. the only line was torn): it holds no events.
        await unlink(path);
        segs.pop();
        continue;
      }
      this.#noteCorrupt(seg, scan.corruptOffsets);
      seg.bytes = buf.length;
      if (!seg.sealed) {
        if (scan.goodEnd < buf.length) {
          const fh = await open(path, 'r+');
          try {
            await fh.truncate(scan.goodEnd);
            await fh.datasync();
          } finally {
            await fh.close();
          }
          this.#truncatedBytes += buf.length - scan.goodEnd;
          seg.bytes = scan.goodEnd;
        }
        seg.minTime = scan.minTime;
        seg.maxTime = scan.maxTime;
      }
      this.#lastSeq = scan.lastSeq;
      this.#hasEvents = true;
      break;
    }

    // Older segments: seal any left unsealed by a crash mid-rotation; size the rest.
    let renamed = false;
    const kept: Segment[] = [];
    for (const seg of segs.slice(0, -1)) {
      const path = join(this.dir, seg.name);
      if (seg.sealed) {
        seg.bytes = (await stat(path)).size;
        kept.push(seg);
        continue;
      }
      const buf = await readFile(path);
      const scan = scanSegment(buf);
      if (scan.count === 0) {
        await unlink(path);
        continue;
      }
      this.#noteCorrupt(seg, scan.corruptOffsets);
      seg.bytes = buf.length;
      seg.minTime = scan.minTime;
      seg.maxTime = scan.maxTime;
      const sealedName = segmentName(seg.firstSeq, seg.minTime, seg.maxTime);
      await rename(path, join(this.dir, sealedName));
      seg.name = sealedName;
      seg.sealed = true;
      renamed = true;
      kept.push(seg);
    }
    const newest = segs.at(-1);
    if (newest !== undefined) kept.push(newest);
    if (renamed) await fsyncDir(this.dir);

    this.#segments = kept;
    this.#totalBytes = kept.reduce((n, s) => n + s.bytes, 0);
    if (newest !== undefined && !newest.sealed) {
      this.#fd = openSync(join(this.dir, newest.name), 'a', FILE_MODE);
    }
  }

  #noteCorrupt(seg: Segment, offsets: readonly number[]): void {
    for (const off of offsets) this.#corrupt.add(`${seg.firstSeq}:${off}`);
  }

  async *#readSegments(
    plan: readonly Segment[],
    range: { maxSeq: number; afterSeq: number; sinceNano: bigint | undefined; untilNano: bigint | undefined },
  ): AsyncGenerator<EngineEvent, void, undefined> {
    let lastYielded = range.afterSeq;
    for (const seg of plan) {
      const fh = await this.#openSegment(seg);
      if (fh === undefined) continue;
      try {
        for await (const { line, offset } of readLines(fh)) {
          const ev = decodeEvent(line);
          if (ev === undefined) {
            this.#corrupt.add(`${seg.firstSeq}:${offset}`);
            continue;
          }
          if (ev.seq > range.maxSeq) return;
          if (ev.seq <= lastYielded) continue;
          if (range.sinceNano !== undefined && ev.timeNano < range.sinceNano) continue;
          if (range.untilNano !== undefined && ev.timeNano > range.untilNano) continue;
          lastYielded = ev.seq;
          yield ev;
        }
      } finally {
        await fh.close();
      }
    }
  }

  /** Open a segment for reading, following a concurrent seal (rename); undefined if it is gone. */
  async #openSegment(seg: Segment): Promise<FileHandle | undefined> {
    for (;;) {
      const name = seg.name;
      if (seg.removed) return undefined;
      try {
        return await open(join(this.dir, name), 'r');
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
        // Renamed while we were opening it: retry with the new name. Otherwise it was deleted.
        if (seg.removed || seg.name === name) return undefined;
      }
    }
  }
}

function segmentName(firstSeq: number, minTime: bigint, maxTime?: bigint): string {
  const seq = String(firstSeq).padStart(SEQ_DIGITS, '0');
  return maxTime === undefined ? `${seq}-${minTime}.jsonl` : `${seq}-${minTime}-${maxTime}.jsonl`;
}

/** Serialize in a fixed key order, timeNano as a decimal string. Extra properties are not stored. */
export function encodeEvent(ev: EngineEvent): string {
  return JSON.stringify({
    seq: ev.seq,
    timeNano: ev.timeNano.toString(),
    Type: ev.Type,
    Action: ev.Action,
    Actor: { ID: ev.Actor.ID, Attributes: ev.Actor.Attributes },
    scope: ev.scope,
  });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isEventType(v: unknown): v is EventType {
  return typeof v === 'string' && (EVENT_TYPES as readonly string[]).includes(v);
}

function decodeActor(v: unknown): EventActor | undefined {
  if (!isRecord(v) || typeof v.ID !== 'string' || !isRecord(v.Attributes)) return undefined;
  const attrs: Record<string, string> = {};
  for (const [k, val] of Object.entries(v.Attributes)) {
    if (typeof val !== 'string') return undefined;
    attrs[k] = val;
  }
  return { ID: v.ID, Attributes: attrs };
}

/** Parse one journal line (without its newline); undefined if it is not a valid event. */
export function decodeEvent(line: string): EngineEvent | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!isRecord(v)) return undefined;
  const { seq, timeNano, Type, Action, scope } = v;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return undefined;
  if (typeof timeNano !== 'string' || !TIME_RE.test(timeNano)) return undefined;
  if (!isEventType(Type) || typeof Action !== 'string') return undefined;
  if (scope !== 'local' && scope !== 'swarm') return undefined;
  const Actor = decodeActor(v.Actor);
  if (Actor === undefined) return undefined;
  return { seq, Type, Action, Actor, scope, timeNano: BigInt(timeNano) };
}

/** Validate a whole segment's content; see {@link ScanResult}. */
function scanSegment(buf: Buffer): ScanResult {
  const res: ScanResult = { goodEnd: 0, count: 0, lastSeq: 0, minTime: 0n, maxTime: 0n, corruptOffsets: [] };
  const bad: number[] = [];
  let start = 0;
  for (;;) {
    const nl = buf.indexOf(NEWLINE, start);
    if (nl < 0) break;
    const ev = decodeEvent(buf.toString('utf8', start, nl));
    if (ev === undefined) {
      bad.push(start);
    } else {
      if (res.count === 0 || ev.timeNano < res.minTime) res.minTime = ev.timeNano;
      if (res.count === 0 || ev.timeNano > res.maxTime) res.maxTime = ev.timeNano;
      res.count++;
      res.lastSeq = Math.max(res.lastSeq, ev.seq);
      res.goodEnd = nl + 1;
      // Everything unparseable so far is in the middle, not the tail.
      res.corruptOffsets.push(...bad);
      bad.length = 0;
    }
    start = nl + 1;
  }
  return res;
}

/** Complete lines of a file with their byte offsets; a trailing partial line is not yielded. */
async function* readLines(fh: FileHandle): AsyncGenerator<{ line: string; offset: number }, void, undefined> {
  const chunk = Buffer.allocUnsafe(READ_CHUNK);
  let carry: Buffer = Buffer.alloc(0);
  let carryOffset = 0;
  let pos = 0;
  for (;;) {
    const { bytesRead } = await fh.read(chunk, 0, chunk.length, pos);
    if (bytesRead === 0) return;
    pos += bytesRead;
    const data =
      carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
    let start = 0;
    for (;;) {
      const nl = data.indexOf(NEWLINE, start);
      if (nl < 0) break;
      yield { line: data.toString('utf8', start, nl), offset: carryOffset + start };
      start = nl + 1;
    }
    carry = Buffer.from(data.subarray(start));
    carryOffset += start;
  }
}
