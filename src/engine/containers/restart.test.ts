import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { initialState } from './model.js';
import { BACKOFF_MAX_MS, nextBackoff, shouldRestart } from './restart.js';

describe('shouldRestart', () => {
  const state = initialState();
  it('follows each policy', () => {
    assert.equal(shouldRestart({ Name: 'no', MaximumRetryCount: 0 }, state, 1), false);
    assert.equal(shouldRestart({ Name: 'always', MaximumRetryCount: 0 }, state, 0), true);
    assert.equal(shouldRestart({ Name: 'unless-stopped', MaximumRetryCount: 0 }, state, 0), true);
    assert.equal(shouldRestart({ Name: 'on-failure', MaximumRetryCount: 0 }, state, 0), false);
    assert.equal(shouldRestart({ Name: 'on-failure', MaximumRetryCount: 0 }, state, 2), true);
  });
  it('stops at the retry limit', () => {
    assert.equal(
      shouldRestart({ Name: 'on-failure', MaximumRetryCount: 2 }, { ...state, RestartCount: 1 }, 1),
      true,
    );
    assert.equal(
      shouldRestart({ Name: 'on-failure', MaximumRetryCount: 2 }, { ...state, RestartCount: 2 }, 1),
      false,
    );
  });
  it('never restarts after an explicit stop', () => {
    assert.equal(
      shouldRestart({ Name: 'always', MaximumRetryCount: 0 }, { ...state, ManuallyStopped: true }, 0),
      false,
    );
  });
});

describe('nextBackoff', () => {
  it('doubles up to a minute and resets after a long run', () => {
    assert.equal(nextBackoff(0, 0), 100);
    assert.equal(nextBackoff(100, 50), 200);
    assert.equal(nextBackoff(40_000, 50), BACKOFF_MAX_MS);
    assert.equal(nextBackoff(40_000, 20_000), 100);
  });
});
