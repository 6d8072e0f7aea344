/**
 * The docker CLI's human-readable sizes and durations (github.com/docker/go-units),
 * byte for byte: `HumanSize(1234567)` is `1.235MB`, `HumanDuration(90 min)` is
 * `2 hours`.
 */
import { formatFloat } from './gofmt.js';

const DECIMAL_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

/**
 * go-units HumanSizeWithPrecision: the size divided by 1000 until it is
 * below 1000, printed with Go's `%.<precision>g` and a decimal unit. Go's
 * `%g` switches to exponent notation when rounding reaches the precision,
 * so 999999 bytes at precision 3 is `1e+03kB`, as in docker.
 */
export function humanSizeWithPrecision(size: number, precision: number): string {
  let value = size;
  let i = 0;
  while (value >= 1000 && i < DECIMAL_UNITS.length - 1) {
    value /= 1000;
    i++;
  }
  return formatFloat(value, 'g', Math.max(precision, 1)) + DECIMAL_UNITS[i];
}

/** go-units HumanSize: four significant digits, e.g. `1.234MB`, `796kB`, `0B`. */
export function humanSize(size: number): string {
  return humanSizeWithPrecision(size, 4);
}

/**
 * go-units HumanDuration of a duration in milliseconds: "Less than a
 * second", "1 second", "5 seconds", "About a minute", "5 minutes", "About an
 * hour", "5 hours", "3 days", "2 weeks", "3 months", "2 years".
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(ms / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(Math.trunc(ms / 3_600_000) / 24 / 365)} years`;
}

/** `HumanDuration(now - t) + " ago"` for a Unix time in seconds, as docker's CREATED columns. */
export function timeAgo(unixSeconds: number, nowMs: number = Date.now()): string {
  return `${humanDuration(nowMs - unixSeconds * 1000)} ago`;
}
