import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { InvalidParameterError } from '../../errors.js';
import type { ImageReference } from './reference.js';
import {
  familiarName,
  familiarString,
  fullName,
  isDigest,
  isImageIdLike,
  isValidTag,
  parseDigest,
  parseReference,
  parseRepositoryAndTag,
  referenceString,
  withDefaultTag,
  withDigest,
  withTag,
} from './reference.js';

const SHA256 = 'sha256:' + 'f'.repeat(64);
const SHA256_B = 'sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c';
const SHA384 = 'sha384:' + 'a'.repeat(96);
const SHA512 = 'sha512:' + 'f'.repeat(128);
const HEX64 = '1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a';

/** Asserts that `fn` throws an InvalidParameterError with exactly `message`. */
function throwsInvalid(fn: () => unknown, message: string, label?: string): void {
  assert.throws(
    fn,
    (err: unknown) => {
      assert.ok(
        err instanceof InvalidParameterError,
        `${label ?? ''}: not an InvalidParameterError: ${String(err)}`,
      );
      assert.equal(err.kind, 'invalid-parameter');
      assert.equal(err.message, message, label);
      return true;
    },
    label,
  );
}

describe('parseReference', () => {
  // input → expected normalized parts (no default tag).
  const valid: [string, ImageReference][] = [
    ['busybox', { domain: 'docker.io', path: 'library/busybox' }],
    ['busybox:latest', { domain: 'docker.io', path: 'library/busybox', tag: 'latest' }],
    ['busybox:1.36.1-musl', { domain: 'docker.io', path: 'library/busybox', tag: '1.36.1-musl' }],
    [`busybox@${SHA256}`, { domain: 'docker.io', path: 'library/busybox', digest: SHA256 }],
    [`busybox:1@${SHA256}`, { domain: 'docker.io', path: 'library/busybox', tag: '1', digest: SHA256 }],
    ['library/busybox', { domain: 'docker.io', path: 'library/busybox' }],
    ['docker.io/busybox', { domain: 'docker.io', path: 'library/busybox' }],
    ['docker.io/library/busybox', { domain: 'docker.io', path: 'library/busybox' }],
    ['index.docker.io/busybox', { domain: 'docker.io', path: 'library/busybox' }],
    ['index.docker.io/user/app:v1', { domain: 'docker.io', path: 'user/app', tag: 'v1' }],
    ['docker.io/library/foo/bar', { domain: 'docker.io', path: 'library/foo/bar' }],
    ['user/app', { domain: 'docker.io', path: 'user/app' }],
    ['store/foo/bar', { domain: 'docker.io', path: 'store/foo/bar' }],
    ['localhost/app', { domain: 'localhost', path: 'app' }],
    ['localhost:5000/a/b:1', { domain: 'localhost:5000', path: 'a/b', tag: '1' }],
    ['localhost', { domain: 'docker.io', path: 'library/localhost' }],
    ['ghcr.io/owner/repo:tag', { domain: 'ghcr.io', path: 'owner/repo', tag: 'tag' }],
    ['example.com/privatebase', { domain: 'example.com', path: 'privatebase' }],
    ['example.com:8000/private/moonbase', { domain: 'example.com:8000', path: 'private/moonbase' }],
    ['127.0.0.1:5000/library/debian', { domain: '127.0.0.1:5000', path: 'library/debian' }],
    ['192.168.0.1:8/debian', { domain: '192.168.0.1:8', path: 'debian' }],
    ['test:5000/repo', { domain: 'test:5000', path: 'repo' }],
    ['test-com:8080/foo', { domain: 'test-com:8080', path: 'foo' }],
    ['xn--n3h.com:18080/foo', { domain: 'xn--n3h.com:18080', path: 'foo' }],
    [`test:5000/repo:tag@${SHA256}`, { domain: 'test:5000', path: 'repo', tag: 'tag', digest: SHA256 }],
    [
      'sub-dom1.foo.com/bar/baz/quux:some-long-tag',
      { domain: 'sub-dom1.foo.com', path: 'bar/baz/quux', tag: 'some-long-tag' },
    ],
    [
      'b.gcr.io/test.example.com/my-app:test.example.com',
      { domain: 'b.gcr.io', path: 'test.example.com/my-app', tag: 'test.example.com' },
    ],
    [
      `xn--7o8h.com/myimage:xn--7o8h.com@${SHA512}`,
      { domain: 'xn--7o8h.com', path: 'myimage', tag: 'xn--7o8h.com', digest: SHA512 },
    ],
    ['[2001:db8::1]/repo', { domain: '[2001:db8::1]', path: 'repo' }],
    ['[2001:db8:1:2:3:4:5:6]/repo:tag', { domain: '[2001:db8:1:2:3:4:5:6]', path: 'repo', tag: 'tag' }],
    ['[2001:db8::1]:5000/repo', { domain: '[2001:db8::1]:5000', path: 'repo' }],
    [`[::1]:5000/repo@${SHA256}`, { domain: '[::1]:5000', path: 'repo', digest: SHA256 }],
    ['[fc00::1]:5000/docker/docker', { domain: '[fc00::1]:5000', path: 'docker/docker' }],
    // A single name is always a Docker Hub repository, even if it looks like a host.
    ['test.com:5000', { domain: 'docker.io', path: 'library/test.com', tag: '5000' }],
    ['192.168.1.1', { domain: 'docker.io', path: 'library/192.168.1.1' }],
    ['192.168.1.1:5000', { domain: 'docker.io', path: 'library/192.168.1.1', tag: '5000' }],
    ['foo_bar.com:8080', { domain: 'docker.io', path: 'library/foo_bar.com', tag: '8080' }],
    ['test_com/foo', { domain: 'docker.io', path: 'test_com/foo' }],
    ['docker/migrator', { domain: 'docker.io', path: 'docker/migrator' }],
    // Uppercase in the first element makes it a domain (namespaces are lowercase).
    ['Docker/docker', { domain: 'Docker', path: 'docker' }],
    ['FOO/bar', { domain: 'FOO', path: 'bar' }],
    // Tags may have uppercase letters.
    ['lowercase:Uppercase', { domain: 'docker.io', path: 'library/lowercase', tag: 'Uppercase' }],
    // Path component separators.
    ['docker---rules/docker', { domain: 'docker.io', path: 'docker---rules/docker' }],
    ['dock__er/docker', { domain: 'docker.io', path: 'dock__er/docker' }],
    ['d/docker', { domain: 'docker.io', path: 'd/docker' }],
    ['jess/t', { domain: 'docker.io', path: 'jess/t' }],
    ['ubuntu-12.04-base', { domain: 'docker.io', path: 'library/ubuntu-12.04-base' }],
    // 64 characters, but not hexadecimal; and a hex name qualified with a domain.
    [
      'thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev',
      {
        domain: 'docker.io',
        path: 'library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev',
      },
    ],
    [`docker.io/${HEX64}`, { domain: 'docker.io', path: `library/${HEX64}` }],
    // 63 hex digits is a name, not an ID.
    [HEX64.slice(1), { domain: 'docker.io', path: `library/${HEX64.slice(1)}` }],
    // A tag of the maximum length (128).
    [`busybox:${'t'.repeat(128)}`, { domain: 'docker.io', path: 'library/busybox', tag: 't'.repeat(128) }],
    // A path of exactly 255 characters.
    [
      'a/'.repeat(127) + 'a:tag-puts-this-over-max',
      { domain: 'docker.io', path: 'a/'.repeat(127) + 'a', tag: 'tag-puts-this-over-max' },
    ],
    // An invalid host that is a valid path: distribution/reference keeps it without a domain.
    ['a_b.c/d', { domain: '', path: 'a_b.c/d' }],
  ];
  for (const [input, expected] of valid) {
    it(`parses ${input.length > 80 ? input.slice(0, 40) + '…' : input}`, () => {
      assert.deepEqual(parseReference(input), expected);
    });
  }

  const invalidFormat = 'invalid reference format';
  // input → Docker's error message.
  const invalid: [string, string][] = [
    ['', invalidFormat],
    [':justtag', invalidFormat],
    [`@${SHA256}`, invalidFormat],
    ['https://github.com/docker/docker', invalidFormat],
    ['-docker', invalidFormat],
    ['-docker/docker', invalidFormat],
    ['docker-/docker', invalidFormat],
    ['-docker-/docker', invalidFormat],
    ['-docker.io/docker/docker', invalidFormat],
    ['docker///docker', invalidFormat],
    ['docker.io/docker///docker', invalidFormat],
    ['docker/', invalidFormat],
    ['____/____', invalidFormat],
    ['_docker/_docker', invalidFormat],
    ['dock..er/docker', invalidFormat],
    ['dock_.er/docker', invalidFormat],
    ['dock-.er/docker', invalidFormat],
    ['aa/asdf$$^/aa', invalidFormat],
    ['[fc00::1]', invalidFormat],
    ['[fc00::1]:5000', invalidFormat],
    ['[2001:db8::1]:tag', invalidFormat],
    ['fc00::1:5000/debian', invalidFormat],
    ['[fe80::1%eth0]:5000/debian', invalidFormat],
    ['[fe80::1%@invalidzone]:5000/repo', invalidFormat],
    ['[2001:db8:3:4::192.0.2.33]:5000/debian', invalidFormat],
    ['busybox:', invalidFormat],
    ['busybox:-tag', invalidFormat],
    ['busybox:.tag', invalidFormat],
    [`busybox:${'t'.repeat(129)}`, invalidFormat],
    ['busybox:tag with space', invalidFormat],
    ['busybox@sha256:abc', invalidFormat],
    ['busybox@', invalidFormat],
    [' busybox', invalidFormat],
    ['busybox/', invalidFormat],
    ['docker/Docker', 'invalid reference format: repository name (docker/Docker) must be lowercase'],
    ['Busybox', 'invalid reference format: repository name (library/Busybox) must be lowercase'],
    ['Busybox:latest', 'invalid reference format: repository name (library/Busybox) must be lowercase'],
    ['Uppercase:tag', 'invalid reference format: repository name (library/Uppercase) must be lowercase'],
    [
      'docker.io/docker/Docker',
      'invalid reference format: repository name (docker/Docker) must be lowercase',
    ],
    [
      'test:5000/Uppercase/lowercase:tag',
      'invalid reference format: repository name (Uppercase/lowercase) must be lowercase',
    ],
    [HEX64, `invalid repository name (${HEX64}), cannot specify 64-byte hexadecimal strings`],
    ['a/'.repeat(128) + 'a:tag', 'repository name must not be more than 255 characters'],
    [
      'this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255/docker',
      'repository name must not be more than 255 characters',
    ],
    // Digests are checked by go-digest once the reference grammar accepts them.
    ['repo@sha256:' + 'f'.repeat(34), 'invalid checksum digest length'],
    ['validname@invaliddigest:' + 'f'.repeat(64), 'unsupported digest algorithm'],
    ['busybox@sha256:' + 'F'.repeat(64), 'invalid checksum digest format'],
    ['busybox:1@SHA256:' + 'f'.repeat(64), 'invalid checksum digest format'],
    // Docker's lowercase check looks at everything before the first ':', digest included.
    [
      'busybox@SHA256:' + 'f'.repeat(64),
      'invalid reference format: repository name (library/busybox@SHA256) must be lowercase',
    ],
    ['busybox@sha512:' + 'f'.repeat(64), 'invalid checksum digest length'],
  ];
  for (const [input, message] of invalid) {
    it(`refuses ${JSON.stringify(input.length > 60 ? input.slice(0, 40) + '…' : input)}`, () => {
      throwsInvalid(() => parseReference(input), message, input);
    });
  }

  it('does not add a default tag', () => {
    assert.equal(parseReference('busybox').tag, undefined);
    assert.equal(parseReference('busybox').digest, undefined);
  });

  it('stays fast on long near-misses', () => {
    const inputs = [
      'a'.repeat(50_000) + '!',
      'a-'.repeat(25_000) + '!',
      'a.'.repeat(25_000) + '/!',
      'a__'.repeat(15_000) + '_',
      'a/'.repeat(25_000) + '!',
      'a.b-'.repeat(10_000) + ':5000/x!',
      '[' + ':'.repeat(50_000),
    ];
    const start = process.hrtime.bigint();
    for (const input of inputs) assert.throws(() => parseReference(input), InvalidParameterError);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    assert.ok(ms < 2000, `took ${ms} ms`);
  });
});

describe('names and strings', () => {
  // distribution/reference's TestParseRepositoryInfo: every spelling normalizes to the same name.
  const cases: { spellings: string[]; familiar: string; full: string; domain: string; path: string }[] = [
    {
      spellings: ['fooo/bar', 'docker.io/fooo/bar', 'index.docker.io/fooo/bar'],
      familiar: 'fooo/bar',
      full: 'docker.io/fooo/bar',
      domain: 'docker.io',
      path: 'fooo/bar',
    },
    {
      spellings: [
        'ubuntu',
        'library/ubuntu',
        'docker.io/library/ubuntu',
        'docker.io/ubuntu',
        'index.docker.io/ubuntu',
      ],
      familiar: 'ubuntu',
      full: 'docker.io/library/ubuntu',
      domain: 'docker.io',
      path: 'library/ubuntu',
    },
    {
      spellings: ['nonlibrary/ubuntu', 'docker.io/nonlibrary/ubuntu'],
      familiar: 'nonlibrary/ubuntu',
      full: 'docker.io/nonlibrary/ubuntu',
      domain: 'docker.io',
      path: 'nonlibrary/ubuntu',
    },
    {
      spellings: ['other/library', 'docker.io/other/library'],
      familiar: 'other/library',
      full: 'docker.io/other/library',
      domain: 'docker.io',
      path: 'other/library',
    },
    {
      spellings: ['127.0.0.1:8000/private/moonbase'],
      familiar: '127.0.0.1:8000/private/moonbase',
      full: '127.0.0.1:8000/private/moonbase',
      domain: '127.0.0.1:8000',
      path: 'private/moonbase',
    },
    {
      spellings: ['example.com/privatebase'],
      familiar: 'example.com/privatebase',
      full: 'example.com/privatebase',
      domain: 'example.com',
      path: 'privatebase',
    },
    {
      spellings: ['localhost:5000/a/b'],
      familiar: 'localhost:5000/a/b',
      full: 'localhost:5000/a/b',
      domain: 'localhost:5000',
      path: 'a/b',
    },
    {
      // Nested names under library/ are not shortened.
      spellings: ['library/foo/bar', 'docker.io/library/foo/bar'],
      familiar: 'library/foo/bar',
      full: 'docker.io/library/foo/bar',
      domain: 'docker.io',
      path: 'library/foo/bar',
    },
    {
      spellings: ['store/foo/bar'],
      familiar: 'store/foo/bar',
      full: 'docker.io/store/foo/bar',
      domain: 'docker.io',
      path: 'store/foo/bar',
    },
    { spellings: ['Foo/bar'], familiar: 'Foo/bar', full: 'Foo/bar', domain: 'Foo', path: 'bar' },
  ];
  for (const c of cases) {
    for (const spelling of c.spellings) {
      it(`${spelling} → ${c.familiar} / ${c.full}`, () => {
        const ref = parseReference(spelling);
        assert.equal(ref.domain, c.domain);
        assert.equal(ref.path, c.path);
        assert.equal(familiarName(ref), c.familiar);
        assert.equal(fullName(ref), c.full);
      });
    }
  }

  it('formats tags and digests', () => {
    const table: [string, string, string][] = [
      // input, familiarString, referenceString
      ['busybox', 'busybox', 'docker.io/library/busybox'],
      ['busybox:latest', 'busybox:latest', 'docker.io/library/busybox:latest'],
      [`busybox@${SHA256_B}`, `busybox@${SHA256_B}`, `docker.io/library/busybox@${SHA256_B}`],
      [
        `busybox:latest@${SHA256_B}`,
        `busybox:latest@${SHA256_B}`,
        `docker.io/library/busybox:latest@${SHA256_B}`,
      ],
      ['user/app:v1', 'user/app:v1', 'docker.io/user/app:v1'],
      ['localhost:5000/a/b:1', 'localhost:5000/a/b:1', 'localhost:5000/a/b:1'],
      [`ghcr.io/o/r@${SHA512}`, `ghcr.io/o/r@${SHA512}`, `ghcr.io/o/r@${SHA512}`],
    ];
    for (const [input, familiar, full] of table) {
      const ref = parseReference(input);
      assert.equal(familiarString(ref), familiar, input);
      assert.equal(referenceString(ref), full, input);
      // Both forms parse back to the same reference.
      assert.deepEqual(parseReference(familiar), ref, familiar);
      assert.deepEqual(parseReference(full), ref, full);
    }
  });
});

describe('withDefaultTag', () => {
  it('adds latest to a bare name only', () => {
    assert.deepEqual(withDefaultTag(parseReference('busybox')), {
      domain: 'docker.io',
      path: 'library/busybox',
      tag: 'latest',
    });
    assert.equal(familiarString(withDefaultTag(parseReference('busybox'))), 'busybox:latest');
    assert.equal(withDefaultTag(parseReference('busybox:1')).tag, '1');
    const digested = withDefaultTag(parseReference(`busybox@${SHA256}`));
    assert.equal(digested.tag, undefined);
    assert.equal(digested.digest, SHA256);
  });
  it('does not modify its argument', () => {
    const ref = parseReference('busybox');
    withDefaultTag(ref);
    assert.equal(ref.tag, undefined);
  });
});

describe('withTag / withDigest', () => {
  it('replaces the tag and keeps the digest', () => {
    const ref = withTag(parseReference(`busybox:1@${SHA256}`), 'TAG5');
    assert.equal(familiarString(ref), `busybox:TAG5@${SHA256}`);
  });
  it('refuses bad tags', () => {
    for (const bad of ['', '-foo', '.x', 'a:b', 'a/b', 't'.repeat(129)]) {
      throwsInvalid(() => withTag(parseReference('busybox'), bad), 'invalid tag format', bad);
    }
  });
  it('pins the bare name to a digest', () => {
    const ref = withDigest(parseReference('busybox:1'), SHA256_B);
    assert.deepEqual(ref, { domain: 'docker.io', path: 'library/busybox', digest: SHA256_B });
    throwsInvalid(() => withDigest(parseReference('busybox'), 'foo'), 'invalid checksum digest format');
  });
  it('validates tags', () => {
    for (const good of ['latest', '1.0', 'v1-rc.2', '_x', 'A', 't'.repeat(128)])
      assert.ok(isValidTag(good), good);
    for (const bad of ['', '-1', '.1', 'a b', 'a@b', 't'.repeat(129)]) assert.ok(!isValidTag(bad), bad);
  });
});

describe('parseRepositoryAndTag', () => {
  const table: [string, string | undefined, string][] = [
    // fromImage, tag, referenceString
    ['busybox', undefined, 'docker.io/library/busybox'],
    ['busybox', '', 'docker.io/library/busybox'],
    ['busybox', 'latest', 'docker.io/library/busybox:latest'],
    ['busybox', 'Uppercase', 'docker.io/library/busybox:Uppercase'],
    ['busybox:', '', 'docker.io/library/busybox'],
    ['busybox:', '1.36', 'docker.io/library/busybox:1.36'],
    ['busybox:1.35', '1.36', 'docker.io/library/busybox:1.36'],
    ['busybox:1.35', '', 'docker.io/library/busybox:1.35'],
    ['busybox', SHA256_B, `docker.io/library/busybox@${SHA256_B}`],
    [`busybox:1@${SHA256}`, SHA256_B, `docker.io/library/busybox@${SHA256_B}`],
    [`busybox@${SHA256}`, 'v1', `docker.io/library/busybox:v1@${SHA256}`],
    ['localhost:5000/a/b', '2', 'localhost:5000/a/b:2'],
  ];
  for (const [repo, tag, expected] of table) {
    it(`${repo} + ${String(tag)}`, () => {
      assert.equal(referenceString(parseRepositoryAndTag(repo, tag)), expected);
    });
  }
  it('refuses bad names and tags', () => {
    throwsInvalid(
      () => parseRepositoryAndTag('Busybox', 'latest'),
      'invalid reference format: repository name (library/Busybox) must be lowercase',
    );
    throwsInvalid(() => parseRepositoryAndTag('busybox', 'bad tag'), 'invalid tag format');
    // Not a valid digest, and ':' is not allowed in a tag.
    throwsInvalid(() => parseRepositoryAndTag('busybox', 'sha256:abc'), 'invalid tag format');
    throwsInvalid(() => parseRepositoryAndTag('', 'latest'), 'invalid reference format');
    throwsInvalid(() => parseRepositoryAndTag('busybox::', ''), 'invalid reference format');
  });
});

describe('digests', () => {
  it('accepts sha256, sha384 and sha512 in lowercase hex', () => {
    for (const d of [SHA256, SHA256_B, SHA384, SHA512]) {
      assert.ok(isDigest(d), d);
      assert.equal(parseDigest(d), d);
    }
  });
  it("refuses others with go-digest's messages", () => {
    const table: [string, string][] = [
      ['', 'invalid checksum digest format'],
      ['sha256', 'invalid checksum digest format'],
      ['sha256:', 'invalid checksum digest format'],
      [':' + 'f'.repeat(64), 'invalid checksum digest format'],
      [HEX64, 'invalid checksum digest format'],
      ['sha256:abc', 'invalid checksum digest length'],
      ['sha256:' + 'f'.repeat(65), 'invalid checksum digest length'],
      ['sha512:' + 'f'.repeat(64), 'invalid checksum digest length'],
      ['sha256:' + 'F'.repeat(64), 'invalid checksum digest format'],
      ['sha256:' + 'g'.repeat(64), 'invalid checksum digest format'],
      ['SHA256:' + 'f'.repeat(64), 'invalid checksum digest format'],
      ['md5:d41d8cd98f00b204e9800998ecf8427e', 'unsupported digest algorithm'],
      ['sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564', 'unsupported digest algorithm'],
      ['constructor:abc', 'unsupported digest algorithm'],
    ];
    for (const [input, message] of table) {
      assert.ok(!isDigest(input), input);
      throwsInvalid(() => parseDigest(input), message, input);
    }
  });
});

describe('isImageIdLike', () => {
  it('accepts full IDs and hex prefixes', () => {
    for (const id of ['a', '0', 'abc123', HEX64, `sha256:${HEX64}`, 'sha256:abc', HEX64.slice(0, 12)]) {
      assert.ok(isImageIdLike(id), id);
    }
  });
  it('refuses what cannot be an ID', () => {
    for (const text of [
      '',
      'xyz',
      'ABC',
      HEX64 + 'a',
      'sha256:',
      'sha512:abc',
      'busybox',
      'abc:latest',
      ' abc',
    ]) {
      assert.ok(!isImageIdLike(text), text);
    }
  });
});
