import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { TokenCache, basicCredentials, credentialKey, parseChallenges, scopesCover } from './auth.js';

describe('registry/auth', () => {
  it('parses bearer and basic challenges, with quoted commas', () => {
    assert.deepEqual(
      parseChallenges(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push"',
      ),
      [
        {
          scheme: 'bearer',
          params: {
            realm: 'https://auth.docker.io/token',
            service: 'registry.docker.io',
            scope: 'repository:library/busybox:pull,push',
          },
        },
      ],
    );
    assert.deepEqual(
      parseChallenges('Basic realm="basic-realm", Bearer realm=x, error="insufficient_scope"'),
      [
        { scheme: 'basic', params: { realm: 'basic-realm' } },
        { scheme: 'bearer', params: { realm: 'x', error: 'insufficient_scope' } },
      ],
    );
    assert.deepEqual(parseChallenges(['Basic', 'bearer realm="a\\"b"']), [
      { scheme: 'basic', params: {} },
      { scheme: 'bearer', params: { realm: 'a"b' } },
    ]);
    assert.deepEqual(parseChallenges(undefined), []);
  });

  it('decodes credentials from username/password or auth', () => {
    assert.deepEqual(basicCredentials({ username: 'u', password: 'p' }), { username: 'u', password: 'p' });
    assert.deepEqual(basicCredentials({ auth: Buffer.from('u:p:q').toString('base64') }), {
      username: 'u',
      password: 'p:q',
    });
    assert.equal(basicCredentials({ identitytoken: 't' }), undefined);
    assert.equal(credentialKey(undefined), 'anonymous');
    assert.notEqual(
      credentialKey({ username: 'u', password: 'a' }),
      credentialKey({ username: 'u', password: 'b' }),
    );
  });

  it('matches scopes by resource and actions', () => {
    assert.ok(scopesCover(['repository:a:pull,push'], ['repository:a:pull']));
    assert.ok(!scopesCover(['repository:a:pull'], ['repository:a:pull,push']));
    assert.ok(!scopesCover(['repository:a:pull,push'], ['repository:a:pull', 'repository:b:pull']));
    assert.ok(scopesCover(['repository:a:*'], ['repository:a:pull,push']));
  });

  it('caches tokens until shortly before they expire, and serves narrower scopes', () => {
    let now = 1_000_000;
    const cache = new TokenCache(() => now);
    cache.set('k', ['repository:a:pull,push'], 't1', 60);
    assert.equal(cache.get('k', ['repository:a:pull']), 't1');
    assert.equal(cache.get('k', ['repository:b:pull']), undefined);
    assert.equal(cache.get('other', ['repository:a:pull']), undefined);
    now += 49_000;
    assert.equal(cache.get('k', ['repository:a:pull']), 't1');
    now += 2_000;
    assert.equal(cache.get('k', ['repository:a:pull']), undefined);
    cache.set('k', ['repository:a:pull'], 't2', 300);
    cache.invalidate('k', 't2');
    assert.equal(cache.get('k', ['repository:a:pull']), undefined);
  });
});
