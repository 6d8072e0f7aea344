/**
 * Terminal sparklines: a series of numbers as a row of block characters
 * ▁▂▃▄▅▆▇█, one per value, for `berth stats --history`.
 */

/** The eight bar heights, lowest first. */
export const SPARK_BARS = '▁▂▃▄▅▆▇█';

export interface SparklineOptions {
  /** The value drawn as the lowest bar; the series' minimum by default. */
  min?: number;
  /** The value drawn as the highest bar; the series' maximum by default. */
  max?: number;
  /** At most this many bars: longer series are bucketed (see {@link resample}). */
  width?: number;
}

/**
 * Buckets `values` into `width` consecutive groups of (nearly) equal size,
 * keeping each group's largest value, so short peaks stay visible. A series
 * that fits is returned as it is. Non-finite values are ignored within a
 * group; a group of only such values is NaN.
 */
export function resample(values: readonly number[], width: number): number[] {
  const n = values.length;
  if (width <= 0) return [];
  if (n <= width) return [...values];
  const out: number[] = [];
  for (let i = 0; i < width; i++) {
    const from = Math.floor((i * n) / width);
    const to = Math.floor(((i + 1) * n) / width);
    let best = Number.NaN;
    for (let j = from; j < to; j++) {
      const v = values[j] ?? Number.NaN;
      if (Number.isFinite(v) && !(v <= best)) best = v;
    }
    out.push(best);
  }
  return out;
}

/**
 * The sparkline of `values`: each value scaled between `min` and `max` to
 * one of the eight bars (rounded to the nearest). Values outside the range
 * are clamped; a flat series (max = min) draws as the lowest bar;
 * non-finite values are blanks.
 */
export function sparkline(values: readonly number[], options: SparklineOptions = {}): string {
  const series = options.width === undefined ? [...values] : resample(values, options.width);
  const finite = series.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return series.map(() => ' ').join('');
  const lo = options.min ?? Math.min(...finite);
  const hi = options.max ?? Math.max(...finite);
  const top = SPARK_BARS.length - 1;
  return series
    .map((v) => {
      if (!Number.isFinite(v)) return ' ';
      if (hi <= lo) return SPARK_BARS[0];
      const level = Math.round(((v - lo) / (hi - lo)) * top);
      return SPARK_BARS[Math.min(top, Math.max(0, level))];
    })
    .join('');
}
