import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { InvalidParameterError } from '../errors.js';
import {
  ALL_CAPABILITIES,
  DEFAULT_CAPABILITIES,
  capabilitiesFromMask,
  normalizeCapabilities,
  readAvailableCapabilities,
  resolveCapabilities,
} from './capabilities.js';

describe('capability lists', () => {
  it('has every kernel capability in bit order and Docker’s 14 defaults', () => {
    assert.equal(ALL_CAPABILITIES.length, 41);
    assert.equal(ALL_CAPABILITIES[0], 'CAP_CHOWN');
    assert.equal(ALL_CAPABILITIES[24], 'CAP_SYS_RESOURCE');
    assert.equal(ALL_CAPABILITIES[40], 'CAP_CHECKPOINT_RESTORE');
    assert.equal(DEFAULT_CAPABILITIES.length, 14);
    for (const c of DEFAULT_CAPABILITIES) assert.ok(ALL_CAPABILITIES.includes(c), c);
  });
});

describe('normalizeCapabilities', () => {
  it('upper-cases, prefixes CAP_ and keeps ALL', () => {
    assert.deepEqual(normalizeCapabilities(['net_admin', 'CAP_SYS_ADMIN', 'Cap_Kill', 'all']), [
      'CAP_NET_ADMIN',
      'CAP_SYS_ADMIN',
      'CAP_KILL',
      'ALL',
    ]);
  });
  it('refuses unknown names with Docker’s message', () => {
    assert.throws(
      () => normalizeCapabilities(['foo']),
      (err: unknown) =>
        err instanceof InvalidParameterError && err.message === 'unknown capability: "CAP_FOO"',
    );
  });
  it('refuses capabilities the daemon lacks', () => {
    assert.throws(
      () => normalizeCapabilities(['SYS_RESOURCE'], ['CAP_CHOWN']),
      /capability not supported by your kernel or not available in the current environment: "CAP_SYS_RESOURCE"/,
    );
  });
});

describe('resolveCapabilities', () => {
  const cases: { name: string; add?: string[]; drop?: string[]; want: (defaults: string[]) => string[] }[] = [
    { name: 'defaults', want: (d) => d },
    { name: 'add one', add: ['NET_ADMIN'], want: (d) => [...d, 'CAP_NET_ADMIN'] },
    { name: 'add lower-case with prefix', add: ['cap_sys_ptrace'], want: (d) => [...d, 'CAP_SYS_PTRACE'] },
    { name: 'add a default twice', add: ['CHOWN'], want: (d) => d },
    { name: 'drop one', drop: ['chown'], want: (d) => d.filter((c) => c !== 'CAP_CHOWN') },
    { name: 'drop ALL', drop: ['ALL'], want: () => [] },
    {
      name: 'drop ALL, add one',
      drop: ['all'],
      add: ['NET_BIND_SERVICE'],
      want: () => ['CAP_NET_BIND_SERVICE'],
    },
    {
      name: 'add ALL, drop one',
      add: ['ALL'],
      drop: ['SYS_ADMIN'],
      want: () => ALL_CAPABILITIES.filter((c) => c !== 'CAP_SYS_ADMIN'),
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(resolveCapabilities(c.add, c.drop, false), c.want([...DEFAULT_CAPABILITIES]));
    });
  }
  it('privileged gets everything available, ignoring add/drop', () => {
    assert.deepEqual(resolveCapabilities([], ['ALL'], true), [...ALL_CAPABILITIES]);
    const available = capabilitiesFromMask('000001fffeffffff');
    const caps = resolveCapabilities(undefined, undefined, true, available);
    assert.equal(caps.length, 40);
    assert.ok(!caps.includes('CAP_SYS_RESOURCE'));
  });
  it('throws for unknown names in add or drop', () => {
    assert.throws(() => resolveCapabilities(['CAP_FOO'], [], false), InvalidParameterError);
    assert.throws(() => resolveCapabilities([], ['bar'], false), /unknown capability: "CAP_BAR"/);
  });
});

describe('readAvailableCapabilities', () => {
  it('reads CapEff from a status file', () => {
    const status =
      'Name:\tnode\nCapInh:\t0000000000000000\nCapEff:\t00000000a80425fb\nCapBnd:\t000001ffffffffff\n';
    assert.deepEqual(new Set(readAvailableCapabilities(status)), new Set(DEFAULT_CAPABILITIES));
  });
  it('reads this process’s capabilities', () => {
    const caps = readAvailableCapabilities();
    for (const c of caps) assert.ok(ALL_CAPABILITIES.includes(c));
  });
});
