import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { InvalidParameterError } from '../errors.js';
import { ULIMIT_NAMES, UNLIMITED, clampRlimits, readHostLimits, rlimitType } from './host-limits.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max file size             unlimited            unlimited            bytes     
Max data size             unlimited            unlimited            bytes     
Max stack size            8388608              unlimited            bytes     
Max core file size        0                    unlimited            bytes     
Max resident set          unlimited            unlimited            bytes     
Max processes             96365                96365                processes 
Max open files            20000                20000                files     
Max locked memory         8388608              8388608              bytes     
Max address space         unlimited            unlimited            bytes     
Max file locks            unlimited            unlimited            locks     
Max pending signals       96365                96365                signals   
Max msgqueue size         819200               819200               bytes     
Max nice priority         0                    0                    
Max realtime priority     0                    0                    
Max realtime timeout      unlimited            unlimited            us        
`;

describe('readHostLimits', () => {
  it('parses the /proc/self/limits table by Docker ulimit name', () => {
    const host = readHostLimits(LIMITS);
    assert.deepEqual(host.nofile, { soft: 20000, hard: 20000 });
    assert.deepEqual(host.nproc, { soft: 96365, hard: 96365 });
    assert.deepEqual(host.stack, { soft: 8388608, hard: UNLIMITED });
    assert.deepEqual(host.core, { soft: 0, hard: UNLIMITED });
    assert.deepEqual(host.nice, { soft: 0, hard: 0 });
    assert.deepEqual(host.rttime, { soft: UNLIMITED, hard: UNLIMITED });
    assert.deepEqual(Object.keys(host).sort(), [...ULIMIT_NAMES]);
  });
  it('reads this process’s limits', () => {
    const host = readHostLimits();
    assert.ok(host.nofile !== undefined && host.nofile.hard >= host.nofile.soft && host.nofile.soft > 0);
    assert.ok(Number.isSafeInteger(host.nproc?.hard));
  });
  it('maps names to OCI rlimit types', () => {
    assert.equal(rlimitType('nofile'), 'RLIMIT_NOFILE');
    assert.equal(rlimitType('as'), 'RLIMIT_AS');
  });
});

describe('clampRlimits', () => {
  const host = readHostLimits(LIMITS);
  const cases: {
    name: string;
    in: { name: string; soft: number; hard: number };
    want: { soft: number; hard: number };
  }[] = [
    {
      name: 'below the host limit',
      in: { name: 'nofile', soft: 1024, hard: 4096 },
      want: { soft: 1024, hard: 4096 },
    },
    {
      name: 'Docker’s 1048576 nofile',
      in: { name: 'nofile', soft: 1048576, hard: 1048576 },
      want: { soft: 20000, hard: 20000 },
    },
    {
      name: 'soft kept, hard clamped',
      in: { name: 'nproc', soft: 100, hard: 200000 },
      want: { soft: 100, hard: 96365 },
    },
    {
      name: '-1 is unlimited',
      in: { name: 'core', soft: -1, hard: -1 },
      want: { soft: UNLIMITED, hard: UNLIMITED },
    },
    {
      name: 'unlimited clamped',
      in: { name: 'memlock', soft: -1, hard: -1 },
      want: { soft: 8388608, hard: 8388608 },
    },
    {
      name: 'name is case-insensitive',
      in: { name: 'NOFILE', soft: 10, hard: 10 },
      want: { soft: 10, hard: 10 },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const [got] = clampRlimits([c.in], host);
      assert.deepEqual({ soft: got?.soft, hard: got?.hard }, c.want);
      assert.ok(got !== undefined && got.soft <= got.hard);
    });
  }
  it('keeps the last entry for a name', () => {
    const got = clampRlimits(
      [
        { name: 'nofile', soft: 1, hard: 2 },
        { name: 'nproc', soft: 5, hard: 5 },
        { name: 'nofile', soft: 3, hard: 4 },
      ],
      host,
    );
    assert.deepEqual(got, [
      { name: 'nproc', soft: 5, hard: 5 },
      { name: 'nofile', soft: 3, hard: 4 },
    ]);
  });
  it('leaves limits the host table lacks unclamped', () => {
    assert.deepEqual(clampRlimits([{ name: 'nofile', soft: 5, hard: 1 << 30 }], {}), [
      { name: 'nofile', soft: 5, hard: 1 << 30 },
    ]);
  });
  it('refuses unknown names, soft > hard and fractions', () => {
    assert.throws(
      () => clampRlimits([{ name: 'files', soft: 1, hard: 1 }], host),
      /invalid ulimit type: files/,
    );
    assert.throws(
      () => clampRlimits([{ name: 'nofile', soft: 10, hard: 5 }], host),
      (err: unknown) =>
        err instanceof InvalidParameterError &&
        err.message === 'ulimit soft limit must be less than or equal to hard limit: 10 > 5',
    );
    assert.throws(() => clampRlimits([{ name: 'nofile', soft: 1.5, hard: 5 }], host), InvalidParameterError);
  });
});
