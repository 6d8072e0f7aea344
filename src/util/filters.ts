import { InvalidParameterError } from '../errors.js';
import { parseGoDuration, parseUnixTimestamp } from './time.js';

/**
 * Docker's `filters` argument: a map from a filter name to a set of values.
 * On the wire it is JSON in either the current form `{"type":{"container":true}}`
 * or the legacy form `{"type":["container"]}`; both are accepted, as moby does.
 * Matching semantics follow moby's filters.Args: a name that is absent or has
 * no values matches everything.
 */
export class FilterArgs {
  private readonly fields: Map<string, Set<string>>;

  constructor(fields?: Iterable<[string, Iterable<string>]>) {
    this.fields = new Map();
    for (const [name, values] of fields ?? []) this.fields.set(name, new Set(values));
  }

  /** Parses the query value; an empty string is "no filters". Malformed JSON is 400 `invalid filter`. */
  static fromJSON(text: string | null | undefined): FilterArgs {
    if (text === null || text === undefined || text === '') return new FilterArgs();
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new InvalidParameterError('invalid filter', { cause: err });
    }
    if (raw === null) return new FilterArgs();
    if (typeof raw !== 'object' || Array.isArray(raw)) throw new InvalidParameterError('invalid filter');
    const args = new FilterArgs();
    for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
      const set = new Set<string>();
      if (Array.isArray(value)) {
        for (const v of value) {
          if (typeof v !== 'string') throw new InvalidParameterError('invalid filter');
          set.add(v);
        }
      } else if (value !== null && typeof value === 'object') {
        for (const [v, on] of Object.entries(value as Record<string, unknown>)) {
          if (typeof on !== 'boolean') throw new InvalidParameterError('invalid filter');
          if (on) set.add(v);
        }
      } else if (value !== null) {
        throw new InvalidParameterError('invalid filter');
      }
      args.fields.set(name, set);
    }
    return args;
  }

  /** Builds filters from CLI `--filter key=value` arguments. */
  static fromPairs(pairs: readonly string[]): FilterArgs {
    const args = new FilterArgs();
    for (const pair of pairs) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new InvalidParameterError(`bad format of filter (expected name=value)`);
      args.add(pair.slice(0, eq).trim().toLowerCase(), pair.slice(eq + 1));
    }
    return args;
  }

  add(name: string, value: string): void {
    let set = this.fields.get(name);
    if (!set) {
      set = new Set();
      this.fields.set(name, set);
    }
    set.add(value);
  }

  /** The current wire form, `{"name":{"value":true}}`. */
  toJSON(): Record<string, Record<string, boolean>> {
    const out: Record<string, Record<string, boolean>> = {};
    for (const [name, values] of this.fields) {
      out[name] = Object.fromEntries([...values].map((v) => [v, true]));
    }
    return out;
  }

  get size(): number {
    return this.fields.size;
  }

  names(): string[] {
    return [...this.fields.keys()];
  }

  get(name: string): string[] {
    return [...(this.fields.get(name) ?? [])];
  }

  contains(name: string): boolean {
    return this.fields.has(name);
  }

  /** Refuses names outside `accepted` with moby's message, `invalid filter 'name'`. */
  validate(accepted: Iterable<string>): void {
    const ok = new Set(accepted);
    for (const name of this.fields.keys()) {
      if (!ok.has(name)) throw new InvalidParameterError(`invalid filter '${name}'`);
    }
  }

  /** True when there is no filter for `name`, or one of its values equals `source`. */
  exactMatch(name: string, source: string): boolean {
    const values = this.fields.get(name);
    if (!values || values.size === 0) return true;
    return values.has(source);
  }

  /** exactMatch, or `source` starts with one of the values (IDs by prefix). */
  fuzzyMatch(name: string, source: string): boolean {
    if (this.exactMatch(name, source)) return true;
    for (const prefix of this.fields.get(name) ?? []) if (source.startsWith(prefix)) return true;
    return false;
  }

  /**
   * Label-style matching: every value `key` or `key=value` must hold in
   * `sources` (all of them, as moby's MatchKVList).
   */
  matchKVList(name: string, sources: Readonly<Record<string, string>>): boolean {
    const values = this.fields.get(name);
    if (!values || values.size === 0) return true;
    if (Object.keys(sources).length === 0) return false;
    for (const value of values) {
      const eq = value.indexOf('=');
      const key = eq === -1 ? value : value.slice(0, eq);
      if (!Object.prototype.hasOwnProperty.call(sources, key)) return false;
      if (eq !== -1 && sources[key] !== value.slice(eq + 1)) return false;
    }
    return true;
  }
}

/** One `label` / `label!` filter value (`key` or `key=value`) against a set of labels. */
export function labelHolds(filter: string, labels: Readonly<Record<string, string>>): boolean {
  const eq = filter.indexOf('=');
  if (eq === -1) return Object.prototype.hasOwnProperty.call(labels, filter);
  return labels[filter.slice(0, eq)] === filter.slice(eq + 1);
}

/**
 * An `until` filter value as moby reads it (prune): Unix seconds (fractional
 * too), an RFC 3339 time, or a Go duration ago (`90s`, `1h30m`). In ms since
 * the epoch; anything else is 400 `invalid filter 'until=…'`.
 */
export function untilCutoff(value: string): number {
  const unix = parseUnixTimestamp(value);
  if (unix !== undefined) return Number(unix / 1_000_000n);
  const ago = parseGoDuration(value);
  if (ago !== undefined) return Date.now() - Number(ago / 1_000_000n);
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new InvalidParameterError(`invalid filter 'until=${value}'`);
  return t;
}
