import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { readLines } from './client.js';

async function lines(chunks: Buffer[]): Promise<string[]> {
  const out: string[] = [];
  for await (const line of readLines(chunks)) out.push(line);
  return out;
}

describe('client/readLines', () => {
  it('splits JSON lines across chunks, skips blank ones and keeps a last line without a newline', async () => {
    assert.deepEqual(await lines([Buffer.from('{"a":1}\n\n{"b"'), Buffer.from(':2}\r\n{"c":3}')]), [
      '{"a":1}',
      '{"b":2}',
      '{"c":3}',
    ]);
  });

  it('keeps a UTF-8 character that two chunks split', async () => {
    const text = Buffer.from('{"name":"café ☕"}\n');
    const cut = text.indexOf(Buffer.from('☕')) + 1; // inside the 3-byte character
    assert.deepEqual(await lines([text.subarray(0, cut), text.subarray(cut)]), ['{"name":"café ☕"}']);
  });
});
