import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { pathMatch } from './glob.js';

describe('pathMatch', () => {
  it('matches like Go path.Match', () => {
    assert.equal(pathMatch('busybox*', 'busybox:latest'), true);
    assert.equal(pathMatch('busy*', 'busybox'), true);
    assert.equal(pathMatch('*', 'localhost:5000/app'), false);
    assert.equal(pathMatch('*/*', 'localhost:5000/app'), true);
    assert.equal(pathMatch('b?sybox', 'busybox'), true);
    assert.equal(pathMatch('[ab]usybox', 'busybox'), true);
    assert.equal(pathMatch('[!ab]usybox', 'busybox'), false);
    assert.equal(pathMatch('busybox:1.3[0-9]', 'busybox:1.36'), true);
    assert.equal(pathMatch('a\\*b', 'a*b'), true);
    assert.equal(pathMatch('[', 'x'), false);
  });
});
