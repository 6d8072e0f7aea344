import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { errorKind } from '../errors.js';
import { RegistryResponseError, mapRegistryError, parseErrorResponse } from './errors.js';

function map(
  status: number,
  body: string,
  headers: Record<string, string> = { 'content-type': 'application/json' },
  pull = true,
): Error {
  const entries = parseErrorResponse(status, headers, Buffer.from(body), 'manifest');
  return mapRegistryError(new RegistryResponseError(status, entries), {
    target: 'manifest',
    pull,
    name: 'busybox',
    reference: 'latest',
  });
}

describe('registry/errors', () => {
  it('words pull failures as Docker does', () => {
    const unknown = map(404, '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
    assert.equal(errorKind(unknown), 'not-found');
    assert.equal(
      unknown.message,
      'manifest for busybox:latest not found: manifest unknown: manifest unknown',
    );

    const name = map(
      404,
      '{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}',
    );
    assert.equal(
      name.message,
      'repository busybox not found: name unknown: repository name not known to registry',
    );

    // Docker Hub, anonymous pull of a missing repository
    const denied = map(401, '{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}', {
      'content-type': 'application/json',
      'www-authenticate':
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",error="insufficient_scope"',
    });
    assert.equal(errorKind(denied), 'not-found');
    assert.equal(
      denied.message,
      "pull access denied for busybox, repository does not exist or may require 'docker login': denied: requested access to the resource is denied",
    );
  });

  it('maps statuses without an error body', () => {
    assert.equal(
      map(404, '', {}).message,
      'manifest for busybox:latest not found: manifest unknown: manifest unknown',
    );
    assert.equal(errorKind(map(401, '', {})), 'unauthorized');
    assert.equal(map(401, '', {}).message, 'unauthorized: authentication required');
    assert.equal(errorKind(map(403, '', {}, false)), 'forbidden');
    assert.equal(errorKind(map(429, 'slow down', {}, false)), 'unavailable');
    assert.equal(errorKind(map(503, '<html>', {}, false)), 'unavailable');
    assert.equal(errorKind(map(500, '', {}, false)), 'system');
    assert.equal(errorKind(map(405, '', {}, false)), 'not-implemented');
    const invalid = map(
      400,
      '{"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match"}]}',
      {
        'content-type': 'application/json',
      },
      false,
    );
    assert.equal(errorKind(invalid), 'invalid-parameter');
    assert.equal(invalid.message, 'digest invalid: provided digest did not match');
  });

  it('reads the `details` form of token servers', () => {
    const err = map(
      401,
      '{"details":"incorrect username or password"}',
      { 'content-type': 'application/json' },
      false,
    );
    assert.equal(errorKind(err), 'unauthorized');
    assert.equal(err.message, 'unauthorized: incorrect username or password');
  });
});
