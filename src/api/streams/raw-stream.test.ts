import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';

import { InvalidParameterError } from '../../errors.js';
import {
  DetachKeyFilter,
  parseDetachKeys,
  pipeOutput,
  pipeStdin,
  type OutputMessage,
  type StdinSink,
} from './raw-stream.js';
import { StdcopyParser } from './stdcopy.js';

const bytes = (...codes: (number | string)[]): Buffer =>
  Buffer.concat(codes.map((c) => (typeof c === 'number' ? Buffer.of(c) : Buffer.from(c))));

describe('parseDetachKeys', () => {
  it("reads Docker's format", () => {
    assert.deepEqual([...parseDetachKeys('ctrl-p,ctrl-q')], [16, 17]);
    assert.deepEqual([...parseDetachKeys('')], [16, 17]);
    assert.deepEqual([...parseDetachKeys(undefined)], [16, 17]);
    assert.deepEqual([...parseDetachKeys('ctrl-a,ctrl-z')], [1, 26]);
    assert.deepEqual(
      [...parseDetachKeys('ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_')],
      [0, 27, 28, 29, 30, 31],
    );
    assert.deepEqual([...parseDetachKeys('a,b,X,DEL')], [97, 98, 88, 127]);
  });

  it('rejects what Docker rejects', () => {
    for (const bad of ['ctrl-P', 'ab', 'ctrl-p,,ctrl-q', 'ctrl-1', 'é']) {
      assert.throws(
        () => parseDetachKeys(bad),
        (err: unknown) =>
          err instanceof InvalidParameterError && err.message === `Invalid detach keys (${bad}) provided`,
        bad,
      );
    }
    assert.throws(() => parseDetachKeys('nope', 'exec'), { message: 'Invalid escape keys (nope) provided' });
  });
});

describe('DetachKeyFilter', () => {
  const keys = Buffer.of(16, 17);

  it('passes other bytes through untouched', () => {
    const f = new DetachKeyFilter(keys);
    const chunk = Buffer.from('hello world');
    const r = f.push(chunk);
    assert.equal(r.data, chunk);
    assert.equal(r.detached, false);
  });

  it('detects the sequence within a chunk and drops it and what follows', () => {
    const f = new DetachKeyFilter(keys);
    const r = f.push(bytes('abc', 16, 17, 'zzz'));
    assert.equal(r.data.toString(), 'abc');
    assert.equal(r.detached, true);
    assert.equal(f.detached, true);
  });

  it('detects the sequence split across chunks, holding the prefix back', () => {
    const f = new DetachKeyFilter(keys);
    const r1 = f.push(bytes('ab', 16));
    assert.equal(r1.data.toString(), 'ab');
    assert.equal(f.pending, 1);
    const r2 = f.push(bytes(17));
    assert.equal(r2.data.length, 0);
    assert.equal(r2.detached, true);
  });

  it('passes a false prefix through, in order', () => {
    const f = new DetachKeyFilter(keys);
    assert.equal(f.push(bytes('x', 16)).data.toString(), 'x');
    const r = f.push(bytes('y'));
    assert.deepEqual([...r.data], [16, 0x79]);
    assert.equal(r.detached, false);
    assert.equal(f.pending, 0);
    // A repeated first key restarts the match rather than losing it.
    const g = new DetachKeyFilter(keys);
    const r2 = g.push(bytes(16, 16, 17));
    assert.deepEqual([...r2.data], [16]);
    assert.equal(r2.detached, true);
  });

  it('handles overlapping prefixes in longer sequences', () => {
    const f = new DetachKeyFilter(Buffer.from('aab'));
    const r1 = f.push(Buffer.from('aa'));
    assert.equal(r1.data.length, 0);
    const r2 = f.push(Buffer.from('ab'));
    assert.equal(r2.data.toString(), 'a');
    assert.equal(r2.detached, true);
  });

  it('flushes the held prefix at the end of input', () => {
    const f = new DetachKeyFilter(keys);
    assert.equal(f.push(bytes('q', 16)).data.toString(), 'q');
    assert.deepEqual([...f.flush()], [16]);
    assert.equal(f.pending, 0);
  });
});

async function* messages(list: OutputMessage[], onReturn?: () => void): AsyncGenerator<OutputMessage> {
  try {
    for (const m of list) {
      await new Promise((r) => setImmediate(r));
      yield m;
    }
  } finally {
    onReturn?.();
  }
}

function gather(stream: PassThrough): Promise<Buffer> {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve) => stream.on('end', () => resolve(Buffer.concat(chunks))));
}

describe('pipeOutput', () => {
  const list: OutputMessage[] = [
    { stream: 'stdout', data: Buffer.from('out1\n') },
    { stream: 'stderr', data: Buffer.from('err1\n') },
    { stream: 'stdout', data: Buffer.from('out2') },
  ];

  it('frames output without a TTY and ends the destination', async () => {
    const dest = new PassThrough();
    const body = gather(dest);
    assert.equal(await pipeOutput(messages(list), dest, { tty: false }), 'end');
    const frames = new StdcopyParser().push(await body);
    assert.deepEqual(
      frames.map((f) => [f.stream, f.data.toString()]),
      [
        [1, 'out1\n'],
        [2, 'err1\n'],
        [1, 'out2'],
      ],
    );
  });

  it('writes raw bytes with a TTY, and selects streams', async () => {
    const dest = new PassThrough();
    const body = gather(dest);
    assert.equal(await pipeOutput(messages(list), dest, { tty: true, stderr: false }), 'end');
    assert.equal((await body).toString(), 'out1\nout2');
  });

  it('leaves the destination open with end: false', async () => {
    const dest = new PassThrough();
    assert.equal(await pipeOutput(messages(list), dest, { tty: true, end: false }), 'end');
    assert.equal(dest.writableEnded, false);
  });

  it('stops when the destination closes, releasing the source', async () => {
    const dest = new PassThrough();
    dest.resume();
    let released = false;
    async function* endless(): AsyncGenerator<OutputMessage> {
      try {
        for (;;) {
          await new Promise((r) => setTimeout(r, 5));
          yield { stream: 'stdout', data: Buffer.from('tick\n') };
        }
      } finally {
        released = true;
      }
    }
    const piping = pipeOutput(endless(), dest, { tty: false });
    setTimeout(() => dest.destroy(), 30);
    assert.equal(await piping, 'closed');
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(released, true);
  });

  it('stops on abort while the source is waiting', async () => {
    const dest = new PassThrough();
    const ac = new AbortController();
    async function* silent(): AsyncGenerator<OutputMessage> {
      await new Promise((r) => setTimeout(r, 200));
      yield* [];
    }
    setTimeout(() => ac.abort(), 10);
    assert.equal(await pipeOutput(silent(), dest, { tty: true, signal: ac.signal }), 'aborted');
  });
});

class Sink implements StdinSink {
  readonly got: Buffer[] = [];
  ended = false;
  write(data: Buffer): Promise<void> {
    this.got.push(Buffer.from(data));
    return new Promise((r) => setTimeout(r, 1));
  }
  end(): void {
    this.ended = true;
  }
  get text(): string {
    return Buffer.concat(this.got).toString('latin1');
  }
}

describe('pipeStdin', () => {
  it('copies until EOF, closing stdin when asked, and releases a held prefix', async () => {
    const source = new PassThrough();
    const sink = new Sink();
    const done = pipeStdin(source, sink, { detachKeys: parseDetachKeys(''), closeStdin: true });
    source.write('line 1\n');
    source.write(bytes('x', 16));
    source.end();
    assert.equal(await done, 'eof');
    assert.equal(sink.text, 'line 1\nx\x10');
    assert.equal(sink.ended, true);
  });

  it('detaches on the key sequence split across chunks', async () => {
    const source = new PassThrough();
    const sink = new Sink();
    const done = pipeStdin(source, sink, { detachKeys: parseDetachKeys('ctrl-p,ctrl-q'), closeStdin: true });
    source.write(bytes('ls', 16));
    await new Promise((r) => setTimeout(r, 10));
    source.write(bytes(17, 'after'));
    assert.equal(await done, 'detach');
    assert.equal(sink.text, 'ls');
    assert.equal(sink.ended, false);
  });

  it('passes the keys through without detachKeys', async () => {
    const source = new PassThrough();
    const sink = new Sink();
    const done = pipeStdin(source, sink);
    source.end(bytes(16, 17));
    assert.equal(await done, 'eof');
    assert.equal(sink.text, '\x10\x11');
    assert.equal(sink.ended, false);
  });

  it('reports a closed connection and an abort', async () => {
    const s1 = new PassThrough();
    const closed = pipeStdin(s1, new Sink());
    s1.destroy();
    assert.equal(await closed, 'closed');
    const s2 = new PassThrough();
    const ac = new AbortController();
    const aborted = pipeStdin(s2, new Sink(), { signal: ac.signal });
    ac.abort();
    assert.equal(await aborted, 'aborted');
  });
});
