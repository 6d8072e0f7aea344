/**
 * Go's encoding/json output for the JS stand-ins of Go values (govalue.ts):
 * compact, struct fields in declaration (insertion) order, map keys sorted,
 * Go's string escaping.
 */
import { NO_VALUE, isMapLike, isSliceLike, mapEntries, sliceItems } from './govalue.js';

/** Options for {@link goJson}. */
export interface GoJsonOptions {
  /**
   * Escape `<`, `>` and `&` as `\u003c`, `\u003e`, `\u0026`, as json.Marshal
   * does. Docker's template `json` function turns this off
   * (`Encoder.SetEscapeHTML(false)`), so the default is `false`.
   */
  escapeHTML?: boolean;
}

/**
 * Encodes a value as Go's JSON encoder would. Values with a `toJSON` method
 * are replaced by its result first (as `JSON.stringify` does); bigints are
 * written as plain integer digits; `undefined`, function and symbol
 * properties are omitted (`null` inside arrays); `Map`s and {@link asGoMap}
 * objects have their keys sorted.
 * @throws Error `json: unsupported value: NaN` (or `+Inf`/`-Inf`, or a cycle).
 */
export function goJson(value: unknown, options?: GoJsonOptions): string {
  const escapeHTML = options?.escapeHTML ?? false;
  const seen = new Set<object>();

  const encode = (key: string, raw: unknown): string | undefined => {
    let v = raw;
    if ((typeof v === 'object' && v !== null) || typeof v === 'bigint') {
      const toJSON = (v as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') v = (toJSON as (k: string) => unknown).call(v, key);
    }
    if (v === null || v === NO_VALUE) return 'null';
    switch (typeof v) {
      case 'undefined':
      case 'function':
      case 'symbol':
        return undefined;
      case 'string':
        return quote(v, escapeHTML);
      case 'boolean':
        return v ? 'true' : 'false';
      case 'bigint':
        return v.toString();
      case 'number':
        if (!Number.isFinite(v)) {
          throw new Error(`json: unsupported value: ${Number.isNaN(v) ? 'NaN' : v > 0 ? '+Inf' : '-Inf'}`);
        }
        return Object.is(v, -0) ? '0' : String(v);
      default:
        break;
    }
    const obj = v;
    if (seen.has(obj)) throw new Error('json: unsupported value: encountered a cycle');
    seen.add(obj);
    try {
      if (isSliceLike(obj)) {
        return (
          '[' +
          sliceItems(obj)
            .map((item, i) => encode(String(i), item) ?? 'null')
            .join(',') +
          ']'
        );
      }
      const entries: [unknown, unknown][] = isMapLike(obj)
        ? mapEntries(obj)
        : Object.keys(obj).map((k) => [k, (obj as Record<string, unknown>)[k]]);
      const parts: string[] = [];
      for (const [k, item] of entries) {
        const name = String(k);
        const text = encode(name, item);
        if (text !== undefined) parts.push(quote(name, escapeHTML) + ':' + text);
      }
      return '{' + parts.join(',') + '}';
    } finally {
      seen.delete(obj);
    }
  };

  return encode('', value) ?? 'null';
}

/** A JSON string literal with Go's escaping. */
function quote(s: string, escapeHTML: boolean): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        out += s[i] + s[i + 1];
        i++;
        continue;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      out += '\\ufffd'; // a lone surrogate is invalid UTF-8 in Go terms
      continue;
    }
    switch (c) {
      case 0x22:
        out += '\\"';
        continue;
      case 0x5c:
        out += '\\\\';
        continue;
      case 0x0a:
        out += '\\n';
        continue;
      case 0x0d:
        out += '\\r';
        continue;
      case 0x09:
        out += '\\t';
        continue;
      case 0x08:
        out += '\\b';
        continue;
      case 0x0c:
        out += '\\f';
        continue;
      default:
        break;
    }
    if (
      c < 0x20 ||
      c === 0x2028 ||
      c === 0x2029 ||
      (escapeHTML && (c === 0x3c || c === 0x3e || c === 0x26))
    ) {
      out += '\\u' + c.toString(16).padStart(4, '0');
      continue;
    }
    out += s[i];
  }
  return out + '"';
}
