import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { goArch } from '../../util/platform.js';
import { parseOsRelease, parseToolVersion, probeHost } from './host.js';

describe('parseToolVersion', () => {
  it('reads runc output', () => {
    const out =
      'runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\nspec: 1.0.2-dev\ngo: go1.19.8\nlibseccomp: 2.5.4\n';
    assert.deepEqual(parseToolVersion(out), { version: '1.1.5+ds1', commit: '1.1.5+ds1-1+deb12u1' });
  });
  it('reads crun and conmon output', () => {
    assert.deepEqual(parseToolVersion('crun version 1.8.1\ncommit: f8a096be\nrundir: /run/crun\n+SYSTEMD'), {
      version: '1.8.1',
      commit: 'f8a096be',
    });
    assert.deepEqual(parseToolVersion('conmon version 2.1.6\ncommit: unknown\n'), {
      version: '2.1.6',
      commit: 'unknown',
    });
  });
  it('tolerates unknown output', () => {
    assert.deepEqual(parseToolVersion(''), { version: undefined, commit: undefined });
  });
});

describe('parseOsRelease', () => {
  it('unquotes values', () => {
    const r = parseOsRelease(
      'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_ID="12"\nID=debian\n# c\n',
    );
    assert.equal(r['PRETTY_NAME'], 'Debian GNU/Linux 12 (bookworm)');
    assert.equal(r['VERSION_ID'], '12');
    assert.equal(r['ID'], 'debian');
  });
});

describe('goArch', () => {
  it('maps node names to Go names', () => {
    assert.equal(goArch('x64'), 'amd64');
    assert.equal(goArch('arm64'), 'arm64');
    assert.equal(goArch('riscv64'), 'riscv64');
  });
});

describe('probeHost', () => {
  it('describes this machine', async () => {
    const facts = await probeHost();
    assert.ok(facts.ncpu >= 1);
    assert.ok(facts.memTotal > 0);
    assert.ok(['1', '2'].includes(facts.cgroup.version));
    assert.notEqual(facts.kernelVersion, '');
  });
});
