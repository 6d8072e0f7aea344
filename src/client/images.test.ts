import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  ReferenceError,
  encodeRegistryAuth,
  familiarName,
  familiarString,
  imagePath,
  parseAnyReference,
  parseNormalizedNamed,
  queryString,
  referenceName,
  referenceString,
  tagNameOnly,
} from './images.js';

const HEX = 'a'.repeat(64);

describe('images client: references (distribution/reference)', () => {
  const cases: readonly [string, string, string][] = [
    ['alpine', 'docker.io/library/alpine', 'alpine'],
    ['alpine:3.20', 'docker.io/library/alpine:3.20', 'alpine:3.20'],
    ['library/alpine', 'docker.io/library/alpine', 'alpine'],
    ['me/app:1', 'docker.io/me/app:1', 'me/app:1'],
    ['docker.io/me/app', 'docker.io/me/app', 'me/app'],
    ['index.docker.io/me/app', 'docker.io/me/app', 'me/app'],
    ['docker.io/library/a/b', 'docker.io/library/a/b', 'library/a/b'],
    ['localhost/app', 'localhost/app', 'localhost/app'],
    ['localhost:5000/team/app:1.0', 'localhost:5000/team/app:1.0', 'localhost:5000/team/app:1.0'],
    ['ghcr.io/o/r@sha256:' + HEX, 'ghcr.io/o/r@sha256:' + HEX, 'ghcr.io/o/r@sha256:' + HEX],
    ['[::1]:5000/x:y', '[::1]:5000/x:y', '[::1]:5000/x:y'],
    ['Upper/app', 'Upper/app', 'Upper/app'],
  ];
  for (const [input, full, familiar] of cases) {
    it(`${input} → ${full}`, () => {
      const ref = parseNormalizedNamed(input);
      assert.equal(referenceString(ref), full);
      assert.equal(familiarString(ref), familiar);
    });
  }

  it('splits name, tag and digest', () => {
    const ref = parseNormalizedNamed(`localhost:5000/a/b:1@sha256:${HEX}`);
    assert.deepEqual(ref, { domain: 'localhost:5000', path: 'a/b', tag: '1', digest: `sha256:${HEX}` });
    assert.equal(referenceName(ref), 'localhost:5000/a/b');
    assert.equal(familiarName(parseNormalizedNamed('alpine:1')), 'alpine');
    assert.equal(
      referenceString(tagNameOnly(parseNormalizedNamed('alpine'))),
      'docker.io/library/alpine:latest',
    );
    assert.equal(tagNameOnly(parseNormalizedNamed('alpine@sha256:' + HEX)).tag, undefined);
  });

  it("refuses what docker refuses, with docker's messages", () => {
    const bad: readonly [string, string][] = [
      ['Alpine', 'invalid reference format: repository name (library/Alpine) must be lowercase'],
      ['', 'invalid reference format'],
      ['a b', 'invalid reference format'],
      ['alpine:', 'invalid reference format'],
      [HEX, `invalid repository name (${HEX}), cannot specify 64-byte hexadecimal strings`],
      ['alpine@sha256:abc', 'invalid reference format'],
      [`alpine@md5:${'a'.repeat(32)}`, 'unsupported digest algorithm'],
      ['x/' + 'a'.repeat(256), 'repository name must not be more than 255 characters'],
    ];
    for (const [input, message] of bad) {
      assert.throws(
        () => parseNormalizedNamed(input),
        (e: unknown) => {
          assert.ok(e instanceof ReferenceError);
          assert.equal(e.message, message, input);
          return true;
        },
      );
    }
  });

  it('takes image IDs as digest references', () => {
    assert.deepEqual(parseAnyReference(HEX), { digest: `sha256:${HEX}` });
    assert.deepEqual(parseAnyReference(`sha256:${HEX}`), { digest: `sha256:${HEX}` });
    assert.equal(
      referenceString(parseAnyReference('alpine') as ReturnType<typeof parseNormalizedNamed>),
      'docker.io/library/alpine',
    );
  });
});

describe('images client: requests', () => {
  it('escapes image names in paths per segment, as Go escapes a path', () => {
    assert.equal(imagePath('localhost:5000/a/b:1', '/json'), '/images/localhost:5000/a/b:1/json');
    assert.equal(imagePath(`alpine@sha256:${HEX}`), `/images/alpine@sha256:${HEX}`);
    assert.equal(imagePath('we ird?#%', '/history'), '/images/we%20ird%3F%23%25/history');
  });

  it('repeats array parameters and skips undefined ones', () => {
    assert.equal(
      queryString({ names: ['a', 'b:1'], quiet: '1', x: undefined }),
      '?names=a&names=b%3A1&quiet=1',
    );
    assert.equal(queryString({ x: undefined }), '');
  });

  it('encodes X-Registry-Auth as base64url JSON, as moby authconfig.Encode', () => {
    assert.equal(encodeRegistryAuth({}), 'e30=');
    const encoded = encodeRegistryAuth({
      serveraddress: 'localhost:5000',
      password: 'p?>',
      username: 'user',
    });
    assert.equal(
      Buffer.from(encoded, 'base64').toString(),
      '{"username":"user","password":"p?\\u003e","serveraddress":"localhost:5000"}',
    );
    assert.match(encoded, /^[A-Za-z0-9_-]+=*$/);
    assert.equal(
      encoded,
      'eyJ1c2VybmFtZSI6InVzZXIiLCJwYXNzd29yZCI6InA_XHUwMDNlIiwic2VydmVyYWRkcmVzcyI6ImxvY2FsaG9zdDo1MDAwIn0=',
    );
  });
});
