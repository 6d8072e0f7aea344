/**
 * How JavaScript values stand in for Go values in the template, fmt and json
 * emulations of this folder.
 *
 * - string, boolean: Go string, bool.
 * - number: a Go int when it is an integer below 2^63 in magnitude, else float64.
 * - bigint: a Go int64.
 * - null / undefined: a nil pointer or interface.
 * - arrays (and Sets): slices.
 * - `Map` instances and objects marked with {@link asGoMap}: Go maps (keys iterate
 *   sorted, a missing key is "no value" rather than an error).
 * - any other object: a struct whose fields are its properties (own or inherited,
 *   but not from `Object.prototype`); function-valued properties are methods.
 */

/** Go's invalid `reflect.Value`: what a missing map key evaluates to. Prints as `<no value>`. */
export const NO_VALUE: unique symbol = Symbol('no value');

interface GoMapInfo {
  hasZero: boolean;
  zero: unknown;
}

const goMaps = new WeakMap<object, GoMapInfo>();

/** Options for {@link asGoMap}. */
export interface GoMapOptions {
  /**
   * The zero value of the map's element type, which `index` returns for a
   * missing key. When absent it is inferred from the map's values (`""` for
   * strings, `0` for numbers, `false` for booleans, else nil), defaulting to
   * `""` for an empty map, as for Go's ubiquitous `map[string]string`.
   */
  zero?: unknown;
}

/**
 * Marks a plain object as a Go map (in place; returns the same object). A
 * missing key then evaluates to `<no value>` instead of failing with "can't
 * evaluate field", keys iterate in sorted order, and `%v` prints `map[k:v]`.
 * The mark does not survive copying the object.
 */
export function asGoMap<T extends object>(obj: T, options?: GoMapOptions): T {
  const hasZero = options !== undefined && 'zero' in options;
  goMaps.set(obj, { hasZero, zero: hasZero ? options.zero : undefined });
  return obj;
}

/** True for an object marked with {@link asGoMap}. */
export function isGoMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && goMaps.has(value);
}

/** True for values that behave as Go maps: `Map` instances and {@link asGoMap} objects. */
export function isMapLike(value: unknown): value is Map<unknown, unknown> | Record<string, unknown> {
  return value instanceof Map || isGoMap(value);
}

/** True for values that behave as Go slices: arrays and Sets. */
export function isSliceLike(value: unknown): value is readonly unknown[] | ReadonlySet<unknown> {
  return Array.isArray(value) || value instanceof Set;
}

/** The elements of a slice-like value. */
export function sliceItems(value: readonly unknown[] | ReadonlySet<unknown>): readonly unknown[] {
  return Array.isArray(value) ? value : [...(value as ReadonlySet<unknown>)];
}

/** True for a value treated as a Go struct (see the module comment). */
export function isStructLike(value: unknown): value is object {
  return (
    typeof value === 'object' &&
    value !== null &&
    !isSliceLike(value) &&
    !isMapLike(value) &&
    !(value instanceof Date) &&
    !(value instanceof Error)
  );
}

/** True for a JS number that stands for a Go int (see the module comment). */
export function isGoInt(value: number): boolean {
  return Number.isInteger(value) && Math.abs(value) < 2 ** 63;
}

/** Orders map keys the way Go's fmtsort does for string and numeric keys. */
export function compareKeys(a: unknown, b: unknown): number {
  if ((typeof a === 'number' || typeof a === 'bigint') && (typeof b === 'number' || typeof b === 'bigint')) {
    return a < b ? -1 : a > b ? 1 : 0;
  }
  const sa = String(a);
  const sb = String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/** The entries of a map-like value, sorted by key. */
export function mapEntries(value: Map<unknown, unknown> | Record<string, unknown>): [unknown, unknown][] {
  const entries: [unknown, unknown][] =
    value instanceof Map ? [...value.entries()] : Object.keys(value).map((k) => [k, value[k]]);
  return entries.sort((x, y) => compareKeys(x[0], y[0]));
}

/** Looks a key up in a map-like value. */
export function mapLookup(
  value: Map<unknown, unknown> | Record<string, unknown>,
  key: unknown,
): { found: boolean; value: unknown } {
  if (value instanceof Map) {
    return value.has(key) ? { found: true, value: value.get(key) } : { found: false, value: undefined };
  }
  const k = String(key);
  return Object.prototype.hasOwnProperty.call(value, k)
    ? { found: true, value: value[k] }
    : { found: false, value: undefined };
}

/** The number of entries of a map-like value. */
export function mapSize(value: Map<unknown, unknown> | Record<string, unknown>): number {
  return value instanceof Map ? value.size : Object.keys(value).length;
}

/** The zero value of a map-like value's elements (see {@link GoMapOptions.zero}). */
export function mapZero(value: Map<unknown, unknown> | Record<string, unknown>): unknown {
  const info = value instanceof Map ? undefined : goMaps.get(value);
  if (info?.hasZero) return info.zero;
  const values = value instanceof Map ? [...value.values()] : Object.values(value);
  if (values.length === 0) return '';
  const first = values[0];
  if (values.every((v) => typeof v === 'string')) return '';
  if (values.every((v) => typeof v === 'number')) return 0;
  if (values.every((v) => typeof v === 'bigint')) return 0n;
  if (values.every((v) => typeof v === 'boolean')) return false;
  return first === undefined ? undefined : null;
}

/**
 * The fields of a struct-like value, in declaration (insertion) order: own
 * enumerable string-keyed properties that are not functions.
 */
export function structFields(value: object): [string, unknown][] {
  const fields: [string, unknown][] = [];
  for (const key of Object.keys(value)) {
    const v: unknown = (value as Record<string, unknown>)[key];
    if (typeof v !== 'function') fields.push([key, v]);
  }
  return fields;
}

/**
 * Finds a field or method of a struct-like value: a property, own or
 * inherited, that is not provided by `Object.prototype` and is not the
 * `constructor` of a class.
 */
export function hasStructMember(value: object, name: string): boolean {
  if (name === 'constructor' || name === '__proto__') return false;
  for (
    let o: object | null = value;
    o !== null && o !== Object.prototype;
    o = Object.getPrototypeOf(o) as object | null
  ) {
    if (Object.prototype.hasOwnProperty.call(o, name)) return true;
  }
  return false;
}

/** A Go-style type name for a value, used in error messages and `%T`. */
export function goTypeName(value: unknown): string {
  if (value === null || value === undefined || value === NO_VALUE) return '<nil>';
  switch (typeof value) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    case 'number':
      return isGoInt(value) ? 'int' : 'float64';
    case 'bigint':
      return 'int64';
    case 'function':
      return 'func';
    case 'symbol':
      return 'symbol';
    default:
      break;
  }
  if (isSliceLike(value)) {
    const items = sliceItems(value);
    if (items.length > 0 && items.every((v) => typeof v === 'string')) return '[]string';
    return '[]interface {}';
  }
  if (isMapLike(value)) {
    const values = value instanceof Map ? [...value.values()] : Object.values(value);
    if (values.length > 0 && values.every((v) => typeof v === 'string')) return 'map[string]string';
    return 'map[string]interface {}';
  }
  if (value instanceof Date) return 'time.Time';
  if (value instanceof Error) return '*errors.errorString';
  const ctor = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor;
  if (ctor !== undefined && ctor !== Object && typeof ctor.name === 'string' && ctor.name !== '') {
    return ctor.name;
  }
  return 'struct';
}

/** Encodes a string as UTF-8 bytes. */
export function utf8Bytes(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** Go's `len` of a string: its length in UTF-8 bytes. */
export function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}
