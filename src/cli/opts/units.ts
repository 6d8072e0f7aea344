/**
 * Flag values as the docker CLI reads them, with its error messages: sizes
 * (go-units RAMInBytes: `512m`, `1.5g`, `1GiB`), CPU counts (`1.5` is
 * 1500000000 NanoCpus), and Go's strconv integers and booleans.
 */

/** Go's strconv.Quote for the ASCII strings flag values usually are. */
export function goQuoteString(s: string): string {
  return JSON.stringify(s);
}

const GO_FLOAT = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)$/i;

/**
 * Go's strconv.ParseFloat for decimal input.
 * @throws Error `strconv.ParseFloat: parsing "x": invalid syntax`.
 */
export function goParseFloat(s: string): number {
  if (!GO_FLOAT.test(s)) throw new Error(`strconv.ParseFloat: parsing ${goQuoteString(s)}: invalid syntax`);
  const lower = s.toLowerCase();
  if (lower.endsWith('nan')) return NaN;
  if (lower.endsWith('inf') || lower.endsWith('infinity')) return s.startsWith('-') ? -Infinity : Infinity;
  return Number(s);
}

const BINARY_UNITS: Readonly<Record<string, number>> = {
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  p: 1024 ** 5,
};

/**
 * go-units RAMInBytes: a number, an optional space, and an optional binary
 * unit `b`, `k`, `m`, `g`, `t`, `p` (case-insensitive, with an optional
 * `b` or `ib` after it). `1.5k` is 1536.
 * @throws Error `invalid size: 'x'`, `invalid suffix: 'x'` or a ParseFloat error.
 */
export function ramInBytes(size: string): number {
  let sep = -1;
  for (let i = size.length - 1; i >= 0; i--) {
    if ('0123456789. '.includes(size[i] ?? '')) {
      sep = i;
      break;
    }
  }
  if (sep === -1) throw new Error(`invalid size: '${size}'`);
  let num: string;
  let sfx: string;
  if (size[sep] !== ' ') {
    num = size.slice(0, sep + 1);
    sfx = size.slice(sep + 1);
  } else {
    num = size.slice(0, sep);
    sfx = size.slice(sep + 1);
  }
  let value = goParseFloat(num);
  if (value < 0) throw new Error(`invalid size: '${size}'`);
  if (sfx.length === 0) return Math.trunc(value);
  const badSuffix = (): Error => new Error(`invalid suffix: '${sfx}'`);
  if (sfx.length > 3) throw badSuffix();
  sfx = sfx.toLowerCase();
  if (sfx[0] === 'b') {
    if (sfx.length > 1) throw badSuffix();
    return Math.trunc(value);
  }
  const mul = BINARY_UNITS[sfx[0] ?? ''];
  if (mul === undefined) throw badSuffix();
  value *= mul;
  if ((sfx.length === 2 && sfx[1] !== 'b') || (sfx.length === 3 && sfx.slice(1) !== 'ib')) throw badSuffix();
  return Math.trunc(value);
}

/** docker's MemSwapBytes: `-1` (unlimited) or a size. */
export function memSwapBytes(value: string): number {
  return value === '-1' ? -1 : ramInBytes(value);
}

/**
 * docker's ParseCPUs: a rational number of CPUs (`1.5`, `0.25`, `3/2`) as
 * NanoCpus.
 * @throws Error `failed to parse x as a rational number` or `value is too precise`.
 */
export function parseCpus(value: string): number {
  const fail = (): Error => new Error(`failed to parse ${value} as a rational number`);
  const slash = value.indexOf('/');
  let num: bigint;
  let den: bigint;
  if (slash !== -1) {
    const a = value.slice(0, slash);
    const b = value.slice(slash + 1);
    if (!/^[+-]?\d+$/.test(a) || !/^\d+$/.test(b)) throw fail();
    num = BigInt(a);
    den = BigInt(b);
    if (den === 0n) throw fail();
  } else {
    const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(value);
    if (!m || ((m[2] ?? '') === '' && (m[3] ?? '') === '')) throw fail();
    const digits = (m[2] ?? '') + (m[3] ?? '');
    const exp = Number(m[4] ?? '0') - (m[3] ?? '').length;
    num = BigInt((m[1] === '-' ? '-' : '') + (digits === '' ? '0' : digits));
    den = 1n;
    if (exp >= 0) num *= 10n ** BigInt(exp);
    else den = 10n ** BigInt(-exp);
  }
  const nano = num * 1_000_000_000n;
  if (nano % den !== 0n) throw new Error('value is too precise');
  return Number(nano / den);
}

function parseGoInt(s: string, name: 'ParseInt' | 'ParseUint', bits: number): bigint {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m || (name === 'ParseUint' && m[1] !== '')) {
    throw new Error(`strconv.${name}: parsing ${goQuoteString(s)}: invalid syntax`);
  }
  const body = m[2] ?? '0';
  let n: bigint;
  if (/^0[oO]/.test(body)) n = BigInt('0o' + body.slice(2));
  else if (/^0[0-7]+$/.test(body)) n = BigInt('0o' + body.slice(1));
  else n = BigInt(body);
  if (m[1] === '-') n = -n;
  const max = name === 'ParseUint' ? 2n ** BigInt(bits) - 1n : 2n ** BigInt(bits - 1) - 1n;
  const min = name === 'ParseUint' ? 0n : -(2n ** BigInt(bits - 1));
  if (n > max || n < min) {
    throw new Error(`strconv.${name}: parsing ${goQuoteString(s)}: value out of range`);
  }
  return n;
}

/**
 * pflag's Int64/Int flags: Go's strconv.ParseInt(s, 0, 64) (`0x10`, `0o17`
 * and `017` are accepted).
 * @throws Error `strconv.ParseInt: parsing "x": invalid syntax`.
 */
export function parseInt64(s: string): number {
  return Number(parseGoInt(s, 'ParseInt', 64));
}

/** pflag's Uint16 flags: strconv.ParseUint(s, 0, 16). */
export function parseUint16(s: string): number {
  return Number(parseGoInt(s, 'ParseUint', 16));
}

/** Go's strconv.ParseBool; undefined when `s` is not a boolean. */
export function parseGoBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}
