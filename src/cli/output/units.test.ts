import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { humanDuration, humanSize, humanSizeWithPrecision, timeAgo } from './units.js';

describe('units: go-units HumanSize', () => {
  const cases: readonly [number, string][] = [
    [0, '0B'],
    [999, '999B'],
    [1000, '1kB'],
    [1024, '1.024kB'],
    [1234567, '1.235MB'],
    [3408000, '3.408MB'],
    [7800000, '7.8MB'],
    [123456789, '123.5MB'],
    [999999, '1000kB'],
    [1e12, '1TB'],
    [2.5e15, '2.5PB'],
  ];
  for (const [size, want] of cases) {
    it(`${size} → ${want}`, () => assert.equal(humanSize(size), want));
  }

  it('formats with a given precision as %.Ng (docker images uses 3)', () => {
    assert.equal(humanSizeWithPrecision(7800000, 3), '7.8MB');
    assert.equal(humanSizeWithPrecision(123456789, 3), '123MB');
    assert.equal(humanSizeWithPrecision(1234, 3), '1.23kB');
    // Go's %g turns to exponent form when rounding reaches the precision.
    assert.equal(humanSizeWithPrecision(999999, 3), '1e+03kB');
    assert.equal(humanSizeWithPrecision(0, 3), '0B');
  });
});

describe('units: go-units HumanDuration', () => {
  const s = 1000;
  const m = 60 * s;
  const h = 60 * m;
  const d = 24 * h;
  const cases: readonly [number, string][] = [
    [-5 * s, 'Less than a second'],
    [500, 'Less than a second'],
    [1 * s, '1 second'],
    [45 * s, '45 seconds'],
    [60 * s, 'About a minute'],
    [119 * s, 'About a minute'],
    [2 * m, '2 minutes'],
    [59 * m, '59 minutes'],
    [60 * m, 'About an hour'],
    [89 * m, 'About an hour'],
    [90 * m, '2 hours'],
    [47 * h, '47 hours'],
    [48 * h, '2 days'],
    [13 * d, '13 days'],
    [14 * d, '2 weeks'],
    [59 * d, '8 weeks'],
    [60 * d, '2 months'],
    [400 * d, '13 months'],
    [730 * d, '2 years'],
    [3 * 365 * d + 10 * d, '3 years'],
  ];
  for (const [ms, want] of cases) {
    it(`${ms}ms → ${want}`, () => assert.equal(humanDuration(ms), want));
  }

  it('says "… ago" for Unix times', () => {
    const now = Date.UTC(2024, 0, 10, 12, 0, 0);
    assert.equal(timeAgo(now / 1000 - 3600, now), 'About an hour ago');
    assert.equal(timeAgo(now / 1000 - 2 * 86400, now), '2 days ago');
    assert.equal(timeAgo(now / 1000 - 2 * 3600, now), '2 hours ago');
  });
});
