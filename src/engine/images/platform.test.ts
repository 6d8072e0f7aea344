import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { InvalidParameterError } from '../../errors.js';
import type { Platform } from './platform.js';
import {
  formatPlatform,
  formatPlatformAll,
  hostPlatform,
  normalizePlatform,
  parsePlatform,
  platformFromNode,
  platformMatches,
  platformMatchesStrict,
  selectManifest,
} from './platform.js';

const AMD64_HOST: Platform = { os: 'linux', architecture: 'amd64' };
const ARM64_HOST: Platform = { os: 'linux', architecture: 'arm64', variant: 'v8' };
const ARMV7_HOST: Platform = { os: 'linux', architecture: 'arm', variant: 'v7' };
const ARMV6_HOST: Platform = { os: 'linux', architecture: 'arm', variant: 'v6' };

const p = (os: string, architecture: string, variant?: string): Platform =>
  variant === undefined ? { os, architecture } : { os, architecture, variant };

function throwsInvalid(fn: () => unknown, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InvalidParameterError, String(err));
    assert.equal(err.message, message);
    return true;
  });
}

describe('parsePlatform', () => {
  const table: [string, Platform, Platform?][] = [
    // spec, expected, host (default: linux/amd64)
    ['linux', p('linux', 'amd64')],
    ['linux/amd64', p('linux', 'amd64')],
    ['LINUX/AMD64', p('linux', 'amd64')],
    ['linux/x86_64', p('linux', 'amd64')],
    ['linux/x86-64', p('linux', 'amd64')],
    ['linux/amd64/v1', p('linux', 'amd64')],
    ['linux/amd64/v3', p('linux', 'amd64', 'v3')],
    ['linux/i386', p('linux', '386')],
    ['linux/386', p('linux', '386')],
    ['linux/arm64', p('linux', 'arm64')],
    ['linux/aarch64', p('linux', 'arm64')],
    ['linux/arm64/v8', p('linux', 'arm64', 'v8')],
    ['linux/arm64/8', p('linux', 'arm64', 'v8')],
    ['linux/aarch64/v8.0', p('linux', 'arm64', 'v8')],
    ['linux/arm64/v8.2', p('linux', 'arm64', 'v8.2')],
    ['linux/arm64/9', p('linux', 'arm64', 'v9')],
    // arm's default variant v7 is left out when no variant was given.
    ['linux/arm', p('linux', 'arm')],
    ['linux/armhf', p('linux', 'arm')],
    ['linux/arm/v7', p('linux', 'arm', 'v7')],
    ['linux/arm/7', p('linux', 'arm', 'v7')],
    ['linux/arm/v6', p('linux', 'arm', 'v6')],
    ['linux/arm/6', p('linux', 'arm', 'v6')],
    ['linux/armel', p('linux', 'arm', 'v6')],
    ['linux/arm/v5', p('linux', 'arm', 'v5')],
    ['linux/s390x', p('linux', 's390x')],
    ['linux/ppc64le', p('linux', 'ppc64le')],
    ['linux/riscv64', p('linux', 'riscv64')],
    ['macos/arm64', p('darwin', 'arm64')],
    ['windows/amd64', p('windows', 'amd64')],
    // Unknown OS and architecture names are kept when both are given, as containerd does.
    ['plan10/quantum', p('plan10', 'quantum')],
    // An architecture alone gets the host OS.
    ['amd64', p('linux', 'amd64')],
    ['x86_64', p('linux', 'amd64')],
    ['aarch64', p('linux', 'arm64')],
    ['arm64', p('linux', 'arm64')],
    ['armhf', p('linux', 'arm')],
    ['armel', p('linux', 'arm', 'v6')],
    ['i386', p('linux', '386')],
    ['s390x', p('linux', 's390x')],
    // An OS alone gets the host architecture; arm hosts other than v7 keep their variant.
    ['linux', p('linux', 'arm64'), ARM64_HOST],
    ['linux', p('linux', 'arm'), ARMV7_HOST],
    ['linux', p('linux', 'arm', 'v6'), ARMV6_HOST],
    ['darwin', p('darwin', 'amd64')],
    // OS version and features.
    ['windows(10.0.17763)/amd64', { os: 'windows', architecture: 'amd64', osVersion: '10.0.17763' }],
    [
      'windows(10.0.17763+win32k)/amd64',
      { os: 'windows', architecture: 'amd64', osVersion: '10.0.17763', osFeatures: ['win32k'] },
    ],
    ['linux(+a+b)/amd64', { os: 'linux', architecture: 'amd64', osFeatures: ['a', 'b'] }],
    ['linux(1%2B2)/amd64', { os: 'linux', architecture: 'amd64', osVersion: '1+2' }],
  ];
  for (const [spec, expected, host] of table) {
    it(`${spec}${host ? ` on ${formatPlatform(host)}` : ''}`, () => {
      assert.deepEqual(parsePlatform(spec, host ?? AMD64_HOST), expected);
    });
  }

  it('uses the real host by default', () => {
    assert.deepEqual(parsePlatform('linux/amd64'), p('linux', 'amd64'));
    assert.equal(parsePlatform(hostPlatform().architecture).os, hostPlatform().os);
  });

  it("refuses bad specifiers with containerd's messages", () => {
    const osPattern = JSON.stringify(
      '^([A-Za-z0-9_-]+)(?:\\(([A-Za-z0-9_.%-]*)((?:\\+[A-Za-z0-9_.%-]+)*)\\))?$',
    );
    const table: [string, string][] = [
      [
        '',
        `"" is an invalid OS component of "": OSAndVersion specifier component must match ${osPattern}: invalid argument`,
      ],
      [
        '/amd64',
        `"" is an invalid OS component of "/amd64": OSAndVersion specifier component must match ${osPattern}: invalid argument`,
      ],
      [
        'lin ux/amd64',
        `"lin ux" is an invalid OS component of "lin ux/amd64": OSAndVersion specifier component must match ${osPattern}: invalid argument`,
      ],
      ['linux/*', '"linux/*": wildcards not yet supported: invalid argument'],
      ['*', '"*": wildcards not yet supported: invalid argument'],
      ['foo', '"foo": unknown operating system or architecture: invalid argument'],
      ['x86', '"x86": unknown operating system or architecture: invalid argument'],
      ['linux/arm64/v8/x', '"linux/arm64/v8/x": cannot parse platform specifier: invalid argument'],
      ['x/y/z/w', '"x/y/z/w": cannot parse platform specifier: invalid argument'],
      [
        'linux//amd64',
        '"" is an invalid component of "linux//amd64": platform specifier component must match "^[A-Za-z0-9_.-]+$": invalid argument',
      ],
      [
        'linux/',
        '"" is an invalid component of "linux/": platform specifier component must match "^[A-Za-z0-9_.-]+$": invalid argument',
      ],
      [
        'linux/am d64',
        '"am d64" is an invalid component of "linux/am d64": platform specifier component must match "^[A-Za-z0-9_.-]+$": invalid argument',
      ],
      [
        'linux/a/b/c/d',
        '"c/d" is an invalid component of "linux/a/b/c/d": platform specifier component must match "^[A-Za-z0-9_.-]+$": invalid argument',
      ],
      ['linux(%zz)/amd64', '"linux(%zz)/amd64" has an invalid OS version "%zz": invalid URL escape "%zz"'],
      ['linux(1%2)/amd64', '"linux(1%2)/amd64" has an invalid OS version "1%2": invalid URL escape "%2"'],
    ];
    for (const [spec, message] of table) throwsInvalid(() => parsePlatform(spec, AMD64_HOST), message);
  });
});

describe('normalizePlatform', () => {
  it("applies containerd's aliases and defaults", () => {
    assert.deepEqual(normalizePlatform(p('Linux', 'x86_64')), p('linux', 'amd64'));
    assert.deepEqual(normalizePlatform(p('linux', 'amd64', 'v1')), p('linux', 'amd64'));
    assert.deepEqual(normalizePlatform(p('linux', 'aarch64')), p('linux', 'arm64'));
    assert.deepEqual(normalizePlatform(p('linux', 'arm64', 'v8')), p('linux', 'arm64'));
    assert.deepEqual(normalizePlatform(p('linux', 'arm64', '9.0')), p('linux', 'arm64', 'v9'));
    assert.deepEqual(normalizePlatform(p('linux', 'arm')), p('linux', 'arm', 'v7'));
    assert.deepEqual(normalizePlatform(p('linux', 'arm', '6')), p('linux', 'arm', 'v6'));
    assert.deepEqual(normalizePlatform(p('linux', 'armhf')), p('linux', 'arm', 'v7'));
    assert.deepEqual(normalizePlatform(p('linux', 'armel')), p('linux', 'arm', 'v6'));
    assert.deepEqual(normalizePlatform(p('linux', 'i386', 'x')), p('linux', '386'));
    assert.deepEqual(normalizePlatform(p('macos', 'arm64')), p('darwin', 'arm64'));
    assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'amd64', osFeatures: ['b', 'a', 'b'] }), {
      os: 'linux',
      architecture: 'amd64',
      osFeatures: ['a', 'b'],
    });
    assert.equal(normalizePlatform(p('', 'amd64')).os, hostPlatform().os);
  });
});

describe('formatPlatform', () => {
  it('joins os, architecture and variant', () => {
    assert.equal(formatPlatform(p('linux', 'arm64', 'v8')), 'linux/arm64/v8');
    assert.equal(formatPlatform(p('linux', 'amd64')), 'linux/amd64');
    assert.equal(formatPlatform(p('linux', 'arm', 'v7')), 'linux/arm/v7');
    assert.equal(formatPlatform(p('linux', '')), 'linux');
    assert.equal(formatPlatform(p('', 'amd64')), 'unknown');
    assert.equal(
      formatPlatform({ os: 'windows', architecture: 'amd64', osVersion: '10.0.1' }),
      'windows/amd64',
    );
    assert.equal(formatPlatform(platformFromNode('linux', 'arm64')), 'linux/arm64/v8');
  });
  it('includes OS version and features in the long form', () => {
    assert.equal(formatPlatformAll(p('linux', 'amd64')), 'linux/amd64');
    assert.equal(
      formatPlatformAll({
        os: 'windows',
        architecture: 'amd64',
        osVersion: '10.0.17763',
        osFeatures: ['win32k'],
      }),
      'windows(10.0.17763+win32k)/amd64',
    );
    assert.equal(
      formatPlatformAll({ os: 'linux', architecture: 'amd64', osFeatures: ['b', 'a', 'a'] }),
      'linux(+a+b)/amd64',
    );
    assert.equal(
      formatPlatformAll({ os: 'linux', architecture: 'amd64', osVersion: '1+2' }),
      'linux(1%2B2)/amd64',
    );
  });
  it('round-trips through parsePlatform', () => {
    for (const spec of [
      'linux/amd64',
      'linux/arm64/v8',
      'linux/arm/v6',
      'windows(10.0.17763+win32k)/amd64',
      'linux(1%2B2)/s390x',
    ]) {
      assert.equal(formatPlatformAll(parsePlatform(spec, AMD64_HOST)), spec);
    }
  });
});

describe('hostPlatform', () => {
  it("maps Node's names to Go's", () => {
    assert.deepEqual(platformFromNode('linux', 'x64'), p('linux', 'amd64'));
    assert.deepEqual(platformFromNode('linux', 'ia32'), p('linux', '386'));
    assert.deepEqual(platformFromNode('linux', 'arm64'), p('linux', 'arm64', 'v8'));
    assert.deepEqual(platformFromNode('linux', 'arm', '7'), p('linux', 'arm', 'v7'));
    assert.deepEqual(platformFromNode('linux', 'arm', 6), p('linux', 'arm', 'v6'));
    assert.deepEqual(platformFromNode('linux', 'arm', 'default'), p('linux', 'arm', 'v7'));
    assert.deepEqual(platformFromNode('linux', 'arm'), p('linux', 'arm', 'v7'));
    assert.deepEqual(platformFromNode('linux', 'ppc64', undefined, 'LE'), p('linux', 'ppc64le'));
    assert.deepEqual(platformFromNode('aix', 'ppc64', undefined, 'BE'), p('aix', 'ppc64'));
    assert.deepEqual(platformFromNode('linux', 's390x', undefined, 'BE'), p('linux', 's390x'));
    assert.deepEqual(platformFromNode('linux', 'riscv64'), p('linux', 'riscv64'));
    assert.deepEqual(platformFromNode('linux', 'mipsel'), p('linux', 'mipsle'));
    assert.deepEqual(platformFromNode('win32', 'x64'), p('windows', 'amd64'));
    assert.deepEqual(platformFromNode('darwin', 'arm64'), p('darwin', 'arm64', 'v8'));
  });
  it('describes this process', () => {
    const host = hostPlatform();
    assert.equal(host.os, process.platform === 'win32' ? 'windows' : process.platform);
    if (process.arch === 'x64') assert.deepEqual(host, p(host.os, 'amd64'));
    if (process.arch === 'arm64') assert.deepEqual(host, p(host.os, 'arm64', 'v8'));
    assert.ok(platformMatches(host, host));
    assert.notEqual(hostPlatform(), hostPlatform(), 'a fresh object each time');
  });
});

describe('platformMatches', () => {
  const table: [string, string, boolean][] = [
    // wanted, candidate, matches
    ['linux/amd64', 'linux/amd64', true],
    ['linux/amd64', 'linux/x86_64', true],
    ['linux/amd64', 'linux/amd64/v1', true],
    ['linux/amd64', 'linux/amd64/v2', false],
    ['linux/amd64', 'linux/arm64', false],
    ['linux/amd64', 'windows/amd64', false],
    ['linux/amd64', 'linux/386', true], // containerd: amd64 hosts run 386 images
    ['linux/386', 'linux/amd64', false],
    ['linux/amd64/v3', 'linux/amd64/v2', true],
    ['linux/amd64/v3', 'linux/amd64', true],
    ['linux/amd64/v2', 'linux/amd64/v3', false],
    ['linux/arm64', 'linux/arm64', true],
    ['linux/arm64', 'linux/arm64/v8', true],
    ['linux/arm64/v8', 'linux/arm64', true],
    ['linux/arm64/v8', 'linux/aarch64', true],
    ['linux/arm64', 'linux/arm64/v8.2', false],
    ['linux/arm64/v8.2', 'linux/arm64/v8.1', true],
    ['linux/arm64/v8.2', 'linux/arm64', true],
    ['linux/arm64/v9', 'linux/arm64/v8.5', true],
    ['linux/arm64/v9', 'linux/arm64/v8.6', false],
    ['linux/arm64', 'linux/arm/v8', true],
    ['linux/arm64', 'linux/arm/v7', true],
    ['linux/arm64', 'linux/arm', true],
    ['linux/arm64', 'linux/arm/v5', true],
    ['linux/arm64', 'linux/amd64', false],
    ['linux/arm/v7', 'linux/arm/v7', true],
    ['linux/arm/v7', 'linux/arm', true],
    ['linux/arm/v7', 'linux/armhf', true],
    ['linux/arm/v7', 'linux/arm/v6', true],
    ['linux/arm/v7', 'linux/arm/v5', true],
    ['linux/arm/v7', 'linux/arm/v8', false],
    ['linux/arm/v7', 'linux/arm64', false],
    ['linux/arm', 'linux/arm/v6', true],
    ['linux/arm/v6', 'linux/arm/v7', false],
    ['linux/arm/v6', 'linux/arm', false],
    ['linux/arm/v6', 'linux/arm/v5', true],
    ['linux/arm/v5', 'linux/arm/v6', false],
    ['linux/s390x', 'linux/s390x', true],
    ['linux/s390x', 'linux/amd64', false],
    ['linux/amd64', 'unknown/unknown', false],
  ];
  for (const [wanted, candidate, expected] of table) {
    it(`${wanted} ${expected ? 'runs' : 'does not run'} ${candidate}`, () => {
      const w = parsePlatform(wanted, AMD64_HOST);
      const c = parsePlatform(candidate, AMD64_HOST);
      assert.equal(platformMatches(w, c), expected);
    });
  }

  it('compares OS features: the candidate may only require what is offered', () => {
    const plain = p('linux', 'amd64');
    const featured: Platform = { os: 'linux', architecture: 'amd64', osFeatures: ['f1'] };
    assert.ok(platformMatches(featured, plain));
    assert.ok(platformMatches(featured, featured));
    assert.ok(!platformMatches(plain, featured));
    assert.ok(
      platformMatches({ ...plain, osFeatures: ['f0', 'f1', 'f2'] }, { ...plain, osFeatures: ['f2', 'f0'] }),
    );
  });

  it('is exact in strict mode', () => {
    assert.ok(platformMatchesStrict(p('linux', 'arm64'), p('linux', 'arm64', 'v8')));
    assert.ok(platformMatchesStrict(p('linux', 'arm'), p('linux', 'arm', 'v7')));
    assert.ok(!platformMatchesStrict(p('linux', 'arm', 'v7'), p('linux', 'arm', 'v6')));
    assert.ok(!platformMatchesStrict(p('linux', 'amd64'), p('linux', '386')));
    assert.ok(!platformMatchesStrict(p('linux', 'arm64'), p('linux', 'arm', 'v7')));
  });
});

describe('selectManifest', () => {
  interface Entry {
    digest: string;
    platform?: Platform;
  }
  const entry = (digest: string, platform?: Platform): Entry =>
    platform === undefined ? { digest } : { digest, platform };
  const attestation = (digest: string): Entry => entry(digest, p('unknown', 'unknown'));

  // Shaped like docker.io/library/busybox's index: images, then one attestation per image.
  const index: Entry[] = [
    entry('amd64', p('linux', 'amd64')),
    entry('arm-v5', p('linux', 'arm', 'v5')),
    entry('arm-v6', p('linux', 'arm', 'v6')),
    entry('arm-v7', p('linux', 'arm', 'v7')),
    entry('arm64-v8', p('linux', 'arm64', 'v8')),
    entry('386', p('linux', '386')),
    entry('ppc64le', p('linux', 'ppc64le')),
    entry('riscv64', p('linux', 'riscv64')),
    entry('s390x', p('linux', 's390x')),
    attestation('att-amd64'),
    attestation('att-arm64'),
    entry('no-platform'),
  ];

  const picks: [string, string | undefined][] = [
    ['linux/amd64', 'amd64'],
    ['linux/x86_64', 'amd64'],
    ['linux/amd64/v3', 'amd64'],
    ['linux/arm64', 'arm64-v8'],
    ['linux/arm64/v8', 'arm64-v8'],
    ['linux/arm64/v8.2', 'arm64-v8'],
    ['linux/arm/v7', 'arm-v7'],
    ['linux/arm', 'arm-v7'],
    ['linux/arm/v6', 'arm-v6'],
    ['linux/arm/v5', 'arm-v5'],
    ['linux/386', '386'],
    ['linux/s390x', 's390x'],
    ['linux/ppc64le', 'ppc64le'],
    ['linux/mips64le', undefined],
    ['windows/amd64', undefined],
    ['unknown/unknown', undefined],
  ];
  for (const [wanted, expected] of picks) {
    it(`picks ${String(expected)} for ${wanted}`, () => {
      assert.equal(selectManifest(index, parsePlatform(wanted, AMD64_HOST))?.digest, expected);
    });
  }

  it('falls back to compatible lower variants, best first', () => {
    const arm = [
      entry('arm-v5', p('linux', 'arm', 'v5')),
      entry('arm-v6', p('linux', 'arm', 'v6')),
      entry('amd64', p('linux', 'amd64')),
    ];
    assert.equal(selectManifest(arm, ARMV7_HOST)?.digest, 'arm-v6');
    assert.equal(selectManifest(arm, ARMV6_HOST)?.digest, 'arm-v6');
    assert.equal(selectManifest(arm, ARM64_HOST)?.digest, 'arm-v6');
    assert.equal(selectManifest(arm, p('linux', 'arm', 'v5'))?.digest, 'arm-v5');

    const noArm64 = [entry('arm-v7', p('linux', 'arm', 'v7')), entry('amd64', p('linux', 'amd64'))];
    assert.equal(selectManifest(noArm64, ARM64_HOST)?.digest, 'arm-v7');

    // An arm64 image without a variant is the same as arm64/v8.
    const plainArm64 = [entry('arm-v7', p('linux', 'arm', 'v7')), entry('arm64', p('linux', 'arm64'))];
    assert.equal(selectManifest(plainArm64, ARM64_HOST)?.digest, 'arm64');
    assert.equal(selectManifest(plainArm64, p('linux', 'arm64'))?.digest, 'arm64');

    // amd64 runs 386 when there is nothing better, but prefers amd64 wherever it is listed.
    assert.equal(selectManifest([entry('386', p('linux', '386'))], AMD64_HOST)?.digest, '386');
    const both = [entry('386', p('linux', '386')), entry('amd64', p('linux', 'amd64'))];
    assert.equal(selectManifest(both, AMD64_HOST)?.digest, 'amd64');

    // An armv6 host never takes v7.
    assert.equal(selectManifest([entry('arm-v7', p('linux', 'arm', 'v7'))], ARMV6_HOST), undefined);
  });

  it('skips entries without a platform and attestations', () => {
    assert.equal(selectManifest([entry('none'), attestation('att')], AMD64_HOST), undefined);
    assert.equal(selectManifest([], AMD64_HOST), undefined);
    assert.equal(
      selectManifest([entry('none'), attestation('att'), entry('amd64', p('linux', 'amd64'))], AMD64_HOST)
        ?.digest,
      'amd64',
    );
  });

  it('breaks ties by OS features, then by order', () => {
    const wanted: Platform = { os: 'linux', architecture: 'amd64', osFeatures: ['f1'] };
    const entries = [
      entry('plain', p('linux', 'amd64')),
      entry('featured', { os: 'linux', architecture: 'amd64', osFeatures: ['f1'] }),
      entry('other-feature', { os: 'linux', architecture: 'amd64', osFeatures: ['f2'] }),
    ];
    assert.equal(selectManifest(entries, wanted)?.digest, 'featured');
    assert.equal(selectManifest(entries, AMD64_HOST)?.digest, 'plain');
    const twins = [entry('first', p('linux', 'amd64')), entry('second', p('linux', 'x86_64'))];
    assert.equal(selectManifest(twins, AMD64_HOST)?.digest, 'first');
  });

  it('normalizes what the index says', () => {
    const entries = [entry('aarch64', p('linux', 'aarch64')), entry('armhf', p('Linux', 'armhf'))];
    assert.equal(selectManifest(entries, ARM64_HOST)?.digest, 'aarch64');
    assert.equal(selectManifest(entries, ARMV7_HOST)?.digest, 'armhf');
  });
});
