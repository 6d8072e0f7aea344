/**
 * A faithful subset of Go's text/template with the docker CLI's functions
 * (docker/cli templates/templates.go), over the JS stand-ins for Go values
 * described in govalue.ts.
 *
 * Supported: text and actions with `{{-`/`-}}` trimming, comments, fields
 * and chains (`.A.B`, `$x.A`, `(pipe).A`), methods (function-valued
 * properties, called with the action's arguments), variables (`:=`, `=`),
 * pipelines, parentheses, string/raw-string/char/number/bool/nil literals,
 * `if`/`else if`/`else`, `with`/`else with`, `range` (slices, maps in key
 * order, integers; `$i, $v :=`; `else`; `break`/`continue`), `define`,
 * `template`, `block`; Go's builtins `and or not eq ne lt le gt ge len index
 * slice print printf println html js urlquery call`; docker's `json split join
 * title lower upper pad truncate`.
 *
 * Not supported: custom delimiters, complex numbers, range over functions or
 * channels. Field names are not required to be exported (capitalised).
 *
 * Semantics follow Go with the default `missingkey` option: a missing key of
 * a map evaluates to "no value", which prints `<no value>`; a missing field
 * of a struct is an error. Errors are {@link TemplateError}s worded as Go's.
 */
import { goPrint, goQuote, goSprint, goSprintf, goSprintln } from './gofmt.js';
import { goJson } from './gojson.js';
import {
  NO_VALUE,
  goTypeName,
  hasStructMember,
  isGoInt,
  isMapLike,
  isSliceLike,
  mapEntries,
  mapLookup,
  mapSize,
  mapZero,
  sliceItems,
  structFields,
  utf8Bytes,
  utf8Length,
} from './govalue.js';
import {
  TemplateError,
  nodeString,
  parseTrees,
  type AnyNode,
  type ArgNode,
  type BranchNode,
  type ChainNode,
  type CommandNode,
  type FieldNode,
  type IdentifierNode,
  type ListNode,
  type Node,
  type NumberNode,
  type PipeNode,
  type TemplateNode,
  type TreeSet,
  type VariableNode,
} from './template-parse.js';

export { TemplateError } from './template-parse.js';
export { asGoMap, isGoMap, type GoMapOptions } from './govalue.js';
export { goPrint, goSprint, goSprintf, goSprintln, goQuote } from './gofmt.js';
export { goJson, type GoJsonOptions } from './gojson.js';

/** A function callable from templates: receives the evaluated arguments (nil as `null`). */
export type TemplateFunction = (...args: unknown[]) => unknown;

/** Options for {@link parseTemplate}. */
export interface ParseOptions {
  /**
   * Extra functions, available by name (they take precedence over the
   * builtins, as Go's template functions do). Arguments are not type-checked.
   */
  funcs?: Readonly<Record<string, TemplateFunction>>;
}

/** Options for {@link Template.execute}. */
export interface ExecuteOptions {
  /**
   * Use docker's header functions (`HeaderFunctions`): `json`, `split`,
   * `join`, `title`, `lower`, `upper` and `truncate` return their string
   * argument unchanged, so a table header shows the column names.
   */
  header?: boolean;
  /**
   * Whether `json` HTML-escapes `<`, `>`, `&` (json.Marshal) for a given
   * value. Docker's `json` does not (the default); docker's formatter
   * contexts (`docker ps` items…) do, through their MarshalJSON.
   */
  jsonEscapeHTML?: boolean | ((value: unknown) => boolean);
  /**
   * Go's `missingkey` option, for a map key that is absent: `default` gives
   * "no value" (printed `<no value>`, docker's behaviour), `zero` the map's
   * zero value (see `asGoMap`'s `zero` option), `error` fails the execution.
   */
  missingKey?: 'default' | 'zero' | 'error';
}

/** The outcome of {@link Template.executePartial}. */
export interface PartialResult {
  /** What was written before execution stopped (all of it on success). */
  output: string;
  error: TemplateError | undefined;
}

/** A parsed template. */
export class Template {
  /** The template source. */
  readonly source: string;
  private readonly trees: TreeSet;
  private readonly funcs: Readonly<Record<string, TemplateFunction>>;

  /** Use {@link parseTemplate}. */
  constructor(source: string, trees: TreeSet, funcs: Readonly<Record<string, TemplateFunction>>) {
    this.source = source;
    this.trees = trees;
    this.funcs = funcs;
  }

  /**
   * Executes the template with `data` as dot and `$`.
   * @throws TemplateError on an execution error.
   */
  execute(data: unknown, options?: ExecuteOptions): string {
    const { output, error } = this.executePartial(data, options);
    if (error !== undefined) throw error;
    return output;
  }

  /** Executes like {@link execute}, but returns the output written before an error too. */
  executePartial(data: unknown, options?: ExecuteOptions): PartialResult {
    const state = new ExecState(
      this.source,
      this.trees,
      this.functionTable(options),
      data,
      options?.missingKey,
    );
    try {
      state.walk(data, this.rootTree());
      return { output: state.output(), error: undefined };
    } catch (e) {
      if (e instanceof TemplateError) return { output: state.output(), error: e };
      throw e;
    }
  }

  private rootTree(): ListNode {
    const root = this.trees.get('');
    if (root === undefined) throw new TemplateError('template: "" is an incomplete or empty template');
    return root;
  }

  private functionTable(options: ExecuteOptions | undefined): FunctionTable {
    const escape = options?.jsonEscapeHTML ?? false;
    const table = new Map<string, FuncSpec>(BUILTINS);
    const docker = options?.header === true ? headerFunctions() : dockerFunctions(escape);
    for (const [name, spec] of docker) table.set(name, spec);
    for (const [name, fn] of Object.entries(this.funcs)) table.set(name, userFunction(fn));
    return table;
  }
}

/**
 * Parses a template with docker's function set (plus `options.funcs`).
 * @throws TemplateError with Go's message, e.g. `template: :1: function "foo" not defined`.
 */
export function parseTemplate(src: string, options?: ParseOptions): Template {
  const funcs = options?.funcs ?? {};
  const known = (name: string): boolean =>
    BUILTINS.has(name) ||
    DOCKER_FUNCTION_NAMES.has(name) ||
    Object.prototype.hasOwnProperty.call(funcs, name);
  return new Template(src, parseTrees(src, known), funcs);
}

/**
 * Parses and executes a template.
 * @throws TemplateError on a parse or execution error.
 */
export function renderTemplate(src: string, data: unknown, options?: ParseOptions & ExecuteOptions): string {
  return parseTemplate(src, options).execute(data, options);
}

// ---------------------------------------------------------------------------
// Functions

/**
 * How a parameter is checked and converted, after Go's reflection rules:
 * `any` is interface{} (no value becomes nil), `value` is reflect.Value (no
 * value stays "no value"), `string` and `int` must have that type.
 */
type ParamType = 'any' | 'value' | 'string' | 'int';

interface FuncSpec {
  params: readonly ParamType[];
  /** The element type of a final variadic parameter. */
  variadic?: ParamType;
  /** Runs the function; a thrown Error becomes "error calling NAME: message". */
  call: (args: unknown[]) => unknown;
}

type FunctionTable = ReadonlyMap<string, FuncSpec>;

function userFunction(fn: TemplateFunction, self?: unknown): FuncSpec {
  return { params: [], variadic: 'any', call: (args) => fn.apply(self, args) };
}

const MISSING: unique symbol = Symbol('missing');

function isNil(v: unknown): boolean {
  return v === null || v === undefined || v === NO_VALUE;
}

/** Go's truth of a value: not the zero value of its type. */
function truth(v: unknown): boolean {
  if (isNil(v)) return false;
  switch (typeof v) {
    case 'string':
      return v.length > 0;
    case 'number':
      return v !== 0;
    case 'bigint':
      return v !== 0n;
    case 'boolean':
      return v;
    default:
      break;
  }
  if (isSliceLike(v)) return sliceItems(v).length > 0;
  if (isMapLike(v)) return mapSize(v) > 0;
  return true;
}

function lengthOf(v: unknown): number {
  if (v === NO_VALUE) throw new Error('reflect: call of reflect.Value.Type on zero Value');
  if (isNil(v)) throw new Error('len of nil pointer');
  if (typeof v === 'string') return utf8Length(v);
  if (isSliceLike(v)) return sliceItems(v).length;
  if (isMapLike(v)) return mapSize(v);
  throw new Error(`len of type ${goTypeName(v)}`);
}

/** An index argument of `index`/`slice` as an integer. */
function indexArg(index: unknown, cap: number): number {
  let x: number;
  if (typeof index === 'number' && isGoInt(index)) x = index;
  else if (typeof index === 'bigint') x = Number(index);
  else if (isNil(index)) throw new Error('cannot index slice/array with nil');
  else throw new Error(`cannot index slice/array with type ${goTypeName(index)}`);
  if (x < 0 || x > cap) throw new Error(`index out of range: ${x}`);
  return x;
}

function indexValue(item: unknown, indexes: readonly unknown[]): unknown {
  if (isNil(item)) throw new Error('index of untyped nil');
  let cur = item;
  for (const index of indexes) {
    if (isNil(cur)) throw new Error('index of nil pointer');
    if (typeof cur === 'string') {
      const bytes = utf8Bytes(cur);
      const x = indexArg(index, bytes.length);
      if (x === bytes.length) throw new Error('reflect: string index out of range');
      cur = bytes[x];
    } else if (isSliceLike(cur)) {
      const items = sliceItems(cur);
      const x = indexArg(index, items.length);
      if (x === items.length) throw new Error('reflect: slice index out of range');
      cur = items[x];
    } else if (isMapLike(cur)) {
      if (!(cur instanceof Map)) {
        if (isNil(index)) throw new Error('value is nil; should be of type string');
        if (typeof index !== 'string')
          throw new Error(`value has type ${goTypeName(index)}; should be string`);
      }
      const found = mapLookup(cur, index === NO_VALUE ? null : index);
      cur = found.found ? found.value : mapZero(cur);
    } else throw new Error(`can't index item of type ${goTypeName(cur)}`);
  }
  return cur;
}

function sliceValue(item: unknown, indexes: readonly unknown[]): unknown {
  if (isNil(item)) throw new Error('slice of untyped nil');
  if (indexes.length > 3) throw new Error(`too many slice indexes: ${indexes.length}`);
  let bytes: Uint8Array | undefined;
  let items: readonly unknown[] | undefined;
  if (typeof item === 'string') {
    if (indexes.length === 3) throw new Error('cannot 3-index slice a string');
    bytes = utf8Bytes(item);
  } else if (isSliceLike(item)) items = sliceItems(item);
  else throw new Error(`can't slice item of type ${goTypeName(item)}`);
  const len = bytes?.length ?? items?.length ?? 0;
  const idx = [0, len, len];
  indexes.forEach((index, i) => {
    idx[i] = indexArg(index, len);
  });
  if (idx[0] > idx[1]) throw new Error(`invalid slice index: ${idx[0]} > ${idx[1]}`);
  if (indexes.length === 3 && idx[1] > idx[2]) throw new Error(`invalid slice index: ${idx[1]} > ${idx[2]}`);
  if (bytes !== undefined) return new TextDecoder().decode(bytes.slice(idx[0], idx[1]));
  return (items ?? []).slice(idx[0], idx[1]);
}

type BasicKind = 'bool' | 'number' | 'string' | null;

function basicKind(v: unknown): BasicKind {
  switch (typeof v) {
    case 'boolean':
      return 'bool';
    case 'number':
    case 'bigint':
      return 'number';
    case 'string':
      return 'string';
    default:
      return null;
  }
}

function compareNumbers(a: number | bigint, b: number | bigint): number {
  if (typeof a === 'bigint' && typeof b === 'number' && Number.isInteger(b))
    return compareNumbers(a, BigInt(b));
  if (typeof b === 'bigint' && typeof a === 'number' && Number.isInteger(a))
    return compareNumbers(BigInt(a), b);
  const x = typeof a === 'bigint' && typeof b !== 'bigint' ? Number(a) : a;
  const y = typeof b === 'bigint' && typeof a !== 'bigint' ? Number(b) : b;
  return x < y ? -1 : x > y ? 1 : 0;
}

function structEqual(a: object, b: object): boolean {
  if (a === b) return true;
  const fa = structFields(a);
  const fb = structFields(b);
  if (fa.length !== fb.length || Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  return fa.every(([k, v], i) => {
    const [kb, w] = fb[i];
    if (k !== kb) return false;
    if (basicKind(v) !== null && basicKind(v) === basicKind(w)) {
      return basicKind(v) === 'number' ? compareNumbers(v as number, w as number) === 0 : v === w;
    }
    if (isNil(v) || isNil(w)) return isNil(v) && isNil(w);
    if (typeof v === 'object' && typeof w === 'object' && !isSliceLike(v) && !isMapLike(v)) {
      return structEqual(v as object, w as object);
    }
    return v === w;
  });
}

function eq(arg1: unknown, rest: readonly unknown[]): boolean {
  if (rest.length === 0) throw new Error('missing argument for comparison');
  const k1 = basicKind(arg1);
  for (const arg of rest) {
    const k2 = basicKind(arg);
    let equal = false;
    if (k1 !== k2) {
      if (!isNil(arg1) && !isNil(arg)) {
        throw new Error(`incompatible types for comparison: ${goTypeName(arg1)} and ${goTypeName(arg)}`);
      }
    } else if (k1 === 'number') equal = compareNumbers(arg1 as number, arg as number) === 0;
    else if (k1 !== null) equal = arg1 === arg;
    else if (isNil(arg1) || isNil(arg)) equal = isNil(arg1) === isNil(arg);
    else if (isSliceLike(arg) || isMapLike(arg) || typeof arg === 'function') {
      throw new Error(`non-comparable type ${goPrint(arg)}: ${goTypeName(arg)}`);
    } else if (isSliceLike(arg1) || isMapLike(arg1) || typeof arg1 === 'function') {
      throw new Error(
        `non-comparable types ${goPrint(arg1)}: ${goTypeName(arg1)}, ${goTypeName(arg)}: ${goPrint(arg)}`,
      );
    } else equal = structEqual(arg1 as object, arg as object);
    if (equal) return true;
  }
  return false;
}

function lt(a: unknown, b: unknown): boolean {
  const k1 = basicKind(a);
  const k2 = basicKind(b);
  if (k1 === null || k2 === null) throw new Error('invalid type for comparison');
  if (k1 !== k2) throw new Error(`incompatible types for comparison: ${goTypeName(a)} and ${goTypeName(b)}`);
  if (k1 === 'bool') throw new Error('invalid type for comparison');
  if (k1 === 'number') return compareNumbers(a as number, b as number) < 0;
  return (a as string) < (b as string);
}

function le(a: unknown, b: unknown): boolean {
  return lt(a, b) || eq(a, [b]);
}

function htmlEscape(s: string): string {
  const map: Record<string, string> = {
    '"': '&#34;',
    "'": '&#39;',
    '&': '&amp;',
    '<': '&lt;',
    '>': '&gt;',
    '\0': '\ufffd',
  };
  return s.replace(/["'&<>\0]/g, (c) => map[c]);
}

function jsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    const special: Record<string, string> = {
      '\\': '\\\\',
      "'": "\\'",
      '"': '\\"',
      '<': '\\u003C',
      '>': '\\u003E',
      '&': '\\u0026',
      '=': '\\u003D',
    };
    if (ch in special) out += special[ch];
    else if (c < 0x20) out += '\\u00' + c.toString(16).toUpperCase().padStart(2, '0');
    else if (c < 0x80 || /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u.test(ch)) out += ch;
    else out += '\\u' + c.toString(16).toUpperCase().padStart(4, '0');
  }
  return out;
}

function urlQueryEscape(s: string): string {
  let out = '';
  for (const b of utf8Bytes(s)) {
    const ch = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(ch)) out += ch;
    else if (ch === ' ') out += '+';
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** `html`/`js`/`urlquery` stringify their arguments like fmt.Sprint, a lone string as is. */
function evalArgs(args: readonly unknown[]): string {
  if (args.length === 1 && typeof args[0] === 'string') return args[0];
  return goSprint(args);
}

const VALUE_CMP: readonly ParamType[] = ['value', 'value'];

/** Go's text/template builtins. `and`/`or` are evaluated lazily by the executor. */
const BUILTINS: ReadonlyMap<string, FuncSpec> = new Map<string, FuncSpec>([
  ['and', { params: ['value'], variadic: 'value', call: () => NO_VALUE }],
  ['or', { params: ['value'], variadic: 'value', call: () => NO_VALUE }],
  ['not', { params: ['value'], call: ([a]) => !truth(a) }],
  ['len', { params: ['value'], call: ([a]) => lengthOf(a) }],
  ['index', { params: ['value'], variadic: 'value', call: ([a, ...rest]) => indexValue(a, rest) }],
  ['slice', { params: ['value'], variadic: 'value', call: ([a, ...rest]) => sliceValue(a, rest) }],
  ['print', { params: [], variadic: 'any', call: (args) => goSprint(args) }],
  ['printf', { params: ['string'], variadic: 'any', call: ([f, ...rest]) => goSprintf(f as string, rest) }],
  ['println', { params: [], variadic: 'any', call: (args) => goSprintln(args) }],
  ['html', { params: [], variadic: 'any', call: (args) => htmlEscape(evalArgs(args)) }],
  ['js', { params: [], variadic: 'any', call: (args) => jsEscape(evalArgs(args)) }],
  ['urlquery', { params: [], variadic: 'any', call: (args) => urlQueryEscape(evalArgs(args)) }],
  [
    'call',
    {
      params: ['value'],
      variadic: 'value',
      call: ([fn, ...rest]) => {
        if (isNil(fn)) throw new Error('call of nil');
        if (typeof fn !== 'function') throw new Error(`non-function of type ${goTypeName(fn)}`);
        return (fn as TemplateFunction)(...rest.map((a) => (a === NO_VALUE ? null : a)));
      },
    },
  ],
  ['eq', { params: ['value'], variadic: 'value', call: ([a, ...rest]) => eq(a, rest) }],
  ['ne', { params: VALUE_CMP, call: ([a, b]) => !eq(a, [b]) }],
  ['lt', { params: VALUE_CMP, call: ([a, b]) => lt(a, b) }],
  ['le', { params: VALUE_CMP, call: ([a, b]) => le(a, b) }],
  ['gt', { params: VALUE_CMP, call: ([a, b]) => !le(a, b) }],
  ['ge', { params: VALUE_CMP, call: ([a, b]) => !lt(a, b) }],
]);

const DOCKER_FUNCTION_NAMES: ReadonlySet<string> = new Set([
  'json',
  'split',
  'join',
  'title',
  'lower',
  'upper',
  'pad',
  'truncate',
]);

/** Applies a case mapping rune by rune, keeping runes that do not map to exactly one rune (as Go's). */
function mapRunes(s: string, f: (ch: string) => string): string {
  let out = '';
  for (const ch of s) {
    const m = f(ch);
    out += [...m].length === 1 ? m : ch;
  }
  return out;
}

/** strings.Title: upper-cases the first letter of each word. */
function title(s: string): string {
  let out = '';
  let prev = ' ';
  for (const ch of s) {
    out += isWordSeparator(prev) ? mapRunes(ch, (c) => c.toUpperCase()) : ch;
    prev = ch;
  }
  return out;
}

function isWordSeparator(ch: string): boolean {
  if (ch <= '\x7f') return !/[0-9A-Za-z_]/.test(ch);
  if (/^[\p{L}\p{Nd}]$/u.test(ch)) return false;
  return /^\s$/u.test(ch);
}

/** strings.Split. */
function split(s: string, sep: string): string[] {
  if (sep === '') return [...s];
  return s.split(sep);
}

/** docker's joinElements: strings joined; other slices by fmt.Sprint of each; map values sorted. */
function join(elems: unknown, sep: string): string {
  if (isNil(elems)) return '';
  if (isSliceLike(elems)) return sliceItems(elems).map(goPrint).join(sep);
  if (isMapLike(elems)) {
    return mapEntries(elems)
      .map(([, v]) => goPrint(v))
      .sort()
      .join(sep);
  }
  throw new Error(`expected slice, got ${goTypeName(elems)}`);
}

function repeatSpaces(n: number): string {
  if (n < 0) throw new Error('strings: negative Repeat count');
  return ' '.repeat(n);
}

/** docker's functions; `escape` decides whether `json` escapes HTML for a value. */
function dockerFunctions(escape: boolean | ((value: unknown) => boolean)): Map<string, FuncSpec> {
  return new Map<string, FuncSpec>([
    [
      'json',
      {
        params: ['any'],
        call: ([v]) => goJson(v, { escapeHTML: typeof escape === 'function' ? escape(v) : escape }),
      },
    ],
    ['split', { params: ['string', 'string'], call: ([s, sep]) => split(s as string, sep as string) }],
    ['join', { params: ['any', 'string'], call: ([e, sep]) => join(e, sep as string) }],
    ['title', { params: ['string'], call: ([s]) => title(s as string) }],
    ['lower', { params: ['string'], call: ([s]) => mapRunes(s as string, (c) => c.toLowerCase()) }],
    ['upper', { params: ['string'], call: ([s]) => mapRunes(s as string, (c) => c.toUpperCase()) }],
    [
      'pad',
      {
        params: ['string', 'int', 'int'],
        call: ([s, l, r]) =>
          s === '' ? '' : repeatSpaces(l as number) + (s as string) + repeatSpaces(r as number),
      },
    ],
    [
      'truncate',
      {
        params: ['string', 'int'],
        call: ([s, n]) => {
          const runes = [...(s as string)];
          const length = n as number;
          if (runes.length < length) return s;
          if (length < 0) throw new Error(`runtime error: slice bounds out of range [:${length}]`);
          return runes.slice(0, length).join('');
        },
      },
    ],
  ]);
}

/** docker's HeaderFunctions: identity stand-ins so table headers stay intact; `pad` is kept. */
function headerFunctions(): Map<string, FuncSpec> {
  const identity = (params: readonly ParamType[]): FuncSpec => ({ params, call: ([s]) => s });
  const table = dockerFunctions(false);
  table.set('json', identity(['string']));
  table.set('split', identity(['string', 'string']));
  table.set('join', identity(['string', 'string']));
  table.set('title', identity(['string']));
  table.set('lower', identity(['string']));
  table.set('upper', identity(['string']));
  table.set('truncate', identity(['string', 'int']));
  return table;
}

// ---------------------------------------------------------------------------
// Execution

/** Thrown by `{{break}}` and `{{continue}}`, caught by the enclosing range. */
const BREAK = new Error('{{break}} outside {{range}}');
const CONTINUE = new Error('{{continue}} outside {{range}}');
const MAX_DEPTH = 100000;

interface Variable {
  name: string;
  value: unknown;
}

/** The state of one execution, after Go's exec.go. */
class ExecState {
  private readonly src: string;
  private readonly trees: TreeSet;
  private readonly funcs: FunctionTable;
  private vars: Variable[];
  private node: AnyNode | null = null;
  private name = '';
  private depth = 0;
  private readonly out: string[] = [];
  private readonly missingKey: 'default' | 'zero' | 'error';

  constructor(
    src: string,
    trees: TreeSet,
    funcs: FunctionTable,
    data: unknown,
    missingKey: 'default' | 'zero' | 'error' = 'default',
  ) {
    this.src = src;
    this.trees = trees;
    this.funcs = funcs;
    this.vars = [{ name: '$', value: data }];
    this.missingKey = missingKey;
  }

  output(): string {
    return this.out.join('');
  }

  private at(node: AnyNode): void {
    this.node = node;
  }

  /** Fails with Go's `template: NAME:LINE:COL: executing "NAME" at <NODE>: message`. */
  private errorf(message: string): never {
    if (this.node === null) throw new TemplateError(`template: ${this.name}: ${message}`);
    const before = this.src.slice(0, this.node.pos);
    const lineStart = before.lastIndexOf('\n') + 1;
    const line = before.split('\n').length;
    const col = utf8Length(before.slice(lineStart));
    throw new TemplateError(
      `template: :${line}:${col}: executing ${goQuote(this.name)} at <${nodeString(this.node)}>: ${message}`,
    );
  }

  // -- variables

  private varValue(name: string): unknown {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i].name === name) return this.vars[i].value;
    return this.errorf(`undefined variable: ${name}`);
  }

  private setVar(name: string, value: unknown): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      if (this.vars[i].name === name) {
        this.vars[i].value = value;
        return;
      }
    }
    this.errorf(`undefined variable: ${name}`);
  }

  // -- walking

  walk(dot: unknown, node: Node): void {
    this.at(node);
    switch (node.kind) {
      case 'action': {
        const val = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) this.printValue(node, val);
        return;
      }
      case 'break':
        throw BREAK;
      case 'continue':
        throw CONTINUE;
      case 'if':
      case 'with':
        return this.walkIfOrWith(dot, node);
      case 'list':
        for (const n of node.nodes) this.walk(dot, n);
        return;
      case 'range':
        return this.walkRange(dot, node);
      case 'template':
        return this.walkTemplate(dot, node);
      case 'text':
        this.out.push(node.text);
        return;
    }
  }

  private walkIfOrWith(dot: unknown, node: BranchNode): void {
    const mark = this.vars.length;
    try {
      const val = this.evalPipeline(dot, node.pipe);
      if (truth(val)) this.walk(node.kind === 'with' ? val : dot, node.list);
      else if (node.elseList !== null) this.walk(dot, node.elseList);
    } finally {
      this.vars.length = mark;
    }
  }

  private walkRange(dot: unknown, node: BranchNode): void {
    this.at(node);
    const outer = this.vars.length;
    try {
      const val = this.evalPipeline(dot, node.pipe);
      const mark = this.vars.length;
      const { decl, isAssign } = node.pipe;
      const oneIteration = (index: unknown, elem: unknown): void => {
        if (decl.length > 0) {
          if (isAssign) this.setVar(decl[0].ident[0], decl.length > 1 ? index : elem);
          else this.vars[this.vars.length - 1].value = elem;
        }
        if (decl.length > 1) {
          if (isAssign) this.setVar(decl[1].ident[0], elem);
          else this.vars[this.vars.length - 2].value = index;
        }
        try {
          this.walk(elem, node.list);
        } catch (e) {
          if (e !== CONTINUE) throw e;
        } finally {
          this.vars.length = mark;
        }
      };
      let pairs: [unknown, unknown][] = [];
      if (isSliceLike(val)) pairs = sliceItems(val).map((v, i) => [i, v]);
      else if (isMapLike(val)) pairs = mapEntries(val);
      else if ((typeof val === 'number' && isGoInt(val)) || typeof val === 'bigint') {
        if (decl.length > 1) this.errorf(`can't use ${goPrint(val)} to iterate over more than one variable`);
        for (let i = 0; i < Number(val); i++) pairs.push([i, i]);
      } else if (!isNil(val)) this.errorf(`range can't iterate over ${goPrint(val)}`);
      if (pairs.length > 0) {
        try {
          for (const [k, v] of pairs) oneIteration(k, v);
        } catch (e) {
          if (e !== BREAK) throw e;
        }
        return;
      }
      if (node.elseList !== null) this.walk(dot, node.elseList);
    } finally {
      this.vars.length = outer;
    }
  }

  private walkTemplate(dot: unknown, node: TemplateNode): void {
    this.at(node);
    const tree = this.trees.get(node.name);
    if (tree === undefined) this.errorf(`template ${goQuote(node.name)} not defined`);
    if (this.depth >= MAX_DEPTH) this.errorf(`exceeded maximum template depth (${MAX_DEPTH})`);
    const newDot = this.evalPipeline(dot, node.pipe);
    const saved = { vars: this.vars, name: this.name };
    this.vars = [{ name: '$', value: newDot }];
    this.name = node.name;
    this.depth++;
    try {
      this.walk(newDot, tree);
    } finally {
      this.vars = saved.vars;
      this.name = saved.name;
      this.depth--;
    }
  }

  private printValue(node: AnyNode, v: unknown): void {
    this.at(node);
    if (v === NO_VALUE) this.out.push('<no value>');
    else if (typeof v === 'function') this.errorf(`can't print ${nodeString(node)} of type func`);
    else this.out.push(goPrint(v));
  }

  // -- evaluation

  private evalPipeline(dot: unknown, pipe: PipeNode | null): unknown {
    if (pipe === null) return NO_VALUE;
    this.at(pipe);
    let value: unknown = MISSING;
    for (const cmd of pipe.cmds) value = this.evalCommand(dot, cmd, value);
    for (const v of pipe.decl) {
      if (pipe.isAssign) this.setVar(v.ident[0], value);
      else this.vars.push({ name: v.ident[0], value });
    }
    return value;
  }

  private notAFunction(args: readonly ArgNode[], final: unknown): void {
    if (args.length > 1 || final !== MISSING) {
      this.errorf(`can't give argument to non-function ${nodeString(args[0])}`);
    }
  }

  private evalCommand(dot: unknown, cmd: CommandNode, final: unknown): unknown {
    const first = cmd.args[0];
    switch (first.kind) {
      case 'field':
        return this.evalFieldNode(dot, first, cmd.args, final);
      case 'chain':
        return this.evalChainNode(dot, first, cmd.args, final);
      case 'identifier':
        return this.evalFunction(dot, first, cmd, cmd.args, final);
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first);
      case 'variable':
        return this.evalVariableNode(dot, first, cmd.args, final);
      default:
        break;
    }
    this.at(first);
    this.notAFunction(cmd.args, final);
    switch (first.kind) {
      case 'bool':
        return first.value;
      case 'dot':
        return dot;
      case 'nil':
        return this.errorf('nil is not a command');
      case 'number':
        return this.idealConstant(first);
      case 'string':
        return first.text;
      default:
        return this.errorf(`can't evaluate command ${goQuote(nodeString(first))}`);
    }
  }

  /** A number literal's value where no type is expected: int, or float64 if written as a float. */
  private idealConstant(n: NumberNode): unknown {
    this.at(n);
    const isHexInt = /^[+-]?0[xX]/.test(n.text) && !/[pP]/.test(n.text);
    if (n.isFloat && !isHexInt && !n.text.startsWith("'") && /[.eEpP]/.test(n.text)) return n.float;
    if (n.isInt)
      return n.int >= BigInt(Number.MIN_SAFE_INTEGER) && n.int <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(n.int)
        : n.int;
    if (n.isUint) this.errorf(`${n.text} overflows int`);
    return NO_VALUE;
  }

  private evalFieldNode(
    dot: unknown,
    field: FieldNode,
    args: readonly ArgNode[] | null,
    final: unknown,
  ): unknown {
    this.at(field);
    return this.evalFieldChain(dot, dot, field, field.ident, args, final);
  }

  private evalChainNode(
    dot: unknown,
    chain: ChainNode,
    args: readonly ArgNode[] | null,
    final: unknown,
  ): unknown {
    this.at(chain);
    if (chain.node.kind === 'nil') this.errorf(`indirection through explicit nil in ${nodeString(chain)}`);
    const receiver = this.evalArg(dot, null, chain.node);
    return this.evalFieldChain(dot, receiver, chain, chain.fields, args, final);
  }

  private evalVariableNode(
    dot: unknown,
    v: VariableNode,
    args: readonly ArgNode[] | null,
    final: unknown,
  ): unknown {
    this.at(v);
    const value = this.varValue(v.ident[0]);
    if (v.ident.length === 1) {
      this.notAFunction(args ?? [v], final);
      return value;
    }
    return this.evalFieldChain(dot, value, v, v.ident.slice(1), args, final);
  }

  private evalFieldChain(
    dot: unknown,
    receiver: unknown,
    node: AnyNode,
    ident: readonly string[],
    args: readonly ArgNode[] | null,
    final: unknown,
  ): unknown {
    let r = receiver;
    for (let i = 0; i < ident.length - 1; i++) r = this.evalField(dot, ident[i], node, null, MISSING, r);
    return this.evalField(dot, ident[ident.length - 1], node, args, final, r);
  }

  private evalFunction(
    dot: unknown,
    node: IdentifierNode,
    cmd: AnyNode,
    args: readonly ArgNode[] | null,
    final: unknown,
  ): unknown {
    this.at(node);
    const spec = this.funcs.get(node.name);
    if (spec === undefined) return this.errorf(`${goQuote(node.name)} is not a defined function`);
    return this.evalCall(
      dot,
      spec,
      BUILTINS.has(node.name) && BUILTINS.get(node.name) === spec,
      cmd,
      node.name,
      args,
      final,
    );
  }

  /** `.Name` on a receiver: a map key, a struct field, or a method call. */
  private evalField(
    dot: unknown,
    name: string,
    node: AnyNode,
    args: readonly ArgNode[] | null,
    final: unknown,
    receiver: unknown,
  ): unknown {
    if (receiver === NO_VALUE) {
      if (this.missingKey === 'error') this.errorf(`nil data; no entry for key ${goQuote(name)}`);
      return NO_VALUE;
    }
    if (isNil(receiver)) return this.errorf(`nil pointer evaluating interface {}.${name}`);
    const hasArgs = (args !== null && args.length > 1) || final !== MISSING;
    if (isMapLike(receiver)) {
      const found = mapLookup(receiver, name);
      if (found.found && typeof found.value === 'function' && !(receiver instanceof Map)) {
        return this.evalCall(
          dot,
          userFunction(found.value as TemplateFunction, receiver),
          false,
          node,
          name,
          args,
          final,
        );
      }
      if (hasArgs) this.errorf(`${name} is not a method but has arguments`);
      if (found.found) return found.value;
      if (this.missingKey === 'zero') return mapZero(receiver);
      if (this.missingKey === 'error') this.errorf(`map has no entry for key ${goQuote(name)}`);
      return NO_VALUE;
    }
    if (
      typeof receiver === 'object' &&
      receiver !== null &&
      !isSliceLike(receiver) &&
      hasStructMember(receiver, name)
    ) {
      let value: unknown;
      try {
        value = (receiver as Record<string, unknown>)[name];
      } catch (e) {
        this.at(node);
        this.errorf(`error calling ${name}: ${errorMessage(e)}`);
      }
      if (typeof value === 'function') {
        return this.evalCall(
          dot,
          userFunction(value as TemplateFunction, receiver),
          false,
          node,
          name,
          args,
          final,
        );
      }
      if (hasArgs) this.errorf(`${name} has arguments but cannot be invoked as function`);
      return value;
    }
    return this.errorf(`can't evaluate field ${name} in type ${goTypeName(receiver)}`);
  }

  private evalCall(
    dot: unknown,
    fn: FuncSpec,
    isBuiltin: boolean,
    node: AnyNode,
    name: string,
    args: readonly ArgNode[] | null,
    final: unknown,
  ): unknown {
    const callArgs = args === null ? [] : args.slice(1);
    const numIn = callArgs.length + (final !== MISSING ? 1 : 0);
    const numFixed = fn.variadic !== undefined ? fn.params.length : callArgs.length;
    if (fn.variadic !== undefined) {
      if (numIn < fn.params.length) {
        this.errorf(
          `wrong number of args for ${name}: want at least ${fn.params.length} got ${callArgs.length}`,
        );
      }
    } else if (numIn !== fn.params.length) {
      this.errorf(`wrong number of args for ${name}: want ${fn.params.length} got ${numIn}`);
    }
    if (isBuiltin && (name === 'and' || name === 'or')) {
      let v: unknown = NO_VALUE;
      for (const a of callArgs) {
        v = this.evalArg(dot, 'value', a);
        if (truth(v) === (name === 'or')) return v;
      }
      if (final !== MISSING) v = this.validateType(final, 'value');
      return v;
    }
    const argv: unknown[] = [];
    let i = 0;
    for (; i < numFixed && i < callArgs.length; i++) argv.push(this.evalArg(dot, fn.params[i], callArgs[i]));
    if (fn.variadic !== undefined) {
      for (; i < callArgs.length; i++) argv.push(this.evalArg(dot, fn.variadic, callArgs[i]));
    }
    if (final !== MISSING) {
      let t = fn.params[fn.params.length - 1];
      if (fn.variadic !== undefined) t = numIn - 1 < numFixed ? fn.params[numIn - 1] : fn.variadic;
      argv.push(this.validateType(final, t));
    }
    try {
      return fn.call(argv);
    } catch (e) {
      this.at(node);
      return this.errorf(`error calling ${name}: ${errorMessage(e)}`);
    }
  }

  /** Checks a value against a parameter type (null: untyped, as for a chain's receiver). */
  private validateType(value: unknown, typ: ParamType | null): unknown {
    if (value === NO_VALUE || value === MISSING) {
      if (typ === null || typ === 'value') return NO_VALUE;
      if (typ === 'any') return null;
      return this.errorf(`invalid value; expected ${typ}`);
    }
    if (typ === 'string' && typeof value !== 'string') {
      if (isNil(value)) this.errorf('invalid value; expected string');
      this.errorf(`wrong type for value; expected string; got ${goTypeName(value)}`);
    }
    if (typ === 'int') {
      if (typeof value === 'number' && isGoInt(value)) return value;
      if (typeof value === 'bigint') return Number(value);
      if (isNil(value)) this.errorf('invalid value; expected int');
      this.errorf(`wrong type for value; expected int; got ${goTypeName(value)}`);
    }
    return value;
  }

  private evalArg(dot: unknown, typ: ParamType | null, n: ArgNode): unknown {
    this.at(n);
    switch (n.kind) {
      case 'dot':
        return this.validateType(dot, typ);
      case 'nil':
        if (typ === 'any' || typ === null) return null;
        if (typ === 'value') return NO_VALUE;
        return this.errorf(`cannot assign nil to ${typ}`);
      case 'field':
        return this.validateType(this.evalFieldNode(dot, n, [n], MISSING), typ);
      case 'variable':
        return this.validateType(this.evalVariableNode(dot, n, null, MISSING), typ);
      case 'pipe':
        return this.validateType(this.evalPipeline(dot, n), typ);
      case 'identifier':
        return this.validateType(this.evalFunction(dot, n, n, null, MISSING), typ);
      case 'chain':
        return this.validateType(this.evalChainNode(dot, n, null, MISSING), typ);
      default:
        break;
    }
    if (typ === 'string') {
      if (n.kind === 'string') return n.text;
      return this.errorf(`expected string; found ${nodeString(n)}`);
    }
    if (typ === 'int') {
      if (n.kind === 'number' && n.isInt) return Number(n.int);
      return this.errorf(`expected integer; found ${nodeString(n)}`);
    }
    switch (n.kind) {
      case 'bool':
        return n.value;
      case 'number':
        return this.idealConstant(n);
      case 'string':
        return n.text;
      default:
        return this.errorf(`can't handle assignment of ${nodeString(n)} to empty interface argument`);
    }
  }
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
