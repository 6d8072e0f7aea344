import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { SPARK_BARS, resample, sparkline } from './sparkline.js';

describe('sparkline', () => {
  it('draws one bar per value, scaled from the minimum to the maximum', () => {
    assert.equal(sparkline([0, 1, 2, 3, 4, 5, 6, 7]), SPARK_BARS);
    assert.equal(sparkline([10, 80, 45]), '▁█▅');
  });

  it('rounds each value to the nearest bar', () => {
    // 7 steps between 0 and 70: 14 is 1.4 steps, 16 is 1.6
    assert.equal(sparkline([0, 14, 16, 70]), '▁▂▃█');
  });

  it('takes a fixed scale, clamping values outside it', () => {
    assert.equal(sparkline([0, 50, 100], { min: 0, max: 100 }), '▁▅█');
    assert.equal(sparkline([-5, 250], { min: 0, max: 100 }), '▁█');
    assert.equal(sparkline([25, 50], { min: 0, max: 100 }), '▃▅');
  });

  it('draws a flat series as the lowest bar and gaps as blanks', () => {
    assert.equal(sparkline([3, 3, 3]), '▁▁▁');
    assert.equal(sparkline([0, Number.NaN, 7]), '▁ █');
    assert.equal(sparkline([Number.NaN]), ' ');
    assert.equal(sparkline([]), '');
  });

  it('fits a long series to a width, keeping the peaks', () => {
    const values = Array.from({ length: 100 }, (_, i) => (i === 42 ? 100 : 0));
    const line = sparkline(values, { width: 10 });
    assert.equal([...line].length, 10);
    assert.equal(line, '▁▁▁▁█▁▁▁▁▁');
  });
});

describe('resample', () => {
  it('keeps a series that fits as it is', () => {
    assert.deepEqual(resample([1, 2, 3], 5), [1, 2, 3]);
  });

  it('buckets into nearly equal groups, taking each maximum', () => {
    assert.deepEqual(resample([1, 5, 2, 2, 9, 3, 4], 3), [5, 2, 9]);
    assert.deepEqual(resample([1, 2, 3, 4], 0), []);
  });

  it('ignores gaps within a group', () => {
    assert.deepEqual(resample([Number.NaN, 2, Number.NaN, Number.NaN], 2), [2, Number.NaN]);
  });
});
