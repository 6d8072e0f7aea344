import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';

import {
  DetachKeyFilter,
  checkTty,
  detachKeysToBytes,
  terminalSize,
  validateDetachKeys,
} from './terminal.js';

describe('terminal helpers', () => {
  it('reads detach keys as moby/term ToBytes', () => {
    assert.deepEqual(detachKeysToBytes('ctrl-p,ctrl-q'), [16, 17]);
    assert.deepEqual(detachKeysToBytes('ctrl-@,a,DEL,ctrl-_'), [0, 97, 127, 31]);
    assert.throws(() => detachKeysToBytes('ctrl-1'), { message: "Unknown character: 'ctrl-1'" });
    assert.throws(() => validateDetachKeys('ctrl-p,foo'), {
      message: "invalid detach keys (ctrl-p,foo): Unknown character: 'foo'",
    });
    validateDetachKeys('');
    validateDetachKeys(undefined);
  });

  it('spots the detach sequence in keystrokes as the escape proxy does', () => {
    const f = new DetachKeyFilter([16, 17]);
    assert.deepEqual(f.filter(Buffer.from('a')), { forward: Buffer.from('a'), detach: false });
    assert.deepEqual(f.filter(Buffer.from([16])), { forward: Buffer.alloc(0), detach: false });
    assert.deepEqual(f.filter(Buffer.from('x')), { forward: Buffer.from([16, 120]), detach: false });
    f.filter(Buffer.from([16]));
    assert.deepEqual(f.filter(Buffer.from([17])), { forward: Buffer.alloc(0), detach: true });
    // A paste (a read of several bytes) is passed through untouched.
    assert.deepEqual(new DetachKeyFilter().filter(Buffer.from([16, 17])), {
      forward: Buffer.from([16, 17]),
      detach: false,
    });
  });

  it('checks that a TTY with stdin needs a terminal', () => {
    const pipe = new PassThrough();
    assert.throws(() => checkTty(pipe, true, true), { message: 'the input device is not a TTY' });
    checkTty(pipe, false, true);
    checkTty(pipe, true, false);
    assert.deepEqual(terminalSize(new PassThrough()), { height: 0, width: 0 });
    const tty = Object.assign(new PassThrough(), { isTTY: true, rows: 24, columns: 80 });
    assert.deepEqual(terminalSize(tty), { height: 24, width: 80 });
  });
});
