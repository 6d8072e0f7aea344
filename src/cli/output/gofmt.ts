/**
 * A subset of Go's fmt package (Sprint, Sprintln, Sprintf and the `%v` value
 * form), and strconv's float formatting and quoting, over the JS stand-ins for
 * Go values described in govalue.ts.
 *
 * Not supported: argument indexes (`%[1]d`), `%p`, `%x`/`%b` of floats, Go
 * syntax (`%#v` prints like `%+v`), and complex numbers.
 */
import {
  NO_VALUE,
  goTypeName,
  isGoInt,
  isMapLike,
  isSliceLike,
  mapEntries,
  sliceItems,
  structFields,
  utf8Bytes,
} from './govalue.js';

/** Flags, width and precision of one formatting directive. */
interface FmtSpec {
  minus: boolean;
  plus: boolean;
  sharp: boolean;
  space: boolean;
  zero: boolean;
  width: number | undefined;
  prec: number | undefined;
  /** `%+v`: print struct field names. */
  plusV: boolean;
}

const PLAIN: FmtSpec = {
  minus: false,
  plus: false,
  sharp: false,
  space: false,
  zero: false,
  width: undefined,
  prec: undefined,
  plusV: false,
};

/** Go's `fmt.Sprint(value)`: the `%v` form of one value. */
export function goPrint(value: unknown): string {
  return formatArg(value, 'v', PLAIN, 0);
}

/** Go's `fmt.Sprint(args...)`: spaces are added between operands when neither is a string. */
export function goSprint(args: readonly unknown[]): string {
  let out = '';
  let prevString = false;
  args.forEach((arg, i) => {
    const isString = typeof arg === 'string';
    if (i > 0 && !isString && !prevString) out += ' ';
    out += formatArg(arg, 'v', PLAIN, 0);
    prevString = isString;
  });
  return out;
}

/** Go's `fmt.Sprintln(args...)`: operands separated by spaces, then a newline. */
export function goSprintln(args: readonly unknown[]): string {
  return args.map((arg) => formatArg(arg, 'v', PLAIN, 0)).join(' ') + '\n';
}

/** Go's `fmt.Sprintf(format, args...)`, including its `%!verb(type=value)` error forms. */
export function goSprintf(format: string, args: readonly unknown[]): string {
  let out = '';
  let argNum = 0;
  let i = 0;
  while (i < format.length) {
    const next = format.indexOf('%', i);
    if (next < 0) {
      out += format.slice(i);
      break;
    }
    out += format.slice(i, next);
    i = next + 1;
    const spec: FmtSpec = { ...PLAIN };
    for (; i < format.length; i++) {
      const c = format[i];
      if (c === '#') spec.sharp = true;
      else if (c === '0') spec.zero = !spec.minus;
      else if (c === '+') spec.plus = true;
      else if (c === '-') {
        spec.minus = true;
        spec.zero = false;
      } else if (c === ' ') spec.space = true;
      else break;
    }
    let badWidth = false;
    if (format[i] === '*') {
      i++;
      const w = argNum < args.length ? args[argNum++] : undefined;
      if (typeof w === 'number' && isGoInt(w)) {
        spec.width = Math.abs(w);
        if (w < 0) {
          spec.minus = true;
          spec.zero = false;
        }
      } else badWidth = true;
    } else {
      const m = /^\d+/.exec(format.slice(i));
      if (m !== null) {
        spec.width = Number(m[0]);
        i += m[0].length;
      }
    }
    if (badWidth) out += '%!(BADWIDTH)';
    if (format[i] === '.') {
      i++;
      if (format[i] === '*') {
        i++;
        const p = argNum < args.length ? args[argNum++] : undefined;
        if (typeof p === 'number' && isGoInt(p) && p >= 0) spec.prec = p;
        else out += '%!(BADPREC)';
      } else {
        const m = /^\d+/.exec(format.slice(i));
        spec.prec = m === null ? 0 : Number(m[0]);
        if (m !== null) i += m[0].length;
      }
    }
    if (i >= format.length) {
      out += '%!(NOVERB)';
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i) ?? 0);
    i += verb.length;
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (argNum >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    if (verb === 'v' && spec.plus) {
      spec.plus = false;
      spec.plusV = true;
    }
    if (verb === 'v' && spec.sharp) {
      spec.sharp = false;
      spec.plusV = true;
    }
    out += formatArg(args[argNum++], verb, spec, 0);
  }
  if (argNum < args.length) {
    const extra = args
      .slice(argNum)
      .map((a) => (isNil(a) ? '<nil>' : `${goTypeName(a)}=${formatArg(a, 'v', PLAIN, 0)}`));
    out += `%!(EXTRA ${extra.join(', ')})`;
  }
  return out;
}

function isNil(v: unknown): boolean {
  return v === null || v === undefined || v === NO_VALUE;
}

function runeLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** Pads to the spec's width (in runes) with spaces, or zeros when `zero` is asked. */
function pad(s: string, spec: FmtSpec, zeroOK = false): string {
  if (spec.width === undefined) return s;
  const n = spec.width - runeLength(s);
  if (n <= 0) return s;
  if (spec.minus) return s + ' '.repeat(n);
  return (zeroOK && spec.zero ? '0' : ' ').repeat(n) + s;
}

function badVerb(arg: unknown, verb: string, spec: FmtSpec): string {
  if (isNil(arg)) return `%!${verb}(<nil>)`;
  return `%!${verb}(${goTypeName(arg)}=${formatArg(arg, 'v', spec, 0)})`;
}

/** The text of a value with an `Error()`/`String()` method in Go terms, if it has one. */
function methodText(arg: unknown): string | undefined {
  if (arg instanceof Error) return arg.message;
  if (arg instanceof Date) return formatGoTime(arg);
  if (typeof arg === 'object' && arg !== null) {
    const s = (arg as { String?: unknown }).String;
    if (typeof s === 'function') return String((s as () => unknown).call(arg));
  }
  return undefined;
}

/** time.Time's String() of a Date, in UTC: `2006-01-02 15:04:05.999999999 +0000 UTC`. */
function formatGoTime(d: Date): string {
  if (Number.isNaN(d.getTime())) return 'Invalid Date';
  const iso = d.toISOString(); // 2006-01-02T15:04:05.123Z
  let frac = iso.slice(20, 23).replace(/0+$/, '');
  if (frac !== '') frac = '.' + frac;
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac} +0000 UTC`;
}

function formatArg(arg: unknown, verb: string, spec: FmtSpec, depth: number): string {
  if (verb === 'T') return pad(isNil(arg) ? '<nil>' : goTypeName(arg), spec);
  if (isNil(arg)) return verb === 'v' ? pad('<nil>', spec) : badVerb(arg, verb, spec);
  if ('vsxXq'.includes(verb)) {
    const text = methodText(arg);
    if (text !== undefined) return fmtString(text, verb, spec);
  }
  switch (typeof arg) {
    case 'boolean':
      return verb === 't' || verb === 'v' ? pad(String(arg), spec) : badVerb(arg, verb, spec);
    case 'number':
      if (isGoInt(arg) && 'vdboOxXcqU'.includes(verb)) return fmtInteger(BigInt(arg), verb, spec);
      if ('veEfFgG'.includes(verb)) return fmtFloat(arg, verb, spec);
      return badVerb(arg, verb, spec);
    case 'bigint':
      if ('vdboOxXcqU'.includes(verb)) return fmtInteger(arg, verb, spec);
      if ('eEfFgG'.includes(verb)) return fmtFloat(Number(arg), verb, spec);
      return badVerb(arg, verb, spec);
    case 'string':
      return 'vsqxX'.includes(verb) ? fmtString(arg, verb, spec) : badVerb(arg, verb, spec);
    case 'function':
      return pad('<func>', spec);
    case 'symbol':
      return pad(arg.toString(), spec);
    default:
      break;
  }
  if (isSliceLike(arg)) {
    return (
      '[' +
      sliceItems(arg)
        .map((v) => formatArg(v, verb, spec, depth + 1))
        .join(' ') +
      ']'
    );
  }
  if (isMapLike(arg)) {
    const parts = mapEntries(arg).map(
      ([k, v]) => `${formatArg(k, verb, spec, depth + 1)}:${formatArg(v, verb, spec, depth + 1)}`,
    );
    return 'map[' + parts.join(' ') + ']';
  }
  if (typeof arg === 'object' && arg !== null) {
    const parts = structFields(arg).map(
      ([k, v]) => (spec.plusV ? `${k}:` : '') + formatArg(v, verb, spec, depth + 1),
    );
    return '{' + parts.join(' ') + '}';
  }
  return badVerb(arg, verb, spec);
}

function truncateRunes(s: string, prec: number | undefined): string {
  if (prec === undefined) return s;
  let out = '';
  let n = 0;
  for (const ch of s) {
    if (n++ >= prec) break;
    out += ch;
  }
  return out;
}

function fmtString(s: string, verb: string, spec: FmtSpec): string {
  switch (verb) {
    case 'x':
    case 'X': {
      let bytes = [...utf8Bytes(s)];
      if (spec.prec !== undefined) bytes = bytes.slice(0, spec.prec);
      const hex = bytes.map((b) => {
        const h = b.toString(16).padStart(2, '0');
        const d = verb === 'X' ? h.toUpperCase() : h;
        return spec.sharp ? (verb === 'X' ? '0X' : '0x') + d : d;
      });
      return pad(hex.join(spec.space ? ' ' : ''), spec);
    }
    case 'q': {
      const t = truncateRunes(s, spec.prec);
      if (spec.sharp && canBackquote(t)) return pad('`' + t + '`', spec);
      return pad(goQuote(t, spec.plus), spec);
    }
    default:
      return pad(truncateRunes(s, spec.prec), spec);
  }
}

/** strconv.CanBackquote: no backquote and no control characters other than tab. */
function canBackquote(s: string): boolean {
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === '`' || (c < 0x20 && c !== 9) || c === 0x7f || c === 0xfeff) return false;
  }
  return true;
}

function fmtInteger(n: bigint, verb: string, spec: FmtSpec): string {
  switch (verb) {
    case 'c':
      return pad(runeString(n), spec);
    case 'q':
      return pad(goQuoteRune(n), spec);
    case 'U': {
      let s = 'U+' + (n < 0n ? 0n : n).toString(16).toUpperCase().padStart(4, '0');
      if (spec.sharp) s += ` '${runeString(n)}'`;
      return pad(s, spec);
    }
    default:
      break;
  }
  const base = verb === 'b' ? 2 : verb === 'o' || verb === 'O' ? 8 : verb === 'x' || verb === 'X' ? 16 : 10;
  const negative = n < 0n;
  let digits = (negative ? -n : n).toString(base);
  if (verb === 'X') digits = digits.toUpperCase();
  if (spec.prec !== undefined) {
    if (spec.prec === 0 && n === 0n) digits = '';
    digits = digits.padStart(spec.prec, '0');
  } else if (spec.zero && !spec.minus && spec.width !== undefined) {
    digits = digits.padStart(spec.width - (negative || spec.plus || spec.space ? 1 : 0), '0');
  }
  let prefix = '';
  if (verb === 'O') prefix = '0o';
  else if (spec.sharp) {
    if (verb === 'b') prefix = '0b';
    else if (verb === 'o' && !digits.startsWith('0')) prefix = '0';
    else if (verb === 'x') prefix = '0x';
    else if (verb === 'X') prefix = '0X';
  }
  const sign = negative ? '-' : spec.plus ? '+' : spec.space ? ' ' : '';
  return pad(sign + prefix + digits, spec);
}

function runeString(n: bigint): string {
  const c = Number(n);
  if (n < 0n || n > 0x10ffffn || (c >= 0xd800 && c <= 0xdfff)) return '\ufffd';
  return String.fromCodePoint(c);
}

function fmtFloat(x: number, verb: string, spec: FmtSpec): string {
  const fmt = verb === 'v' ? 'g' : verb === 'F' ? 'f' : (verb as FloatFormat);
  const prec = spec.prec ?? (fmt === 'g' || fmt === 'G' ? -1 : 6);
  const num = formatFloat(x, fmt, prec);
  if (Number.isNaN(x)) return pad(spec.plus ? '+NaN' : spec.space ? ' NaN' : 'NaN', spec);
  if (!Number.isFinite(x)) return pad(x < 0 ? num : spec.space && !spec.plus ? ' Inf' : '+Inf', spec);
  const negative = num.startsWith('-');
  const body = negative ? num.slice(1) : num;
  const sign = negative ? '-' : spec.plus ? '+' : spec.space ? ' ' : '';
  if (spec.zero && !spec.minus && spec.width !== undefined) {
    return sign + body.padStart(spec.width - sign.length, '0');
  }
  return pad(sign + body, spec);
}

/** A float format letter of strconv.FormatFloat. */
export type FloatFormat = 'e' | 'E' | 'f' | 'g' | 'G';

/** Decimal digits of a non-negative number: value = 0.d[0]d[1]… × 10^dp, no trailing zeros. */
interface Digits {
  d: string;
  dp: number;
}

/** The exact decimal expansion of a finite non-negative double. */
function exactDigits(x: number): Digits {
  if (x === 0) return { d: '', dp: 0 };
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exp: number;
  if (biased === 0) exp = -1074;
  else {
    mant |= 1n << 52n;
    exp = biased - 1075;
  }
  let d: string;
  let dp: number;
  if (exp >= 0) {
    d = (mant << BigInt(exp)).toString();
    dp = d.length;
  } else {
    d = (mant * 5n ** BigInt(-exp)).toString();
    dp = d.length + exp;
  }
  return trimDigits({ d, dp });
}

function trimDigits(v: Digits): Digits {
  const d = v.d.replace(/0+$/, '');
  return d === '' ? { d: '', dp: 0 } : { d, dp: v.dp };
}

/** The shortest digits that read back as the same double (what Go's `-1` precision gives). */
function shortestDigits(x: number): Digits {
  if (x === 0) return { d: '', dp: 0 };
  const [mant, e] = x.toExponential().split('e');
  return trimDigits({ d: mant.replace('.', ''), dp: Number(e) + 1 });
}

/** Rounds to `nd` significant digits, halfway cases to even (as Go's decimal.Round). */
function roundDigits(v: Digits, nd: number): Digits {
  if (nd < 0 || nd >= v.d.length) return v;
  const up =
    v.d[nd] === '5' && nd + 1 === v.d.length ? nd > 0 && Number(v.d[nd - 1]) % 2 === 1 : v.d[nd] >= '5';
  if (!up) return trimDigits({ d: v.d.slice(0, nd), dp: v.dp });
  let i = nd - 1;
  while (i >= 0 && v.d[i] === '9') i--;
  if (i < 0) return { d: '1', dp: v.dp + 1 };
  return trimDigits({ d: v.d.slice(0, i) + String(Number(v.d[i]) + 1), dp: v.dp });
}

function digitAt(v: Digits, i: number): string {
  return i >= 0 && i < v.d.length ? v.d[i] : '0';
}

function fmtE(v: Digits, prec: number, letter: string): string {
  let s = v.d === '' ? '0' : v.d[0];
  if (prec > 0) {
    s += '.';
    for (let i = 1; i <= prec; i++) s += digitAt(v, i);
  }
  const exp = v.d === '' ? 0 : v.dp - 1;
  const abs = Math.abs(exp);
  return s + letter + (exp < 0 ? '-' : '+') + (abs < 10 ? '0' : '') + String(abs);
}

function fmtF(v: Digits, prec: number): string {
  let s = '';
  if (v.dp > 0) {
    for (let i = 0; i < v.dp; i++) s += digitAt(v, i);
  } else s = '0';
  if (prec > 0) {
    s += '.';
    for (let i = 0; i < prec; i++) s += digitAt(v, v.dp + i);
  }
  return s;
}

/**
 * strconv.FormatFloat(x, fmt, prec, 64): `prec` -1 means the fewest digits
 * that represent x exactly; rounding is correct, halfway cases to even.
 */
export function formatFloat(x: number, fmt: FloatFormat, prec: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '-Inf';
  const neg = x < 0 || Object.is(x, -0);
  const abs = Math.abs(x);
  const shortest = prec < 0;
  let digs: Digits;
  if (shortest) {
    digs = shortestDigits(abs);
    if (fmt === 'e' || fmt === 'E') prec = Math.max(digs.d.length - 1, 0);
    else if (fmt === 'f') prec = Math.max(digs.d.length - digs.dp, 0);
    else prec = digs.d.length;
  } else {
    const exact = exactDigits(abs);
    if (fmt === 'e' || fmt === 'E') digs = roundDigits(exact, prec + 1);
    else if (fmt === 'f') digs = roundDigits(exact, exact.dp + prec);
    else {
      if (prec === 0) prec = 1;
      digs = roundDigits(exact, prec);
    }
  }
  let body: string;
  if (fmt === 'e' || fmt === 'E') body = fmtE(digs, prec, fmt);
  else if (fmt === 'f') body = fmtF(digs, prec);
  else {
    let eprec = prec;
    if (eprec > digs.d.length && digs.d.length >= digs.dp) eprec = digs.d.length;
    if (shortest) eprec = 6;
    const exp = digs.dp - 1;
    if (digs.d !== '' && (exp < -4 || exp >= eprec)) {
      body = fmtE(digs, Math.min(prec, digs.d.length) - 1, fmt === 'G' ? 'E' : 'e');
    } else {
      body = fmtF(digs, Math.max((prec > digs.dp ? digs.d.length : prec) - digs.dp, 0));
    }
  }
  return (neg ? '-' : '') + body;
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

function isPrint(ch: string): boolean {
  return ch === ' ' || PRINTABLE.test(ch);
}

function escapeRune(ch: string, quote: string, asciiOnly: boolean): string {
  const c = ch.codePointAt(0) ?? 0;
  if (ch === quote || ch === '\\') return '\\' + ch;
  if (c >= 0xd800 && c <= 0xdfff) return '\\ufffd';
  if (isPrint(ch) && (!asciiOnly || c < 0x80)) return ch;
  switch (c) {
    case 7:
      return '\\a';
    case 8:
      return '\\b';
    case 0xc:
      return '\\f';
    case 0xa:
      return '\\n';
    case 0xd:
      return '\\r';
    case 9:
      return '\\t';
    case 0xb:
      return '\\v';
    default:
      break;
  }
  if (c < 0x20 || c === 0x7f) return '\\x' + c.toString(16).padStart(2, '0');
  if (c < 0x10000) return '\\u' + c.toString(16).padStart(4, '0');
  return '\\U' + c.toString(16).padStart(8, '0');
}

/** strconv.Quote (or QuoteToASCII when `asciiOnly`): a double-quoted Go string literal. */
export function goQuote(s: string, asciiOnly = false): string {
  let out = '"';
  for (const ch of s) out += escapeRune(ch, '"', asciiOnly);
  return out + '"';
}

/** strconv.QuoteRune: a single-quoted Go character literal. */
export function goQuoteRune(n: bigint): string {
  return "'" + escapeRune(runeString(n), "'", false) + "'";
}
