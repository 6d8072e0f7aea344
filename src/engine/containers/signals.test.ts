import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { InvalidParameterError } from '../../errors.js';
import { normalizeSignal, signalNumber } from './signals.js';

describe('signals', () => {
  it('takes names with or without SIG, any case, and numbers', () => {
    assert.equal(normalizeSignal('TERM'), 'SIGTERM');
    assert.equal(normalizeSignal('sigkill'), 'SIGKILL');
    assert.equal(normalizeSignal(' 15 '), 'SIGTERM');
    assert.equal(normalizeSignal('SIGRTMIN+3'), 'SIGRTMIN+3');
    assert.equal(signalNumber('SIGHUP'), 1);
    assert.equal(signalNumber('SIGRTMIN+3'), 0);
  });

  it('refuses unknown signals as Docker does', () => {
    for (const bad of ['NOPE', '0', '99', ''])
      assert.throws(
        () => normalizeSignal(bad),
        (err: Error) => err instanceof InvalidParameterError && err.message === `Invalid signal: ${bad}`,
      );
  });
});
