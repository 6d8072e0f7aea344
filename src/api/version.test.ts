import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { API_VERSION, compareVersions, negotiateVersion, splitVersionPrefix } from './version.js';

describe('compareVersions', () => {
  it('compares numerically per segment', () => {
    assert.equal(compareVersions('1.9', '1.10'), -1);
    assert.equal(compareVersions('1.47', '1.47'), 0);
    assert.equal(compareVersions('1.47', '1.47.0'), 0);
    assert.equal(compareVersions('2.0', '1.99'), 1);
  });
});

describe('splitVersionPrefix', () => {
  it('splits a versioned path', () => {
    assert.deepEqual(splitVersionPrefix('/v1.47/containers/json'), {
      version: '1.47',
      path: '/containers/json',
    });
    assert.deepEqual(splitVersionPrefix('/v1.24/_ping'), { version: '1.24', path: '/_ping' });
  });
  it('leaves bare and non-version paths alone', () => {
    assert.deepEqual(splitVersionPrefix('/_ping'), { version: undefined, path: '/_ping' });
    assert.deepEqual(splitVersionPrefix('/vx/_ping'), { version: undefined, path: '/vx/_ping' });
    assert.deepEqual(splitVersionPrefix('/volumes'), { version: undefined, path: '/volumes' });
  });
});

describe('negotiateVersion', () => {
  it('defaults to the newest version', () => {
    assert.equal(negotiateVersion(undefined), API_VERSION);
    assert.equal(negotiateVersion(''), API_VERSION);
  });
  it('accepts the whole window', () => {
    assert.equal(negotiateVersion('1.24'), '1.24');
    assert.equal(negotiateVersion('1.40'), '1.40');
    assert.equal(negotiateVersion('1.47'), '1.47');
  });
  it('rejects too old and too new with Docker messages', () => {
    assert.throws(() => negotiateVersion('1.23'), {
      kind: 'invalid-parameter',
      message:
        'client version 1.23 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version',
    });
    assert.throws(() => negotiateVersion('1.48'), {
      kind: 'invalid-parameter',
      message: 'client version 1.48 is too new. Maximum supported API version is 1.47',
    });
  });
});
