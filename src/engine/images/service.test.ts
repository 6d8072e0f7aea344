import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { NotFoundError } from '../../errors.js';
import { noSuchImage } from './service.js';

describe('image service: not found', () => {
  it("words a missing image as moby's ErrImageDoesNotExist", () => {
    const message = (name: string): string => noSuchImage(name).message;
    assert.ok(noSuchImage('x') instanceof NotFoundError);
    assert.equal(message('busybox'), 'No such image: busybox:latest');
    assert.equal(message('docker.io/library/busybox:1.36'), 'No such image: busybox:1.36');
    assert.equal(message('localhost:5000/app'), 'No such image: localhost:5000/app:latest');
    assert.equal(message(`app@sha256:${'a'.repeat(64)}`), `No such image: app@sha256:${'a'.repeat(64)}`);
    assert.equal(message('b'.repeat(64)), `No such image: sha256:${'b'.repeat(64)}`);
    assert.equal(message(`sha256:${'c'.repeat(64)}`), `No such image: sha256:${'c'.repeat(64)}`);
    assert.equal(message('444e6a6'), 'No such image: 444e6a6:latest');
    assert.equal(message('Not/Valid'), 'No such image: Not/Valid');
  });
});
