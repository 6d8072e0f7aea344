import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { humanSize, parseBytes } from './units.js';

describe('parseBytes', () => {
  it('reads binary units', () => {
    assert.equal(parseBytes('512'), 512);
    assert.equal(parseBytes('64k'), 65536);
    assert.equal(parseBytes('64MB'), 64 * 1024 * 1024);
    assert.equal(parseBytes('1GiB'), 1024 ** 3);
    assert.equal(parseBytes('1.5g'), 1.5 * 1024 ** 3);
  });
  it('rejects nonsense', () => {
    for (const bad of ['', 'x', '-1', '10q', '1 2']) assert.equal(parseBytes(bad), undefined, bad);
  });
});

describe('humanSize', () => {
  it('prints like go-units', () => {
    assert.equal(humanSize(512), '512B');
    assert.equal(humanSize(1500), '1.5kB');
    assert.equal(humanSize(1_234_567), '1.23MB');
  });
});
