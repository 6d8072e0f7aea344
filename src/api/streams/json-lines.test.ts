import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, it } from 'node:test';

import { JsonLinesStream } from './json-lines.js';

/** A response whose socket takes `room` writes before it needs to drain. */
class FakeResponse extends EventEmitter {
  readonly written: Buffer[] = [];
  destroyed = false;
  room: number;

  constructor(room: number) {
    super();
    this.room = room;
  }

  write(chunk: Buffer): boolean {
    this.written.push(chunk);
    return --this.room > 0;
  }

  drain(room: number): void {
    this.room = room;
    this.emit('drain');
  }
}

function stream(res: FakeResponse): JsonLinesStream {
  return new JsonLinesStream(res as unknown as ServerResponse, new AbortController().signal);
}

const line = (s: string): Buffer => Buffer.from(`${s}\n`);

describe('JsonLinesStream.offer', () => {
  it('writes each message at once while the client keeps up, the same buffer it was given', () => {
    const res = new FakeResponse(10);
    const out = stream(res);
    const a = line('{"a":1}');
    out.offer(a);
    out.offer(line('{"b":2}'));
    assert.equal(res.written.length, 2);
    assert.equal(res.written[0], a);
  });

  it('keeps only the newest message while the socket drains, and sends it on drain', () => {
    const res = new FakeResponse(1);
    const out = stream(res);
    out.offer(line('1'));
    out.offer(line('2'));
    out.offer(line('3'));
    assert.deepEqual(res.written.map(String), ['1\n']);
    res.drain(10);
    assert.deepEqual(res.written.map(String), ['1\n', '3\n']);
    out.offer(line('4'));
    assert.deepEqual(res.written.map(String), ['1\n', '3\n', '4\n']);
    assert.equal(res.listenerCount('drain'), 0);
  });

  it('writes nothing once ended or once the response is destroyed', () => {
    const res = new FakeResponse(10);
    const ended = stream(res);
    Object.assign(res, { end: () => undefined });
    ended.end();
    ended.offer(line('x'));
    const gone = new FakeResponse(10);
    gone.destroyed = true;
    stream(gone).offer(line('y'));
    assert.equal(res.written.length + gone.written.length, 0);
  });
});
