/**
 * Wall-clock time in Unix nanoseconds as a bigint. Milliseconds come from the
 * wall clock, the sub-millisecond digits from the monotonic clock, and the
 * value never repeats or goes backwards within a process, so events stamped
 * with it keep their order.
 */
let last = 0n;
export function nowNano(): bigint {
  const wall = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
  last = wall > last ? wall : last + 1n;
  return last;
}

/** Unix seconds (the `time` field of events) from nanoseconds. */
export function nanoToSeconds(nano: bigint): number {
  return Number(nano / 1_000_000_000n);
}

const GO_DURATION_UNITS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n,
  μs: 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

/**
 * Parses a Go duration (`300ms`, `-1.5h`, `2h45m`, `10m`) into nanoseconds.
 * Returns undefined when the text is not a duration. `0` is a duration, as in Go.
 */
export function parseGoDuration(text: string): bigint | undefined {
  const m = /^([-+]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/.exec(text);
  if (text === '0' || text === '+0' || text === '-0') return 0n;
  if (!m) return undefined;
  const sign = m[1] === '-' ? -1n : 1n;
  let total = 0n;
  for (const part of text.slice(m[1]?.length ?? 0).matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) {
    const unit = GO_DURATION_UNITS[part[2] ?? ''] ?? 0n;
    const [whole = '0', frac = ''] = (part[1] ?? '0').split('.');
    total += BigInt(whole === '' ? '0' : whole) * unit;
    if (frac !== '') {
      const digits = frac.slice(0, 18);
      total += (BigInt(digits) * unit) / 10n ** BigInt(digits.length);
    }
  }
  return sign * total;
}

/**
 * Parses Docker's API timestamp form, `<seconds>[.<fraction>]` (moby's
 * ParseUnixTimestamp), into Unix nanoseconds. Returns undefined if malformed.
 */
export function parseUnixTimestamp(text: string): bigint | undefined {
  const m = /^(-?\d+)(?:\.(\d*))?$/.exec(text);
  if (!m) return undefined;
  const seconds = BigInt(m[1] ?? '0');
  const fraction = (m[2] ?? '').slice(0, 9).padEnd(9, '0');
  if ((m[2] ?? '').length > 20) return undefined;
  return seconds * 1_000_000_000n + (seconds < 0n ? -BigInt(fraction) : BigInt(fraction));
}

/** Formats Unix nanoseconds as Docker's `<seconds>.<nanoseconds>` timestamp form. */
export function formatUnixTimestamp(nano: bigint): string {
  const seconds = nano / 1_000_000_000n;
  const frac = (nano % 1_000_000_000n).toString().padStart(9, '0');
  return `${seconds}.${frac}`;
}

/**
 * Parses what users type after `--since`/`--until`, as the docker CLI does
 * before sending: a Go duration relative to `now` (`10m` is ten minutes ago),
 * an RFC 3339 date-time or date (local time when it has no zone), or a Unix
 * timestamp. Returns Unix nanoseconds, or undefined if nothing fits.
 */
export function parseUserTimestamp(text: string, nowNanos: bigint): bigint | undefined {
  const value = text.trim();
  if (value === '') return undefined;
  if (value !== '0') {
    const d = parseGoDuration(value);
    if (d !== undefined) return nowNanos - d;
  }
  const unix = parseUnixTimestamp(value);
  if (unix !== undefined && !value.includes('-')) return unix;
  return parseRfc3339(value);
}

function parseRfc3339(value: string): bigint | undefined {
  const m =
    /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})(?::(\d{2}))?(?::(\d{2}))?(?:\.(\d{1,9}))?)?(Z|z|[+-]\d{2}:\d{2})?$/.exec(
      value,
    );
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone] = m;
  const fields = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)] as const;
  let ms: number;
  if (zone === undefined) {
    ms = new Date(...fields).getTime();
  } else {
    ms = Date.UTC(...fields);
    if (zone !== 'Z' && zone !== 'z') {
      const sign = zone.startsWith('-') ? -1 : 1;
      const [zh = '0', zm = '0'] = zone.slice(1).split(':');
      ms -= sign * (Number(zh) * 60 + Number(zm)) * 60_000;
    }
  }
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * 1_000_000n + BigInt(frac.padEnd(9, '0'));
}

/**
 * Formats Unix nanoseconds as Go's `2006-01-02T15:04:05.000000000Z07:00` in
 * the local zone: fixed nine fraction digits, and `Z` for UTC, as the docker
 * CLI prints event times.
 */
export function formatRfc3339NanoFixed(nano: bigint): string {
  const ms = Number(nano / 1_000_000n);
  const date = new Date(ms);
  const offsetMin = -date.getTimezoneOffset();
  const local = new Date(ms + offsetMin * 60_000);
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  const frac = (((nano % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n).toString().padStart(9, '0');
  const base =
    `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}` +
    `T${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}.${frac}`;
  if (offsetMin === 0) return `${base}Z`;
  const sign = offsetMin > 0 ? '+' : '-';
  const abs = Math.abs(offsetMin);
  return `${base}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}
