/**
 * Go durations (`30s`, `1m30s`, `1.5h`, `250ms`) as pflag's Duration flags
 * read them (time.ParseDuration, with its error messages), and the
 * `--since`/`--until` values of `logs`, which are durations ago, dates, or
 * Unix timestamps (moby's timestamp.GetTimestamp).
 */
import { goQuoteString } from './units.js';

const UNIT_NS: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  '\u00b5s': 1_000n,
  '\u03bcs': 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const MAX_DURATION = 2n ** 63n - 1n;

/**
 * Go's time.ParseDuration, in nanoseconds (a bigint: durations reach 2^63).
 * @throws Error `time: invalid duration "x"`, `time: missing unit in
 *   duration "1"`, `time: unknown unit "x" in duration "1x"`.
 */
export function parseGoDurationNs(s: string): bigint {
  const quoted = goQuoteString(s);
  const invalid = (): Error => new Error(`time: invalid duration ${quoted}`);
  let rest = s;
  let negative = false;
  if (rest !== '' && (rest[0] === '-' || rest[0] === '+')) {
    negative = rest[0] === '-';
    rest = rest.slice(1);
  }
  if (rest === '0') return 0n;
  if (rest === '') throw invalid();
  let total = 0n;
  while (rest !== '') {
    const num = /^(\d*)(?:\.(\d*))?/.exec(rest);
    const whole = num?.[1] ?? '';
    const frac = num?.[2];
    if (whole === '' && (frac === undefined || frac === '')) throw invalid();
    rest = rest.slice(num?.[0].length ?? 0);
    let u = 0;
    while (u < rest.length && rest[u] !== '.' && !/[0-9]/.test(rest[u] ?? '')) u++;
    if (u === 0) throw new Error(`time: missing unit in duration ${quoted}`);
    const unitName = rest.slice(0, u);
    rest = rest.slice(u);
    const unit = UNIT_NS[unitName];
    if (unit === undefined) {
      throw new Error(`time: unknown unit ${goQuoteString(unitName)} in duration ${quoted}`);
    }
    let value = BigInt(whole === '' ? '0' : whole) * unit;
    if (frac !== undefined && frac !== '') {
      value += (BigInt(frac) * unit) / 10n ** BigInt(frac.length);
    }
    total += value;
    if (total > MAX_DURATION) throw invalid();
  }
  return negative ? -total : total;
}

/** {@link parseGoDurationNs} as a number of nanoseconds (the API's duration fields). */
export function parseGoDuration(s: string): number {
  return Number(parseGoDurationNs(s));
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/**
 * moby's timestamp.GetTimestamp: a duration is that long before `nowMs`
 * (Unix seconds); an RFC 3339 date or a prefix of one (`2024-01-02`,
 * `2024-01-02T15:04`, with a zone or local) is its Unix time with
 * nanoseconds (`1704207840.000000000`); a Unix timestamp passes as is.
 * @throws Error `failed to parse value as time or duration: "x"` or a date error.
 */
export function getTimestamp(value: string, nowMs: number = Date.now()): string {
  if (value !== '0') {
    let d: bigint | undefined;
    try {
      d = parseGoDurationNs(value);
    } catch {
      d = undefined;
    }
    if (d !== undefined) {
      const nowNs = BigInt(nowMs) * 1_000_000n;
      const t = nowNs - d;
      const sec = t >= 0n ? t / 1_000_000_000n : -((-t + 999_999_999n) / 1_000_000_000n);
      return String(sec);
    }
  }
  const parsed = parseDateLike(value);
  if (parsed !== undefined) return parsed;
  if (value.includes('-')) throw new Error(`parsing time ${goQuoteString(value)}: cannot parse as RFC 3339`);
  if (!/^-?\d+(\.\d+)?$/.test(value)) {
    throw new Error(`failed to parse value as time or duration: ${goQuoteString(value)}`);
  }
  return value;
}

const DATE_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?)?(Z|z|[+-]\d{2}:\d{2})?$/;

function parseDateLike(value: string): string | undefined {
  const m = DATE_RE.exec(value);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((v) =>
    Number(v ?? '0'),
  ) as [number, number, number, number, number, number];
  const fraction = (m[7] ?? '').padEnd(9, '0');
  const zone = m[8];
  let ms: number;
  if (zone === undefined) {
    ms = new Date(year, month - 1, day, hour, minute, second).getTime();
  } else {
    const offset =
      zone === 'Z' || zone === 'z'
        ? 0
        : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
    ms = Date.UTC(year, month - 1, day, hour, minute, second) - offset * 60_000;
  }
  if (Number.isNaN(ms)) return undefined;
  return `${Math.floor(ms / 1000)}.${pad(Number(fraction), 9)}`;
}
