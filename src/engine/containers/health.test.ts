import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { healthCommand } from './health.js';

describe('healthCommand', () => {
  it('reads the Healthcheck.Test forms', () => {
    assert.deepEqual(healthCommand(['CMD', 'true']), ['true']);
    assert.deepEqual(healthCommand(['CMD-SHELL', 'test -f /ok']), ['/bin/sh', '-c', 'test -f /ok']);
    assert.equal(healthCommand(['NONE']), undefined);
    assert.equal(healthCommand([]), undefined);
    assert.equal(healthCommand(undefined), undefined);
  });
});
