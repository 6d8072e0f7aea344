import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, open, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { LogRotator } from './log-rotation.js';
import {
  formatLogTimestamp,
  logFiles,
  parseK8sLogLine,
  parseRfc3339Nano,
  readLogs,
  type LogMessage,
  type ReadLogsOptions,
} from './logs.js';

const BASE = BigInt(Date.UTC(2024, 0, 1)) * 1_000_000n; // 2024-01-01T00:00:00Z in ns

/** A k8s-file record at BASE + `sec` seconds, written with a +01:00 offset as conmon would in that zone. */
function rec(sec: number, stream: 'stdout' | 'stderr', tag: 'F' | 'P', content: string): string {
  const d = new Date(Date.UTC(2024, 0, 1, 1, 0, sec));
  const pad = (n: number): string => String(n).padStart(2, '0');
  const text =
    `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}` +
    `T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.000000001+01:00`;
  return `${text} ${stream} ${tag} ${content}\n`;
}

const at = (sec: number): bigint => BASE + BigInt(sec) * 1_000_000_000n + 1n;

const ALL: ReadLogsOptions = { stdout: true, stderr: true };

async function collect(gen: AsyncIterable<LogMessage>): Promise<LogMessage[]> {
  const out: LogMessage[] = [];
  for await (const m of gen) out.push(m);
  return out;
}

const texts = (msgs: LogMessage[]): string[] => msgs.map((m) => m.data.toString());

let root: string;
let seq = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'berth-logs-test-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function freshDir(): Promise<string> {
  const dir = join(root, `c${seq++}`);
  await mkdir(dir);
  return dir;
}

/** Stands in for conmon: appends to the file it has open, reopens as conmon does (tmp + rename). */
class FakeConmon {
  readonly path: string;
  private fh: FileHandle | undefined;

  constructor(path: string) {
    this.path = path;
  }

  async start(): Promise<void> {
    this.fh = await open(this.path, 'a');
  }

  async write(text: string): Promise<void> {
    if (!this.fh) throw new Error('not started');
    await this.fh.write(text);
  }

  async reopen(): Promise<void> {
    await this.fh?.close();
    const tmp = `${this.path}.tmp`;
    this.fh = await open(tmp, 'w');
    await rename(tmp, this.path);
  }

  async stop(): Promise<void> {
    await this.fh?.close();
    this.fh = undefined;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(5);
  }
}

describe('parseRfc3339Nano / parseK8sLogLine', () => {
  it('parses conmon records exactly', () => {
    const e = parseK8sLogLine('2026-11-27T20:47:06.354403036+00:00 stdout F out1\n');
    assert.ok(e);
    assert.equal(e.timeNano, BigInt(Date.UTC(2026, 10, 27, 20, 47, 6)) * 1_000_000n + 354403036n);
    assert.equal(e.stream, 'stdout');
    assert.equal(e.partial, false);
    assert.equal(e.content.toString(), 'out1');
  });

  it('applies offsets and Z', () => {
    const utc = BASE + 500_000_000n;
    assert.equal(parseRfc3339Nano('2024-01-01T00:00:00.5Z'), utc);
    assert.equal(parseRfc3339Nano('2024-01-01T02:00:00.5+02:00'), utc);
    assert.equal(parseRfc3339Nano('2023-12-31T18:30:00.5-05:30'), utc);
    assert.equal(parseRfc3339Nano('2024-01-01T02:00:00.5+0200'), utc);
    assert.equal(parseRfc3339Nano('2024-01-01T00:00:00Z'), BASE);
  });

  it('keeps all nine fraction digits', () => {
    assert.equal(parseRfc3339Nano('2024-01-01T00:00:00.000000001Z'), BASE + 1n);
    assert.equal(parseRfc3339Nano('2024-01-01T00:00:00.999999999Z'), BASE + 999_999_999n);
    assert.equal(parseRfc3339Nano('1969-12-31T23:59:59.000000001Z'), -999_999_999n);
    assert.equal(parseRfc3339Nano('2024-02-29T00:00:00Z'), BASE + 59n * 86_400_000_000_000n);
  });

  it('rejects malformed times', () => {
    for (const bad of [
      '2024-13-01T00:00:00Z',
      '2023-02-29T00:00:00Z',
      '2024-01-01T24:00:00Z',
      '2024-01-01T00:00:00.1234567890Z',
      '2024-01-01T00:00:00',
      '2024-01-01 00:00:00Z',
      'yesterday',
    ]) {
      assert.equal(parseRfc3339Nano(bad), undefined, bad);
    }
  });

  it('keeps content raw and handles P, stderr and empty lines', () => {
    const e = parseK8sLogLine(Buffer.from('2024-01-01T00:00:00Z stderr P a  b\t"c" \\n'));
    assert.ok(e);
    assert.equal(e.stream, 'stderr');
    assert.equal(e.partial, true);
    assert.equal(e.content.toString(), 'a  b\t"c" \\n');
    assert.equal(parseK8sLogLine('2024-01-01T00:00:00Z stdout F \n')?.content.length, 0);
    assert.equal(parseK8sLogLine('2024-01-01T00:00:00Z stdout F')?.content.length, 0);
    assert.equal(parseK8sLogLine('2024-01-01T00:00:00Z stdout F:x y')?.content.toString(), 'y');
    assert.equal(parseK8sLogLine('2024-01-01T00:00:00Z stdout F tty\r\n')?.content.toString(), 'tty\r');
  });

  it('rejects malformed records', () => {
    for (const bad of [
      '',
      '\n',
      'garbage',
      '2024-01-01T00:00:00Z',
      '2024-01-01T00:00:00Z stdout',
      '2024-01-01T00:00:00Z stdin F x',
      '2024-01-01T00:00:00Z stdout X x',
      'notatime stdout F x',
    ]) {
      assert.equal(parseK8sLogLine(bad), undefined, JSON.stringify(bad));
    }
  });

  it('formats Docker timestamps in UTC with nine digits', () => {
    assert.equal(formatLogTimestamp(BASE + 123_456_789n), '2024-01-01T00:00:00.123456789Z');
    assert.equal(formatLogTimestamp(BASE), '2024-01-01T00:00:00.000000000Z');
    assert.equal(formatLogTimestamp(-1n), '1969-12-31T23:59:59.999999999Z');
  });
});

describe('readLogs (replay)', () => {
  it('reproduces what was written, F and P', async () => {
    const dir = await freshDir();
    const log = join(dir, 'ctr.log');
    await writeFile(
      log,
      rec(0, 'stdout', 'F', 'hello') +
        rec(1, 'stdout', 'P', 'par') +
        rec(1, 'stderr', 'F', 'err1') +
        rec(1, 'stdout', 'P', 'tial') +
        rec(2, 'stdout', 'F', ' end') +
        'not a record\n' +
        rec(3, 'stdout', 'F', '') +
        rec(4, 'stdout', 'P', 'prompt> '),
    );
    const msgs = await collect(readLogs([log], ALL));
    assert.deepEqual(texts(msgs), ['hello\n', 'par', 'err1\n', 'tial', ' end\n', '\n', 'prompt> ']);
    assert.deepEqual(
      msgs.map((m) => m.stream),
      ['stdout', 'stdout', 'stderr', 'stdout', 'stdout', 'stdout', 'stdout'],
    );
    assert.equal(msgs[0]?.timeNano, at(0));
    const out = Buffer.concat(msgs.filter((m) => m.stream === 'stdout').map((m) => m.data)).toString();
    assert.equal(out, 'hello\npartial end\n\nprompt> ');
  });

  it('selects streams', async () => {
    const dir = await freshDir();
    const log = join(dir, 'ctr.log');
    await writeFile(
      log,
      rec(0, 'stdout', 'F', 'o1') + rec(1, 'stderr', 'F', 'e1') + rec(2, 'stdout', 'F', 'o2'),
    );
    assert.deepEqual(texts(await collect(readLogs([log], { stdout: true, stderr: false }))), [
      'o1\n',
      'o2\n',
    ]);
    assert.deepEqual(texts(await collect(readLogs([log], { stdout: false, stderr: true }))), ['e1\n']);
  });

  it('applies since and until as Docker does', async () => {
    const dir = await freshDir();
    const log = join(dir, 'ctr.log');
    await writeFile(
      log,
      rec(0, 'stdout', 'F', 'a') +
        rec(2, 'stdout', 'F', 'b') +
        rec(4, 'stdout', 'F', 'c') +
        rec(1, 'stderr', 'F', 'late-but-old') +
        rec(6, 'stdout', 'F', 'd'),
    );
    const since = await collect(readLogs([log], { ...ALL, sinceNano: at(2) }));
    // Once a record at or after `since` is met, later records are not filtered again.
    assert.deepEqual(texts(since), ['b\n', 'c\n', 'late-but-old\n', 'd\n']);
    const untilMsgs = await collect(readLogs([log], { ...ALL, untilNano: at(2) }));
    assert.deepEqual(texts(untilMsgs), ['a\n', 'b\n']);
    const both = await collect(readLogs([log], { ...ALL, sinceNano: at(1), untilNano: at(4) }));
    assert.deepEqual(texts(both), ['b\n', 'c\n', 'late-but-old\n']);
  });

  it('tails across rotated files', async () => {
    const dir = await freshDir();
    const log = join(dir, 'ctr.log');
    let n = 0;
    const lines = (count: number): string => {
      let s = '';
      for (let i = 0; i < count; i++, n++) s += rec(n, 'stdout', 'F', `l${n}`);
      return s;
    };
    await writeFile(`${log}.2`, lines(3));
    await writeFile(`${log}.1`, lines(3));
    await writeFile(log, lines(2));
    const files = await logFiles(log, 3);
    assert.deepEqual(files, [`${log}.2`, `${log}.1`, log]);
    assert.deepEqual(texts(await collect(readLogs(files, { ...ALL, tail: 4 }))), [
      'l4\n',
      'l5\n',
      'l6\n',
      'l7\n',
    ]);
    assert.deepEqual(texts(await collect(readLogs(files, { ...ALL, tail: 2 }))), ['l6\n', 'l7\n']);
    assert.equal((await collect(readLogs(files, { ...ALL, tail: 100 }))).length, 8);
    assert.equal((await collect(readLogs(files, { ...ALL, tail: -1 }))).length, 8);
    assert.equal((await collect(readLogs(files, { ...ALL, tail: 0 }))).length, 0);
    // tail counts both streams before the stream selection (as Docker).
    assert.deepEqual(texts(await collect(readLogs(files, { stdout: false, stderr: true, tail: 2 }))), []);
  });

  it('counts a line as its P records plus the F, and a trailing P run as one line', async () => {
    const dir = await freshDir();
    const log = join(dir, 'ctr.log');
    await writeFile(
      log,
      rec(0, 'stdout', 'F', 'one') +
        rec(1, 'stdout', 'P', 't') +
        rec(1, 'stdout', 'P', 'w') +
        rec(1, 'stdout', 'F', 'o') +
        rec(2, 'stdout', 'P', 'thr') +
        rec(2, 'stdout', 'P', 'ee'),
    );
    assert.deepEqual(texts(await collect(readLogs([log], { ...ALL, tail: 1 }))), ['thr', 'ee']);
    assert.deepEqual(texts(await collect(readLogs([log], { ...ALL, tail: 2 }))), [
      't',
      'w',
      'o\n',
      'thr',
      'ee',
    ]);
    assert.equal((await collect(readLogs([log], { ...ALL, tail: 3 }))).length, 6);
  });

  it('tails a large file reading backwards in blocks', async () => {
    const dir = await freshDir();
    const log = join(dir, 'ctr.log');
    let text = '';
    for (let i = 0; i < 20_000; i++) text += rec(i % 60, 'stdout', 'F', `line ${i} ${'x'.repeat(i % 50)}`);
    await writeFile(log, text);
    const last = await collect(readLogs([log], { ...ALL, tail: 3 }));
    assert.deepEqual(
      texts(last).map((t) => t.split(' ').slice(0, 2).join(' ')),
      ['line 19997', 'line 19998', 'line 19999'],
    );
    const many = await collect(readLogs([log], { ...ALL, tail: 12_345 }));
    assert.equal(many.length, 12_345);
    assert.ok(many[0]?.data.toString().startsWith(`line ${20_000 - 12_345} `));
  });

  it('ignores a record still being written, and missing files', async () => {
    const dir = await freshDir();
    const log = join(dir, 'ctr.log');
    await writeFile(log, rec(0, 'stdout', 'F', 'done') + '2024-01-01T01:00:01+01:00 stdout F half');
    assert.deepEqual(texts(await collect(readLogs([`${log}.1`, log], ALL))), ['done\n']);
    assert.deepEqual(texts(await collect(readLogs([`${log}.1`, log], { ...ALL, tail: 1 }))), ['done\n']);
    assert.deepEqual(await collect(readLogs([join(dir, 'nope')], ALL)), []);
  });
});

describe('readLogs (follow)', () => {
  it('follows appends and ends when the container stops and the log is drained', async () => {
    const dir = await freshDir();
    const log = join(dir, 'ctr.log');
    const conmon = new FakeConmon(log);
    await conmon.start();
    await conmon.write(rec(0, 'stdout', 'F', 'first'));
    let running = true;
    const got: string[] = [];
    const done = (async () => {
      for await (const m of readLogs([log], { ...ALL, follow: true, isRunning: () => running, pollMs: 20 })) {
        got.push(m.data.toString());
      }
    })();
    await until(() => got.length === 1);
    await conmon.write(rec(1, 'stdout', 'P', 'no newline '));
    await conmon.write(rec(2, 'stderr', 'F', 'err'));
    await until(() => got.length === 3);
    // Written just before the container stops: still delivered.
    await conmon.write(rec(3, 'stdout', 'F', 'last'));
    running = false;
    await conmon.stop();
    await done;
    assert.deepEqual(got, ['first\n', 'no newline ', 'err\n', 'last\n']);
  });

  it('ends after the replay when the container is not running', async () => {
    const dir = await freshDir();
    const log = join(dir, 'ctr.log');
    await writeFile(log, rec(0, 'stdout', 'F', 'a'));
    const msgs = await collect(readLogs([log], { ...ALL, follow: true, isRunning: () => false, pollMs: 20 }));
    assert.deepEqual(texts(msgs), ['a\n']);
  });

  it('ends after the replay when until is in the past', async () => {
    const dir = await freshDir();
    const log = join(dir, 'ctr.log');
    await writeFile(log, rec(0, 'stdout', 'F', 'a'));
    const msgs = await collect(
      readLogs([log], { ...ALL, follow: true, isRunning: () => true, untilNano: at(30), pollMs: 20 }),
    );
    assert.deepEqual(texts(msgs), ['a\n']);
  });

  it('stops on abort, also while waiting', async () => {
    const dir = await freshDir();
    const log = join(dir, 'ctr.log');
    await writeFile(log, rec(0, 'stdout', 'F', 'a'));
    const ac = new AbortController();
    const got: string[] = [];
    const done = (async () => {
      for await (const m of readLogs([log], { ...ALL, follow: true, signal: ac.signal, pollMs: 60_000 })) {
        got.push(m.data.toString());
      }
    })();
    await until(() => got.length === 1);
    await sleep(30);
    ac.abort();
    await done;
    assert.deepEqual(got, ['a\n']);
  });

  it('wakes on fs.watch without waiting for the poll', async () => {
    const dir = await freshDir();
    const log = join(dir, 'ctr.log');
    await writeFile(log, '');
    const ac = new AbortController();
    const got: string[] = [];
    const done = (async () => {
      for await (const m of readLogs([log], { ...ALL, follow: true, signal: ac.signal, pollMs: 60_000 })) {
        got.push(m.data.toString());
      }
    })();
    await sleep(30);
    await appendFile(log, rec(0, 'stdout', 'F', 'woken'));
    await until(() => got.length === 1, 3000);
    ac.abort();
    await done;
    assert.deepEqual(got, ['woken\n']);
  });

  it('follows through a rotation, including lines written before the reopen', async () => {
    const dir = await freshDir();
    const log = join(dir, 'ctr.log');
    const conmon = new FakeConmon(log);
    await conmon.start();
    for (let i = 0; i < 3; i++) await conmon.write(rec(i, 'stdout', 'F', `l${i}`));
    let running = true;
    const got: string[] = [];
    const done = (async () => {
      for await (const m of readLogs(await logFiles(log, 3), {
        ...ALL,
        follow: true,
        isRunning: () => running,
        pollMs: 20,
      })) {
        got.push(m.data.toString());
      }
    })();
    await until(() => got.length === 3);
    const rotator = new LogRotator({
      logPath: log,
      maxSize: 10,
      maxFiles: 3,
      reopen: async () => {
        // The window between rename and reopen: conmon still writes to the renamed file.
        await conmon.write(rec(3, 'stdout', 'F', 'l3'));
        await sleep(50);
        await conmon.write(rec(4, 'stdout', 'F', 'l4'));
        await conmon.reopen();
      },
    });
    assert.equal(await rotator.check(), true);
    await conmon.write(rec(5, 'stdout', 'F', 'l5'));
    await conmon.write(rec(6, 'stdout', 'F', 'l6'));
    await until(() => got.length === 7);
    running = false;
    await conmon.stop();
    await done;
    assert.deepEqual(got, ['l0\n', 'l1\n', 'l2\n', 'l3\n', 'l4\n', 'l5\n', 'l6\n']);
  });

  it('catches up over several rotations it slept through', async () => {
    const dir = await freshDir();
    const log = join(dir, 'ctr.log');
    const conmon = new FakeConmon(log);
    await conmon.start();
    await conmon.write(rec(0, 'stdout', 'F', 'a'));
    let running = true;
    const gen = readLogs(await logFiles(log, 4), {
      ...ALL,
      follow: true,
      isRunning: () => running,
      pollMs: 20,
    });
    assert.equal((await gen.next()).value?.data.toString(), 'a\n');
    // The reader is suspended while the log rotates twice.
    const rotator = new LogRotator({ logPath: log, maxSize: 1, maxFiles: 4, reopen: () => conmon.reopen() });
    await conmon.write(rec(1, 'stdout', 'F', 'b'));
    assert.equal(await rotator.check(), true);
    await conmon.write(rec(2, 'stdout', 'F', 'c'));
    assert.equal(await rotator.check(), true);
    await conmon.write(rec(3, 'stdout', 'F', 'd'));
    running = false;
    await conmon.stop();
    const rest: string[] = [];
    for await (const m of gen) rest.push(m.data.toString());
    assert.deepEqual(rest, ['b\n', 'c\n', 'd\n']);
  });

  it('waits for a log that does not exist yet', async () => {
    const dir = await freshDir();
    const log = join(dir, 'ctr.log');
    let running = true;
    const got: string[] = [];
    const done = (async () => {
      for await (const m of readLogs([log], { ...ALL, follow: true, isRunning: () => running, pollMs: 20 })) {
        got.push(m.data.toString());
      }
    })();
    await sleep(30);
    await writeFile(log, rec(0, 'stdout', 'F', 'late'));
    await until(() => got.length === 1);
    running = false;
    await done;
    assert.deepEqual(got, ['late\n']);
  });
});

describe('logFiles', () => {
  it('lists existing rotated copies oldest first, and always the live path', async () => {
    const dir = await freshDir();
    const log = join(dir, 'ctr.log');
    assert.deepEqual(await logFiles(log, 5), [log]);
    await writeFile(`${log}.1`, '');
    await writeFile(`${log}.3`, '');
    await writeFile(`${log}.9`, '');
    assert.deepEqual(await logFiles(log, 5), [`${log}.3`, `${log}.1`, log]);
    assert.deepEqual(await logFiles(log, 1), [log]);
  });
});
