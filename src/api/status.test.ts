import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  ConflictError,
  InvalidParameterError,
  NotFoundError,
  NotImplementedError,
  NotModifiedError,
  SystemError,
  UnavailableError,
} from '../errors.js';
import { statusFromError } from './status.js';

describe('statusFromError', () => {
  it('maps each kind to Docker status codes', () => {
    assert.equal(statusFromError(new NotFoundError('No such container: x')), 404);
    assert.equal(statusFromError(new InvalidParameterError('bad')), 400);
    assert.equal(statusFromError(new ConflictError('in use')), 409);
    assert.equal(statusFromError(new NotModifiedError('')), 304);
    assert.equal(statusFromError(new UnavailableError('')), 503);
    assert.equal(statusFromError(new NotImplementedError('')), 501);
    assert.equal(statusFromError(new SystemError('')), 500);
  });

  it('treats unknown errors and non-errors as 500', () => {
    assert.equal(statusFromError(new Error('boom')), 500);
    assert.equal(statusFromError('string'), 500);
    assert.equal(statusFromError(undefined), 500);
  });

  it('walks the cause chain to the first typed error', () => {
    const wrapped = new Error('outer', { cause: new Error('middle', { cause: new NotFoundError('inner') }) });
    assert.equal(statusFromError(wrapped), 404);
  });

  it('recognises errors by kind, not by class identity', () => {
    const foreign = Object.assign(new Error('from elsewhere'), { kind: 'conflict' });
    assert.equal(statusFromError(foreign), 409);
  });
});
