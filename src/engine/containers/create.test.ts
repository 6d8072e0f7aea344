import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { commandOf, mergeConfig, normalizeHostConfig, resolveMounts } from './create.js';

describe('mergeConfig', () => {
  const image = {
    Env: ['PATH=/bin', 'A=1'],
    Cmd: ['sh'],
    Entrypoint: null,
    WorkingDir: '/srv',
    Labels: { from: 'image' },
  };
  it('takes the image defaults', () => {
    const c = mergeConfig({}, image, 'busybox');
    assert.deepEqual(c.Cmd, ['sh']);
    assert.equal(c.WorkingDir, '/srv');
    assert.deepEqual(c.Env, ['PATH=/bin', 'A=1']);
    assert.deepEqual(commandOf(c), { path: 'sh', args: [] });
  });
  it('overrides env by key and merges labels', () => {
    const c = mergeConfig({ Env: ['A=2', 'B=3'], Labels: { mine: 'yes' } }, image, 'busybox');
    assert.deepEqual(c.Env, ['PATH=/bin', 'A=2', 'B=3']);
    assert.deepEqual(c.Labels, { from: 'image', mine: 'yes' });
  });
  it('drops the image Cmd when an Entrypoint is given', () => {
    const c = mergeConfig({ Entrypoint: ['/bin/echo'] }, image, 'busybox');
    assert.deepEqual(commandOf(c), { path: '/bin/echo', args: [] });
    const withCmd = mergeConfig({ Entrypoint: ['/bin/echo'], Cmd: ['hi'] }, image, 'busybox');
    assert.deepEqual(commandOf(withCmd), { path: '/bin/echo', args: ['hi'] });
  });
  it('refuses a container with no command', () => {
    assert.throws(() => commandOf(mergeConfig({}, { Env: [] }, 'scratch')), {
      message: 'no command specified',
    });
  });
});

describe('normalizeHostConfig', () => {
  it('fills Docker defaults', () => {
    const hc = normalizeHostConfig({}, 'runc');
    assert.equal(hc.NetworkMode, 'bridge');
    assert.equal(hc.ShmSize, 64 * 1024 * 1024);
    assert.deepEqual(hc.RestartPolicy, { Name: 'no', MaximumRetryCount: 0 });
    assert.equal(hc.Runtime, 'runc');
    assert.equal(hc.LogConfig.Type, 'json-file');
  });
  it('validates restart policies and conflicts', () => {
    assert.throws(
      () =>
        normalizeHostConfig({ RestartPolicy: { Name: 'sometimes' as 'no', MaximumRetryCount: 0 } }, 'runc'),
      /invalid restart policy/,
    );
    assert.throws(
      () => normalizeHostConfig({ RestartPolicy: { Name: 'always', MaximumRetryCount: 3 } }, 'runc'),
      /only be used with 'on-failure'/,
    );
    assert.throws(
      () =>
        normalizeHostConfig(
          { AutoRemove: true, RestartPolicy: { Name: 'always', MaximumRetryCount: 0 } },
          'runc',
        ),
      /AutoRemove/,
    );
    assert.throws(() => normalizeHostConfig({ NanoCpus: 1e9, CpuQuota: 1000 }, 'runc'), /Nano CPUs/);
    assert.throws(() => normalizeHostConfig({ Memory: 1024 }, 'runc'), /Minimum memory limit allowed is 6MB/);
  });
});

describe('resolveMounts', () => {
  it('reads binds, mounts and tmpfs', () => {
    const hc = normalizeHostConfig(
      {
        Binds: ['/host/a:/a:ro', '/host/b:/b'],
        Mounts: [{ Type: 'tmpfs', Target: '/scratch', TmpfsOptions: { SizeBytes: 1048576 } }],
        Tmpfs: { '/run': 'rw,size=1m' },
      },
      'runc',
    );
    const mounts = resolveMounts(hc);
    assert.deepEqual(
      mounts.map((m) => [m.Type, m.Source, m.Destination, m.RW]),
      [
        ['bind', '/host/a', '/a', false],
        ['bind', '/host/b', '/b', true],
        ['tmpfs', '', '/scratch', true],
        ['tmpfs', '', '/run', true],
      ],
    );
  });
  it('refuses bad specifications', () => {
    assert.throws(
      () => resolveMounts(normalizeHostConfig({ Binds: ['/a:rel'] }, 'runc')),
      /must be absolute/,
    );
    assert.throws(
      () => resolveMounts(normalizeHostConfig({ Binds: ['/a:/x', '/b:/x'] }, 'runc')),
      /Duplicate mount point: \/x/,
    );
    assert.throws(
      () => resolveMounts(normalizeHostConfig({ Binds: ['bad name:/x'] }, 'runc')),
      /invalid characters/,
    );
  });
  it('reads named and anonymous volumes', () => {
    const named = resolveMounts(normalizeHostConfig({ Binds: ['data:/x:ro'] }, 'runc'));
    assert.deepEqual([named[0]?.Type, named[0]?.Name, named[0]?.RW], ['volume', 'data', false]);
    const anon = resolveMounts(normalizeHostConfig({}, 'runc'), { '/var/lib/data': {} });
    assert.deepEqual([anon[0]?.Type, anon[0]?.Anonymous], ['volume', true]);
  });
});
