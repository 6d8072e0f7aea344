import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventJournal, decodeEvent, encodeEvent } from './journal.js';
import type { JournalOptions, JournalReadOptions } from './journal.js';
import type { EngineEvent } from './types.js';

const T0 = 1540182459729138259n;
const SEC = 1_000_000_000n;
const SEGMENT_RE = /^\d{16}-\d+(-\d+)?\.jsonl$/;

/** Lines have the same length for every seq below 10^8 (and 19-digit times), so sizes are predictable. */
function ev(seq: number, timeNano: bigint, name = 'c'.repeat(9 - String(seq).length)): EngineEvent {
  return {
    seq,
    Type: 'container',
    Action: 'start',
    Actor: { ID: 'f'.repeat(64), Attributes: { name, image: 'alpine:3' } },
    scope: 'local',
    timeNano,
  };
}

async function collect(j: EventJournal, opts: JournalReadOptions = {}): Promise<EngineEvent[]> {
  const out: EngineEvent[] = [];
  for await (const e of j.read(opts)) out.push(e);
  return out;
}

const seqs = (events: readonly EngineEvent[]): number[] => events.map((e) => e.seq);
const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

function segmentFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => SEGMENT_RE.test(n))
    .sort();
}

function lineBytes(e: EngineEvent): number {
  return Buffer.byteLength(encodeEvent(e)) + 1;
}

describe('EventJournal', () => {
  let root = '';
  let dir = '';
  const open: EventJournal[] = [];

  async function openJournal(opts: Partial<JournalOptions> = {}): Promise<EventJournal> {
    // The events below are stamped around T0 (2018): pin the clock so age retention keeps them.
    const j = await EventJournal.open({
      dir,
      maxAgeMs: 3_600_000,
      maxBytes: 64 * 1024 * 1024,
      now: () => T0,
      ...opts,
    });
    open.push(j);
    return j;
  }

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-journal-'));
    dir = root;
  });
  afterEach(async () => {
    for (const j of open.splice(0)) await j.close();
    await rm(root, { recursive: true, force: true });
  });

  it('encodes timeNano as a string and round-trips it exactly', () => {
    const e = ev(1, T0);
    const line = encodeEvent(e);
    assert.match(line, /"timeNano":"1540182459729138259"/);
    assert.deepEqual(decodeEvent(line), e);
    assert.equal(decodeEvent('{"seq":1,"timeNano":1540182459729138259}'), undefined);
    assert.equal(decodeEvent('not json'), undefined);
  });

  it('starts empty, creates the dir, and appends and reads back', async () => {
    dir = join(dir, 'nested', 'events');
    const j = await openJournal();
    assert.equal(j.lastSeq, 0);
    assert.deepEqual(await collect(j), []);
    for (let i = 1; i <= 5; i++) j.append(ev(i, T0 + BigInt(i) * SEC));
    assert.equal(j.lastSeq, 5);
    const got = await collect(j);
    assert.deepEqual(
      got,
      range(1, 5).map((i) => ev(i, T0 + BigInt(i) * SEC)),
    );
    assert.equal(got[0].timeNano, 1540182460729138259n);
    const files = segmentFiles(dir);
    assert.equal(files.length, 1);
    assert.equal(files[0], `0000000000000001-${T0 + SEC}.jsonl`);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
  });

  it('round-trips a nanosecond timestamp beyond 2^53 exactly, across a reopen', async () => {
    let j = await openJournal();
    j.append(ev(1, 1540182459729138259n));
    j.append(ev(2, 1540182459729138260n));
    await j.close();
    j = await openJournal();
    const got = await collect(j);
    assert.deepEqual(
      got.map((e) => e.timeNano),
      [1540182459729138259n, 1540182459729138260n],
    );
    assert.deepEqual(await collect(j, { sinceNano: 1540182459729138260n }), [got[1]]);
    assert.deepEqual(await collect(j, { untilNano: 1540182459729138259n }), [got[0]]);
  });

  it('filters by since/until (inclusive) and afterSeq', async () => {
    const j = await openJournal({ segmentBytes: 1024 });
    for (let i = 1; i <= 40; i++) j.append(ev(i, T0 + BigInt(i) * SEC));
    assert.ok(segmentFiles(dir).length > 3, 'several segments');
    const t = (i: number): bigint => T0 + BigInt(i) * SEC;
    assert.deepEqual(seqs(await collect(j, { sinceNano: t(10), untilNano: t(20) })), range(10, 20));
    assert.deepEqual(seqs(await collect(j, { sinceNano: t(35) })), range(35, 40));
    assert.deepEqual(seqs(await collect(j, { untilNano: t(3) })), range(1, 3));
    assert.deepEqual(seqs(await collect(j, { afterSeq: 37 })), [38, 39, 40]);
    assert.deepEqual(seqs(await collect(j, { afterSeq: 5, untilNano: t(8) })), [6, 7, 8]);
    assert.deepEqual(seqs(await collect(j, { sinceNano: t(41) })), []);
    assert.deepEqual(seqs(await collect(j, { untilNano: T0 })), []);
    assert.deepEqual(seqs(await collect(j, { sinceNano: t(20), untilNano: t(10) })), []);
  });

  it('fixes the upper seq bound when read() is called', async () => {
    const j = await openJournal();
    j.append(ev(1, T0));
    j.append(ev(2, T0));
    const it = j.read();
    j.append(ev(3, T0));
    const got: number[] = [];
    for await (const e of it) got.push(e.seq);
    assert.deepEqual(got, [1, 2]);
  });

  it('rejects a seq that does not advance, and appends after close', async () => {
    const j = await openJournal();
    j.append(ev(7, T0));
    assert.throws(() => j.append(ev(7, T0)), RangeError);
    assert.throws(() => j.append(ev(3, T0)), RangeError);
    assert.throws(() => j.append(ev(8, -1n)), RangeError);
    j.append(ev(8, T0));
    await j.close();
    assert.throws(() => j.append(ev(9, T0)), /close/);
    assert.deepEqual(seqs(await collect(j)), [7, 8]);
  });

  it('reopen continues from lastSeq and appends to the same segment', async () => {
    let j = await openJournal();
    for (let i = 1; i <= 5; i++) j.append(ev(i, T0 + BigInt(i)));
    await j.close();
    j = await openJournal();
    assert.equal(j.lastSeq, 5);
    j.append(ev(6, T0 + 6n));
    assert.deepEqual(seqs(await collect(j)), range(1, 6));
    assert.equal(segmentFiles(dir).length, 1);
    await j.close();
    j = await openJournal();
    assert.equal(j.lastSeq, 6);
  });

  it('rotates at segmentBytes, seals with the time range, and reads across segments', async () => {
    const per = lineBytes(ev(1, T0));
    const j = await openJournal({ segmentBytes: per * 3 });
    for (let i = 1; i <= 10; i++) j.append(ev(i, T0 + BigInt(i)));
    const files = segmentFiles(dir);
    assert.deepEqual(files, [
      `0000000000000001-${T0 + 1n}-${T0 + 3n}.jsonl`,
      `0000000000000004-${T0 + 4n}-${T0 + 6n}.jsonl`,
      `0000000000000007-${T0 + 7n}-${T0 + 9n}.jsonl`,
      `0000000000000010-${T0 + 10n}.jsonl`,
    ]);
    for (const f of files.slice(0, 3)) assert.equal(statSync(join(dir, f)).size, per * 3);
    assert.deepEqual(
      j.segments().map((s) => s.active),
      [false, false, false, true],
    );
    assert.equal(j.sizeBytes, per * 10);
    assert.deepEqual(seqs(await collect(j)), range(1, 10));
    await j.close();
    const j2 = await openJournal({ segmentBytes: per * 3 });
    assert.equal(j2.lastSeq, 10);
    assert.deepEqual(seqs(await collect(j2)), range(1, 10));
  });

  it('defaults segmentBytes to 4 MiB and clamps it to maxBytes/4', async () => {
    const big = await openJournal();
    assert.equal(big.segmentBytes, 4 * 1024 * 1024);
    const small = await openJournal({ maxBytes: 10_000, segmentBytes: 1_000_000 });
    assert.equal(small.segmentBytes, 2500);
    await assert.rejects(EventJournal.open({ dir, maxAgeMs: 1, maxBytes: 0 }), RangeError);
  });

  it('opens only the segments that can overlap the requested range', async () => {
    const per = lineBytes(ev(1, T0));
    const j = await openJournal({ segmentBytes: per * 5 });
    for (let i = 1; i <= 20; i++) j.append(ev(i, T0 + BigInt(i) * SEC));
    const files = segmentFiles(dir);
    assert.equal(files.length, 4);
    // Poison the first two segments: reading them would count corrupt lines.
    writeFileSync(join(dir, files[0]), 'garbage\n'.repeat(3));
    writeFileSync(join(dir, files[1]), 'garbage\n'.repeat(3));
    assert.deepEqual(seqs(await collect(j, { sinceNano: T0 + 11n * SEC })), range(11, 20));
    assert.deepEqual(seqs(await collect(j, { afterSeq: 10 })), range(11, 20));
    assert.equal(j.corruptLines, 0);
    await collect(j);
    assert.equal(j.corruptLines, 6);
    await collect(j);
    assert.equal(j.corruptLines, 6, 'each bad line is counted once');
  });

  it('keeps range reads correct when the clock steps backwards', async () => {
    const per = lineBytes(ev(1, T0));
    const j = await openJournal({ segmentBytes: per * 3 });
    const times = [100n, 200n, 300n, 50n, 60n, 70n, 80n].map((t) => T0 + t);
    times.forEach((t, i) => j.append(ev(i + 1, t)));
    assert.deepEqual(seqs(await collect(j, { sinceNano: T0 + 250n })), [3]);
    assert.deepEqual(seqs(await collect(j, { sinceNano: T0 + 55n, untilNano: T0 + 150n })), [1, 5, 6, 7]);
  });

  describe('recovery', () => {
    it('truncates a torn last line; the next append works and reads yield only good events', async () => {
      let j = await openJournal();
      for (let i = 1; i <= 3; i++) j.append(ev(i, T0 + BigInt(i)));
      await j.close();
      const [file] = segmentFiles(dir);
      const path = join(dir, file);
      const good = readFileSync(path);
      const half = encodeEvent(ev(4, T0 + 4n)).slice(0, 40);
      appendFileSync(path, half);

      j = await openJournal();
      assert.equal(j.lastSeq, 3);
      assert.equal(j.truncatedBytes, half.length);
      assert.equal(j.corruptLines, 0);
      assert.deepEqual(readFileSync(path), good);
      j.append(ev(4, T0 + 4n));
      assert.deepEqual(
        await collect(j),
        range(1, 4).map((i) => ev(i, T0 + BigInt(i))),
      );
      await j.close();
      const text = readFileSync(path, 'utf8');
      assert.ok(text.endsWith('\n'));
      assert.equal(text.split('\n').length, 5);
    });

    it('truncates trailing unparseable lines and NUL blocks', async () => {
      let j = await openJournal();
      j.append(ev(1, T0));
      j.append(ev(2, T0));
      await j.close();
      const path = join(dir, segmentFiles(dir)[0]);
      appendFileSync(path, '{"seq":3,"timeNa\n');
      appendFileSync(path, Buffer.alloc(4096));
      j = await openJournal();
      assert.equal(j.lastSeq, 2);
      j.append(ev(3, T0));
      assert.deepEqual(seqs(await collect(j)), [1, 2, 3]);
    });

    it('drops a newest segment that holds only a torn line', async () => {
      const per = lineBytes(ev(1, T0));
      let j = await openJournal({ segmentBytes: per * 2 });
      for (let i = 1; i <= 4; i++) j.append(ev(i, T0 + BigInt(i)));
      await j.close();
      // A crash right after creating segment 5, mid-write of its first line.
      writeFileSync(join(dir, `0000000000000005-${T0 + 5n}.jsonl`), encodeEvent(ev(5, T0 + 5n)).slice(0, 30));
      j = await openJournal({ segmentBytes: per * 2 });
      assert.equal(j.lastSeq, 4);
      assert.equal(segmentFiles(dir).length, 2);
      j.append(ev(5, T0 + 5n));
      assert.deepEqual(seqs(await collect(j)), range(1, 5));
    });

    it('skips and counts a corrupt line in the middle of a segment', async () => {
      const per = lineBytes(ev(1, T0));
      let j = await openJournal({ segmentBytes: per * 4 });
      for (let i = 1; i <= 12; i++) j.append(ev(i, T0 + BigInt(i)));
      await j.close();
      const [first, , last] = segmentFiles(dir); // [1-4] [5-8] [9-12]; break seq 2 and seq 10
      for (const f of [first, last]) {
        const path = join(dir, f);
        const lines = readFileSync(path, 'utf8').split('\n');
        lines[1] = '{"seq":oops';
        writeFileSync(path, lines.join('\n'));
      }
      j = await openJournal({ segmentBytes: per * 4 });
      assert.equal(j.lastSeq, 12);
      assert.equal(j.corruptLines, 1, 'found in the newest segment at open');
      assert.equal(j.truncatedBytes, 0);
      assert.deepEqual(seqs(await collect(j)), [1, 3, 4, 5, 6, 7, 8, 9, 11, 12]);
      assert.equal(j.corruptLines, 2);
      j.append(ev(13, T0 + 13n));
      assert.deepEqual(seqs(await collect(j, { afterSeq: 8 })), [9, 11, 12, 13]);
      assert.equal(j.corruptLines, 2);
    });

    it('ignores files that do not match the segment naming', async () => {
      writeFileSync(join(dir, 'README'), 'hello\n');
      writeFileSync(join(dir, '12-34.jsonl'), 'garbage\n');
      writeFileSync(join(dir, '.0000000000000001-5.jsonl.tmp'), 'garbage\n');
      const j = await openJournal();
      assert.equal(j.lastSeq, 0);
      j.append(ev(1, T0));
      assert.deepEqual(seqs(await collect(j)), [1]);
      assert.equal(j.corruptLines, 0);
      assert.ok(readdirSync(dir).includes('README'));
    });

    it('seals an older segment left unsealed by a crash mid-rotation', async () => {
      writeFileSync(
        join(dir, `0000000000000001-${T0}.jsonl`),
        [ev(1, T0), ev(2, T0 + 5n)].map((e) => encodeEvent(e) + '\n').join(''),
      );
      writeFileSync(join(dir, `0000000000000003-${T0 + 9n}.jsonl`), encodeEvent(ev(3, T0 + 9n)) + '\n');
      const j = await openJournal();
      assert.deepEqual(segmentFiles(dir), [
        `0000000000000001-${T0}-${T0 + 5n}.jsonl`,
        `0000000000000003-${T0 + 9n}.jsonl`,
      ]);
      assert.equal(j.lastSeq, 3);
      j.append(ev(4, T0 + 10n));
      assert.deepEqual(seqs(await collect(j)), [1, 2, 3, 4]);
    });

    it('continues after a newest segment that was sealed before the crash', async () => {
      writeFileSync(join(dir, `0000000000000001-${T0}-${T0 + 1n}.jsonl`), encodeEvent(ev(1, T0 + 1n)) + '\n');
      const j = await openJournal();
      assert.equal(j.lastSeq, 1);
      j.append(ev(2, T0 + 2n));
      assert.equal(segmentFiles(dir).length, 2);
      assert.deepEqual(seqs(await collect(j)), [1, 2]);
    });
  });

  describe('retention', () => {
    it('prunes oldest segments while the total exceeds maxBytes, never the active one', async () => {
      const per = lineBytes(ev(1, T0));
      const maxBytes = per * 12;
      const j = await openJournal({ maxBytes, segmentBytes: per * 3 });
      for (let i = 1; i <= 100; i++) {
        j.append(ev(i, T0 + BigInt(i)));
        assert.ok(j.sizeBytes <= maxBytes, `size ${j.sizeBytes} at ${i}`);
      }
      const onDisk = segmentFiles(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
      assert.equal(onDisk, j.sizeBytes);
      const got = seqs(await collect(j));
      assert.equal(got.at(-1), 100);
      assert.deepEqual(got, range(got[0], 100));
      assert.ok(got.length >= 9 && got.length <= 12, `kept ${got.length}`);
      assert.equal(j.lastSeq, 100);
    });

    it('keeps the newest segment even when it alone exceeds maxBytes', async () => {
      const j = await openJournal({ maxBytes: 100, segmentBytes: 25 });
      j.append(ev(1, T0));
      j.append(ev(2, T0));
      j.append(ev(3, T0));
      assert.deepEqual(seqs(await collect(j)), [3]);
      await j.close();
      const j2 = await openJournal({ maxBytes: 100, segmentBytes: 25 });
      assert.equal(j2.lastSeq, 3);
    });

    it('prunes whole segments older than maxAge using the injected clock', async () => {
      let now = T0;
      const opts = { maxAgeMs: 60_000, segmentBytes: lineBytes(ev(1, T0)) * 2, now: () => now };
      let j = await openJournal(opts);
      for (let i = 1; i <= 10; i++) j.append(ev(i, T0 + BigInt(i) * 10n * SEC)); // t = 10s..100s
      now = T0 + 70n * SEC; // cutoff 10s
      j.prune();
      assert.deepEqual(seqs(await collect(j)), range(1, 10), 'no segment ends before the cutoff yet');
      now = T0 + 145n * SEC; // cutoff 85s: segments [1,2]..[7,8] end before it
      j.prune();
      assert.deepEqual(seqs(await collect(j)), [9, 10]);
      now = T0 + 10_000n * SEC;
      j.prune();
      assert.deepEqual(seqs(await collect(j)), [9, 10], 'the newest segment is kept');
      await j.close();

      // Prune also runs on open.
      now = T0;
      j = await openJournal({ ...opts, maxAgeMs: Infinity });
      j.append(ev(11, T0 + 200n * SEC));
      j.append(ev(12, T0 + 300n * SEC));
      now = T0 + 10_000n * SEC;
      j.prune();
      assert.deepEqual(seqs(await collect(j)), [9, 10, 11, 12], 'Infinity disables age retention');
      await j.close();
      j = await openJournal(opts);
      assert.deepEqual(seqs(await collect(j)), [11, 12]);
      assert.equal(j.lastSeq, 12);
    });

    it('prunes on rotation', async () => {
      let now = T0;
      const j = await openJournal({ maxAgeMs: 1000, segmentBytes: lineBytes(ev(1, T0)) * 2, now: () => now });
      j.append(ev(1, T0));
      j.append(ev(2, T0));
      j.append(ev(3, T0 + 10n * SEC));
      assert.equal(segmentFiles(dir).length, 2);
      now = T0 + 20n * SEC;
      j.append(ev(4, T0 + 20n * SEC));
      j.append(ev(5, T0 + 20n * SEC)); // rotates; segment [1,2] is older than 1s
      assert.deepEqual(seqs(await collect(j)), [3, 4, 5]);
    });

    it('a reader survives segments being pruned under it', async () => {
      const per = lineBytes(ev(1, T0));
      const j = await openJournal({ maxBytes: per * 8, segmentBytes: per * 2 });
      for (let i = 1; i <= 8; i++) j.append(ev(i, T0 + BigInt(i)));
      const got: number[] = [];
      for await (const e of j.read()) {
        got.push(e.seq);
        if (e.seq === 1) for (let i = 9; i <= 14; i++) j.append(ev(i, T0 + BigInt(i)));
      }
      // Segments [3,4] and [5,6] were pruned before the reader reached them.
      assert.deepEqual(got, [1, 2, 7, 8]);
    });
  });

  it('a journal whose writer was killed with SIGKILL mid-append reopens cleanly', async () => {
    const moduleUrl = new URL('./journal.js', import.meta.url).href;
    const script = `
      const { EventJournal } = await import(process.env.JOURNAL_URL);
      const j = await EventJournal.open({
        dir: process.env.JOURNAL_DIR, maxAgeMs: 3600000, maxBytes: 512 * 1024, segmentBytes: 16 * 1024,
      });
      let seq = j.lastSeq;
      process.stdout.write('ready ' + seq + '\\n');
      for (;;) {
        for (let i = 0; i < 500; i++) {
          seq++;
          j.append({
            seq, Type: 'container', Action: 'exec_start: sh -c "echo ' + seq + '"', scope: 'local',
            Actor: { ID: 'a'.repeat(64), Attributes: { name: 'c' + seq, 'com.example.x': 'y'.repeat(seq % 300) } },
            timeNano: BigInt(Date.now()) * 1000000n + BigInt(seq % 1000000),
          });
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    `;
    let expectedAtLeast = 0;
    for (let round = 0; round < 2; round++) {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        env: { ...process.env, JOURNAL_URL: moduleUrl, JOURNAL_DIR: dir },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const exited = new Promise<NodeJS.Signals | null>((resolve) =>
        child.on('exit', (_code, sig) => resolve(sig)),
      );
      const ready = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('\n')) resolve(out);
        });
        child.on('error', reject);
        child.on('exit', (code) => reject(new Error(`child exited early with ${code}: ${out}`)));
      });
      assert.equal(ready.trim(), `ready ${expectedAtLeast}`);
      // Let it write (and rotate and prune) for a while, then kill it mid-loop.
      await new Promise((resolve) => setTimeout(resolve, 300 + round * 200));
      child.kill('SIGKILL');
      assert.equal(await exited, 'SIGKILL');

      const j = await openJournal({ maxBytes: 512 * 1024, segmentBytes: 16 * 1024, now: undefined });
      assert.ok(j.lastSeq > expectedAtLeast, `made progress: ${j.lastSeq}`);
      const got = seqs(await collect(j));
      assert.equal(got.at(-1), j.lastSeq);
      assert.deepEqual(got, range(got[0], j.lastSeq), 'contiguous');
      assert.equal(j.corruptLines, 0);
      j.append(ev(j.lastSeq + 1, BigInt(Date.now()) * 1_000_000n));
      assert.equal((await collect(j, { afterSeq: j.lastSeq - 1 })).length, 1);
      expectedAtLeast = j.lastSeq;
      await j.close();
      open.splice(open.indexOf(j), 1);
    }
    assert.ok(segmentFiles(dir).length > 2, 'rotated');
  });
});
