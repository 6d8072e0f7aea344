/**
 * Lexer and parser for the Go text/template language (default `{{ }}`
 * delimiters), producing the node tree that template.ts executes. Error
 * messages follow Go's: `template: :LINE: message`.
 *
 * Positions (`pos`) are UTF-16 offsets into the source; they are turned into
 * Go's byte columns only when an execution error is reported.
 */
import { goQuote } from './gofmt.js';
import { utf8Bytes } from './govalue.js';

/** An error parsing or executing a template; the message is worded as Go's. */
export class TemplateError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TemplateError';
  }
}

// ---------------------------------------------------------------------------
// Nodes

export interface TextNode {
  kind: 'text';
  pos: number;
  text: string;
}
export interface ListNode {
  kind: 'list';
  pos: number;
  nodes: Node[];
}
export interface ActionNode {
  kind: 'action';
  pos: number;
  pipe: PipeNode;
}
export interface BranchNode {
  kind: 'if' | 'range' | 'with';
  pos: number;
  pipe: PipeNode;
  list: ListNode;
  elseList: ListNode | null;
}
export interface TemplateNode {
  kind: 'template';
  pos: number;
  name: string;
  pipe: PipeNode | null;
}
export interface LoopControlNode {
  kind: 'break' | 'continue';
  pos: number;
}
/** `{{end}}` and `{{else}}`: returned by the item-list parser, never kept in a tree. */
interface DelimiterNode {
  kind: 'end' | 'else';
  pos: number;
}
export type Node = TextNode | ListNode | ActionNode | BranchNode | TemplateNode | LoopControlNode;

export interface PipeNode {
  kind: 'pipe';
  pos: number;
  isAssign: boolean;
  decl: VariableNode[];
  cmds: CommandNode[];
}
export interface CommandNode {
  kind: 'command';
  pos: number;
  args: ArgNode[];
}
export interface FieldNode {
  kind: 'field';
  pos: number;
  ident: string[];
}
export interface VariableNode {
  kind: 'variable';
  pos: number;
  ident: string[];
}
export interface ChainNode {
  kind: 'chain';
  pos: number;
  node: ArgNode;
  fields: string[];
}
export interface IdentifierNode {
  kind: 'identifier';
  pos: number;
  name: string;
}
export interface DotNode {
  kind: 'dot';
  pos: number;
}
export interface NilNode {
  kind: 'nil';
  pos: number;
}
export interface BoolNode {
  kind: 'bool';
  pos: number;
  value: boolean;
}
export interface NumberNode {
  kind: 'number';
  pos: number;
  text: string;
  isInt: boolean;
  isUint: boolean;
  isFloat: boolean;
  isComplex: boolean;
  int: bigint;
  float: number;
}
export interface StringNode {
  kind: 'string';
  pos: number;
  quoted: string;
  text: string;
}
export type ArgNode =
  | FieldNode
  | VariableNode
  | ChainNode
  | IdentifierNode
  | DotNode
  | NilNode
  | BoolNode
  | NumberNode
  | StringNode
  | PipeNode;

export type AnyNode = Node | DelimiterNode | ArgNode | CommandNode;

/** Go's `Node.String()`: the node written back as template source. */
export function nodeString(n: AnyNode): string {
  switch (n.kind) {
    case 'text':
      return n.text;
    case 'list':
      return n.nodes.map(nodeString).join('');
    case 'action':
      return '{{' + nodeString(n.pipe) + '}}';
    case 'if':
    case 'range':
    case 'with':
      return (
        `{{${n.kind} ${nodeString(n.pipe)}}}${nodeString(n.list)}` +
        (n.elseList === null ? '' : '{{else}}' + nodeString(n.elseList)) +
        '{{end}}'
      );
    case 'template':
      return `{{template ${goQuote(n.name)}${n.pipe === null ? '' : ' ' + nodeString(n.pipe)}}}`;
    case 'break':
    case 'continue':
    case 'end':
    case 'else':
      return `{{${n.kind}}}`;
    case 'pipe':
      return (
        (n.decl.length > 0 ? n.decl.map(nodeString).join(', ') + ' := ' : '') +
        n.cmds.map(nodeString).join(' | ')
      );
    case 'command':
      return n.args.map((a) => (a.kind === 'pipe' ? `(${nodeString(a)})` : nodeString(a))).join(' ');
    case 'field':
      return n.ident.map((id) => '.' + id).join('');
    case 'variable':
      return n.ident.join('.');
    case 'chain':
      return (
        (n.node.kind === 'pipe' ? `(${nodeString(n.node)})` : nodeString(n.node)) +
        n.fields.map((f) => '.' + f).join('')
      );
    case 'identifier':
      return n.name;
    case 'dot':
      return '.';
    case 'nil':
      return 'nil';
    case 'bool':
      return n.value ? 'true' : 'false';
    case 'number':
      return n.text;
    case 'string':
      return n.quoted;
  }
}

// ---------------------------------------------------------------------------
// Lexer

type Keyword =
  | 'block'
  | 'break'
  | 'continue'
  | 'dot'
  | 'define'
  | 'else'
  | 'end'
  | 'if'
  | 'nil'
  | 'range'
  | 'template'
  | 'with';

type ItemType =
  | 'error'
  | 'bool'
  | 'char'
  | 'charConstant'
  | 'complex'
  | 'assign'
  | 'declare'
  | 'eof'
  | 'field'
  | 'identifier'
  | 'leftDelim'
  | 'leftParen'
  | 'number'
  | 'pipe'
  | 'rawString'
  | 'rightDelim'
  | 'rightParen'
  | 'space'
  | 'string'
  | 'text'
  | 'variable'
  | Keyword;

const KEYWORDS: ReadonlyMap<string, Keyword> = new Map<string, Keyword>([
  ['block', 'block'],
  ['break', 'break'],
  ['continue', 'continue'],
  ['define', 'define'],
  ['else', 'else'],
  ['end', 'end'],
  ['if', 'if'],
  ['nil', 'nil'],
  ['range', 'range'],
  ['template', 'template'],
  ['with', 'with'],
]);
const KEYWORD_TYPES: ReadonlySet<ItemType> = new Set<ItemType>([...KEYWORDS.values(), 'dot']);

interface Item {
  type: ItemType;
  pos: number;
  val: string;
  line: number;
}

/** Go's `item.String()`, used in "unexpected X in Y" messages. */
function itemString(item: Item): string {
  if (item.type === 'eof') return 'EOF';
  if (item.type === 'error') return item.val;
  if (KEYWORD_TYPES.has(item.type)) return `<${item.val}>`;
  const runes = [...item.val];
  if (runes.length > 10) return goQuote(runes.slice(0, 10).join('')) + '...';
  return goQuote(item.val);
}

const LEFT = '{{';
const RIGHT = '}}';

function isSpace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n';
}

const ALNUM = /^[_\p{L}\p{Nd}]$/u;
function isAlphaNumeric(ch: string): boolean {
  return ch !== '' && ALNUM.test(ch);
}

/** Go's `%#U` of a rune. */
function formatU(ch: string): string {
  const c = ch.codePointAt(0) ?? 0;
  const u = 'U+' + c.toString(16).toUpperCase().padStart(4, '0');
  return /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u.test(ch) ? `${u} '${ch}'` : u;
}

function hasLeftTrimMarker(s: string, i: number): boolean {
  return s[i] === '-' && i + 1 < s.length && isSpace(s[i + 1]);
}

function hasRightTrimMarker(s: string, i: number): boolean {
  return i + 1 < s.length && isSpace(s[i]) && s[i + 1] === '-';
}

/** A pull lexer: the parser asks for one item at a time, so errors surface in source order. */
class Lexer {
  private readonly input: string;
  private readonly breakOK: boolean;
  private readonly continueOK: boolean;
  private readonly newlines: number[] = [];
  private pos = 0;
  private start = 0;
  private insideAction = false;
  private parenDepth = 0;
  private done = false;

  constructor(input: string, breakOK: boolean, continueOK: boolean) {
    this.input = input;
    this.breakOK = breakOK;
    this.continueOK = continueOK;
    for (let i = input.indexOf('\n'); i >= 0; i = input.indexOf('\n', i + 1)) this.newlines.push(i);
  }

  /** The 1-based line of an offset. */
  lineAt(pos: number): number {
    let lo = 0;
    let hi = this.newlines.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.newlines[mid] < pos) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  }

  nextItem(): Item {
    if (this.done) return { type: 'eof', pos: this.pos, val: 'EOF', line: this.lineAt(this.pos) };
    return this.insideAction ? this.lexInsideAction() : this.lexText();
  }

  private item(type: ItemType, pos = this.start): Item {
    const it: Item = { type, pos, val: this.input.slice(pos, this.pos), line: this.lineAt(pos) };
    this.start = this.pos;
    return it;
  }

  private error(message: string): Item {
    this.done = true;
    return { type: 'error', pos: this.start, val: message, line: this.lineAt(this.start) };
  }

  private peek(): string {
    const c = this.input.codePointAt(this.pos);
    return c === undefined ? '' : String.fromCodePoint(c);
  }

  private next(): string {
    const ch = this.peek();
    this.pos += ch.length;
    return ch;
  }

  private accept(valid: string): boolean {
    const ch = this.peek();
    if (ch !== '' && valid.includes(ch)) {
      this.pos += ch.length;
      return true;
    }
    return false;
  }

  private acceptRun(valid: string): void {
    while (this.accept(valid));
  }

  private lexText(): Item {
    for (;;) {
      const x = this.input.indexOf(LEFT, this.pos);
      if (x < 0) {
        this.pos = this.input.length;
        if (this.pos > this.start) return this.item('text');
        this.done = true;
        return { type: 'eof', pos: this.pos, val: 'EOF', line: this.lineAt(this.pos) };
      }
      if (x > this.pos) {
        let end = x;
        if (hasLeftTrimMarker(this.input, x + LEFT.length)) {
          while (end > this.start && isSpace(this.input[end - 1])) end--;
        }
        const text: Item = {
          type: 'text',
          pos: this.start,
          val: this.input.slice(this.start, end),
          line: this.lineAt(this.start),
        };
        this.pos = x;
        this.start = x;
        if (text.val !== '') return text;
      }
      const delim = this.lexLeftDelim();
      if (delim !== null) return delim;
    }
  }

  private atRightDelim(): { delim: boolean; trim: boolean } {
    if (hasRightTrimMarker(this.input, this.pos) && this.input.startsWith(RIGHT, this.pos + 2)) {
      return { delim: true, trim: true };
    }
    return { delim: this.input.startsWith(RIGHT, this.pos), trim: false };
  }

  private skipLeadingSpace(): void {
    while (this.pos < this.input.length && isSpace(this.input[this.pos])) this.pos++;
  }

  /** Scans `{{`; returns null when it opened a comment that was skipped. */
  private lexLeftDelim(): Item | null {
    this.pos += LEFT.length;
    const afterMarker = hasLeftTrimMarker(this.input, this.pos) ? 2 : 0;
    if (this.input.startsWith('/*', this.pos + afterMarker)) {
      this.pos += afterMarker;
      this.start = this.pos;
      return this.lexComment();
    }
    const it = this.item('leftDelim');
    this.insideAction = true;
    this.pos += afterMarker;
    this.start = this.pos;
    this.parenDepth = 0;
    return it;
  }

  private lexComment(): Item | null {
    this.pos += 2;
    const x = this.input.indexOf('*/', this.pos);
    if (x < 0) return this.error('unclosed comment');
    this.pos = x + 2;
    const { delim, trim } = this.atRightDelim();
    if (!delim) return this.error('comment ends before closing delimiter');
    this.pos += (trim ? 2 : 0) + RIGHT.length;
    if (trim) this.skipLeadingSpace();
    this.start = this.pos;
    return null;
  }

  private lexRightDelim(): Item {
    const { trim } = this.atRightDelim();
    if (trim) {
      this.pos += 2;
      this.start = this.pos;
    }
    this.pos += RIGHT.length;
    const it = this.item('rightDelim');
    if (trim) {
      this.skipLeadingSpace();
      this.start = this.pos;
    }
    this.insideAction = false;
    return it;
  }

  private lexInsideAction(): Item {
    if (this.atRightDelim().delim) {
      return this.parenDepth === 0 ? this.lexRightDelim() : this.error('unclosed left paren');
    }
    const ch = this.peek();
    if (ch === '') return this.error('unclosed action');
    if (isSpace(ch)) return this.lexSpace();
    this.next();
    switch (ch) {
      case '=':
        return this.item('assign');
      case ':':
        if (this.next() !== '=') return this.error('expected :=');
        return this.item('declare');
      case '|':
        return this.item('pipe');
      case '"':
        return this.lexQuote('"', 'string', 'unterminated quoted string');
      case "'":
        return this.lexQuote("'", 'charConstant', 'unterminated character constant');
      case '`': {
        const end = this.input.indexOf('`', this.pos);
        if (end < 0) return this.error('unterminated raw quoted string');
        this.pos = end + 1;
        return this.item('rawString');
      }
      case '$':
        return this.lexFieldOrVariable('variable');
      case '(':
        this.parenDepth++;
        return this.item('leftParen');
      case ')':
        this.parenDepth--;
        if (this.parenDepth < 0) return this.error('unexpected right paren');
        return this.item('rightParen');
      default:
        break;
    }
    if (ch === '.' && this.pos < this.input.length && !/^[0-9]$/.test(this.peek())) {
      return this.lexFieldOrVariable('field');
    }
    if (ch === '.' || ch === '+' || ch === '-' || (ch >= '0' && ch <= '9')) {
      this.pos = this.start;
      return this.lexNumber();
    }
    if (isAlphaNumeric(ch)) return this.lexIdentifier();
    const c = ch.codePointAt(0) ?? 0;
    if (c >= 0x20 && c < 0x7f) return this.item('char');
    return this.error(`unrecognized character in action: ${formatU(ch)}`);
  }

  private lexSpace(): Item {
    let n = 0;
    while (isSpace(this.peek())) {
      this.pos++;
      n++;
    }
    if (hasRightTrimMarker(this.input, this.pos - 1) && this.input.startsWith(RIGHT, this.pos + 1)) {
      this.pos--; // leave the space of " -}}"
      if (n === 1) return this.lexRightDelim();
    }
    return this.item('space');
  }

  private atTerminator(): boolean {
    const ch = this.peek();
    if (ch === '' || isSpace(ch) || '.,|:()'.includes(ch)) return true;
    return this.input.startsWith(RIGHT, this.pos);
  }

  private lexIdentifier(): Item {
    while (isAlphaNumeric(this.peek())) this.next();
    if (!this.atTerminator()) return this.error(`bad character ${formatU(this.peek())}`);
    const word = this.input.slice(this.start, this.pos);
    const kw = KEYWORDS.get(word);
    if (kw !== undefined) {
      if ((kw === 'break' && !this.breakOK) || (kw === 'continue' && !this.continueOK)) {
        return this.item('identifier');
      }
      return this.item(kw);
    }
    if (word === 'true' || word === 'false') return this.item('bool');
    return this.item('identifier');
  }

  /** `.Name` or `$name`; the `.` or `$` has been read. */
  private lexFieldOrVariable(type: 'field' | 'variable'): Item {
    if (this.atTerminator()) return this.item(type === 'variable' ? 'variable' : 'dot');
    while (isAlphaNumeric(this.peek())) this.next();
    if (!this.atTerminator()) return this.error(`bad character ${formatU(this.peek())}`);
    return this.item(type);
  }

  private lexQuote(quote: string, type: ItemType, unterminated: string): Item {
    for (;;) {
      const ch = this.next();
      if (ch === '\\') {
        const escaped = this.next();
        if (escaped !== '' && escaped !== '\n') continue;
        return this.error(unterminated);
      }
      if (ch === '' || ch === '\n') return this.error(unterminated);
      if (ch === quote) return this.item(type);
    }
  }

  private lexNumber(): Item {
    if (!this.scanNumber())
      return this.error(`bad number syntax: ${goQuote(this.input.slice(this.start, this.pos))}`);
    const sign = this.peek();
    if (sign === '+' || sign === '-') {
      if (!this.scanNumber() || this.input[this.pos - 1] !== 'i') {
        return this.error(`bad number syntax: ${goQuote(this.input.slice(this.start, this.pos))}`);
      }
      return this.item('complex');
    }
    return this.item('number');
  }

  private scanNumber(): boolean {
    this.accept('+-');
    let digits = '0123456789_';
    if (this.accept('0')) {
      if (this.accept('xX')) digits = '0123456789abcdefABCDEF_';
      else if (this.accept('oO')) digits = '01234567_';
      else if (this.accept('bB')) digits = '01_';
    }
    this.acceptRun(digits);
    if (this.accept('.')) this.acceptRun(digits);
    if (digits.length === 11 && this.accept('eE')) {
      this.accept('+-');
      this.acceptRun('0123456789_');
    }
    if (digits.length === 23 && this.accept('pP')) {
      this.accept('+-');
      this.acceptRun('0123456789_');
    }
    this.accept('i');
    if (isAlphaNumeric(this.peek())) {
      this.next();
      return false;
    }
    return true;
  }
}

// ---------------------------------------------------------------------------
// Literals

const SYNTAX = 'invalid syntax';

/** strconv.UnquoteChar: decodes one (possibly escaped) character; returns its code and the rest. */
function unquoteChar(s: string, quote: string): { value: number; byte: boolean; tail: string } {
  const c = s.codePointAt(0);
  if (c === undefined) throw new Error(SYNTAX);
  const ch = String.fromCodePoint(c);
  if (ch === quote && (quote === "'" || quote === '"')) throw new Error(SYNTAX);
  if (ch !== '\\') return { value: c, byte: false, tail: s.slice(ch.length) };
  const e = s[1];
  const rest = s.slice(2);
  const simple: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92 };
  if (e !== undefined && e in simple) return { value: simple[e], byte: false, tail: rest };
  const hex = (n: number): number => {
    const h = rest.slice(0, n);
    if (h.length < n || !/^[0-9a-fA-F]+$/.test(h)) throw new Error(SYNTAX);
    return parseInt(h, 16);
  };
  switch (e) {
    case 'x':
      return { value: hex(2), byte: true, tail: rest.slice(2) };
    case 'u':
    case 'U': {
      const n = e === 'u' ? 4 : 8;
      const v = hex(n);
      if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) throw new Error(SYNTAX);
      return { value: v, byte: false, tail: rest.slice(n) };
    }
    case "'":
    case '"':
      if (e !== quote) throw new Error(SYNTAX);
      return { value: e.charCodeAt(0), byte: false, tail: rest };
    default:
      break;
  }
  if (e !== undefined && e >= '0' && e <= '7') {
    const o = s.slice(1, 4);
    if (!/^[0-7]{3}$/.test(o)) throw new Error(SYNTAX);
    const v = parseInt(o, 8);
    if (v > 255) throw new Error(SYNTAX);
    return { value: v, byte: true, tail: s.slice(4) };
  }
  throw new Error(SYNTAX);
}

/** strconv.Unquote of a double-quoted or back-quoted Go string literal. */
function unquote(quoted: string): string {
  if (quoted.startsWith('`')) {
    if (quoted.length < 2 || !quoted.endsWith('`')) throw new Error(SYNTAX);
    return quoted.slice(1, -1).replace(/\r/g, '');
  }
  if (quoted.length < 2 || !quoted.startsWith('"') || !quoted.endsWith('"')) throw new Error(SYNTAX);
  const bytes: number[] = [];
  let s = quoted.slice(1, -1);
  while (s.length > 0) {
    const { value, byte, tail } = unquoteChar(s, '"');
    if (byte) bytes.push(value);
    else bytes.push(...utf8Bytes(String.fromCodePoint(value)));
    s = tail;
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

const INT_FORMS: readonly RegExp[] = [
  /^0[xX](_?[0-9a-fA-F])+$/,
  /^0[oO](_?[0-7])+$/,
  /^0[bB](_?[01])+$/,
  /^0(_?[0-7])+$/,
  /^[1-9](_?[0-9])*$/,
  /^0$/,
];

/** strconv.ParseInt/ParseUint with base 0, or null when invalid or out of range. */
function parseGoInt(text: string, signed: boolean): bigint | null {
  let s = text;
  let negative = false;
  if (signed && (s.startsWith('+') || s.startsWith('-'))) {
    negative = s.startsWith('-');
    s = s.slice(1);
  }
  if (!INT_FORMS.some((re) => re.test(s))) return null;
  s = s.replace(/_/g, '');
  if (/^0[0-7]+$/.test(s)) s = '0o' + s.slice(1);
  let v = BigInt(s);
  if (negative) v = -v;
  if (signed ? v < -(2n ** 63n) || v >= 2n ** 63n : v >= 2n ** 64n) return null;
  return v;
}

/** strconv.ParseFloat for the literal forms the lexer produces, or null. */
function parseGoFloat(text: string): number | null {
  const dec = /^[+-]?(?=\.?\d)(\d(_?\d)*)?(\.(\d(_?\d)*)?)?([eE][+-]?\d(_?\d)*)?$/;
  if (dec.test(text)) return Number(text.replace(/_/g, ''));
  const hex = /^([+-]?)0[xX]([0-9a-fA-F_]*)(?:\.([0-9a-fA-F_]*))?[pP]([+-]?[0-9_]+)$/.exec(text);
  if (hex === null) return null;
  const intPart = hex[2].replace(/_/g, '');
  const fracPart = (hex[3] ?? '').replace(/_/g, '');
  if (intPart + fracPart === '') return null;
  const mant = parseInt(intPart + fracPart || '0', 16);
  const v = mant * 2 ** (Number(hex[4].replace(/_/g, '')) - 4 * fracPart.length);
  return hex[1] === '-' ? -v : v;
}

// ---------------------------------------------------------------------------
// Parser

/** The parse result: the named trees; the top-level one is named "". */
export type TreeSet = Map<string, ListNode>;

const OPERAND_START: ReadonlySet<ItemType> = new Set<ItemType>([
  'bool',
  'charConstant',
  'complex',
  'dot',
  'field',
  'identifier',
  'number',
  'nil',
  'rawString',
  'string',
  'variable',
  'leftParen',
]);

const MAX_PAREN_DEPTH = 10000;

class Parser {
  private readonly lex: Lexer;
  private readonly hasFunction: (name: string) => boolean;
  readonly trees: TreeSet = new Map();
  /** Pushed-back items; the last one is returned next. */
  private readonly pending: Item[] = [];
  private current: Item = { type: 'eof', pos: 0, val: '', line: 1 };
  /** The line of the most recently lexed item, which Go's parse errors report. */
  private errorLine = 1;
  private vars: string[] = ['$'];
  private actionLine = 0;
  private rangeDepth = 0;
  private parenDepth = 0;

  constructor(src: string, hasFunction: (name: string) => boolean) {
    this.hasFunction = hasFunction;
    this.lex = new Lexer(src, !hasFunction('break'), !hasFunction('continue'));
  }

  parse(): TreeSet {
    const root: ListNode = { kind: 'list', pos: this.peek().pos, nodes: [] };
    while (this.peek().type !== 'eof') {
      if (this.peek().type === 'leftDelim') {
        const delim = this.next();
        const token = this.nextNonSpace();
        if (token.type === 'define') {
          this.parseDefinition();
          continue;
        }
        this.unread(delim, token);
      }
      const n = this.textOrAction();
      if (isDelimiter(n)) this.errorf(`unexpected ${nodeString(n)}`);
      else root.nodes.push(n);
    }
    this.addTree('', root);
    return this.trees;
  }

  // -- token stream

  private next(): Item {
    const p = this.pending.pop();
    if (p !== undefined) this.current = p;
    else {
      this.current = this.lex.nextItem();
      this.errorLine = this.current.line;
    }
    return this.current;
  }

  private backup(): void {
    this.pending.push(this.current);
  }

  /** Pushes items back so that they are returned next, in the given order. */
  private unread(...items: Item[]): void {
    for (let i = items.length - 1; i >= 0; i--) this.pending.push(items[i]);
  }

  private peek(): Item {
    const it = this.next();
    this.backup();
    return it;
  }

  private nextNonSpace(): Item {
    let it = this.next();
    while (it.type === 'space') it = this.next();
    return it;
  }

  private peekNonSpace(): Item {
    const it = this.nextNonSpace();
    this.backup();
    return it;
  }

  // -- errors

  private errorf(message: string): never {
    throw new TemplateError(`template: :${this.errorLine}: ${message}`);
  }

  private unexpected(token: Item, context: string): never {
    if (token.type === 'error') {
      let extra = '';
      if (this.actionLine !== 0 && this.actionLine !== token.line) {
        extra = ` in action started at :${this.actionLine}`;
        if (token.val.endsWith(' action')) extra = extra.slice(' in action'.length);
      }
      this.errorf(itemString(token) + extra);
    }
    this.errorf(`unexpected ${itemString(token)} in ${context}`);
  }

  private expect(type: ItemType, context: string): Item {
    const token = this.nextNonSpace();
    if (token.type !== type) this.unexpected(token, context);
    return token;
  }

  // -- grammar

  private addTree(name: string, root: ListNode): void {
    const existing = this.trees.get(name);
    if (existing !== undefined && !isEmptyTree(existing) && !isEmptyTree(root)) {
      this.errorf(`template: multiple definition of template ${goQuote(name)}`);
    }
    if (existing === undefined || isEmptyTree(existing)) this.trees.set(name, root);
  }

  /** Parses a nested tree ({{define}}/{{block}} body) with its own variable scope. */
  private subTree<T>(body: () => T): T {
    const saved = { vars: this.vars, rangeDepth: this.rangeDepth };
    this.vars = ['$'];
    this.rangeDepth = 0;
    try {
      return body();
    } finally {
      this.vars = saved.vars;
      this.rangeDepth = saved.rangeDepth;
    }
  }

  private parseDefinition(): void {
    const context = 'define clause';
    const token = this.nextNonSpace();
    if (token.type !== 'string' && token.type !== 'rawString') this.unexpected(token, context);
    const name = this.unquoteOrFail(token.val);
    this.expect('rightDelim', context);
    this.subTree(() => {
      const { list, end } = this.itemList();
      if (end.kind !== 'end') this.errorf(`unexpected ${nodeString(end)} in ${context}`);
      this.addTree(name, list);
    });
  }

  private itemList(): { list: ListNode; end: DelimiterNode } {
    const list: ListNode = { kind: 'list', pos: this.peekNonSpace().pos, nodes: [] };
    while (this.peekNonSpace().type !== 'eof') {
      const n = this.textOrAction();
      if (isDelimiter(n)) return { list, end: n };
      list.nodes.push(n);
    }
    return this.errorf('unexpected EOF');
  }

  private textOrAction(): Node | DelimiterNode {
    const token = this.nextNonSpace();
    switch (token.type) {
      case 'text':
        return { kind: 'text', pos: token.pos, text: token.val };
      case 'leftDelim':
        this.actionLine = token.line;
        try {
          return this.action();
        } finally {
          this.actionLine = 0;
        }
      default:
        return this.unexpected(token, 'input');
    }
  }

  private action(): Node | DelimiterNode {
    const token = this.nextNonSpace();
    switch (token.type) {
      case 'block':
        return this.blockControl();
      case 'break':
      case 'continue':
        return this.loopControl(token);
      case 'else':
        return this.elseControl();
      case 'end':
        return { kind: 'end', pos: this.expect('rightDelim', 'end').pos };
      case 'if':
      case 'range':
      case 'with':
        return this.branchControl(token.type);
      case 'template':
        return this.templateControl();
      default:
        break;
    }
    this.backup();
    const pos = this.peek().pos;
    return { kind: 'action', pos, pipe: this.pipeline('command', 'rightDelim') };
  }

  private loopControl(keyword: Item): LoopControlNode {
    const kind = keyword.type === 'break' ? 'break' : 'continue';
    const token = this.nextNonSpace();
    if (token.type !== 'rightDelim') this.unexpected(token, `{{${kind}}}`);
    if (this.rangeDepth === 0) this.errorf(`{{${kind}}} outside {{range}}`);
    return { kind, pos: keyword.pos };
  }

  private elseControl(): DelimiterNode {
    const peek = this.peekNonSpace();
    if (peek.type === 'if' || peek.type === 'with') return { kind: 'else', pos: peek.pos };
    return { kind: 'else', pos: this.expect('rightDelim', 'else').pos };
  }

  private branchControl(kind: 'if' | 'range' | 'with'): BranchNode {
    const varCount = this.vars.length;
    try {
      const pipe = this.pipeline(kind, 'rightDelim');
      if (kind === 'range') this.rangeDepth++;
      const { list, end } = this.itemList();
      if (kind === 'range') this.rangeDepth--;
      let elseList: ListNode | null = null;
      if (end.kind === 'else') {
        // "{{else if x}}" is "{{else}}{{if x}}…{{end}}{{end}}" with the inner end shared.
        const chained = this.peek().type;
        if ((kind === 'if' && chained === 'if') || (kind === 'with' && chained === 'with')) {
          this.next();
          elseList = { kind: 'list', pos: end.pos, nodes: [this.branchControl(kind)] };
        } else {
          const rest = this.itemList();
          if (rest.end.kind !== 'end') this.errorf(`expected end; found ${nodeString(rest.end)}`);
          elseList = rest.list;
        }
      }
      return { kind, pos: pipe.pos, pipe, list, elseList };
    } finally {
      this.vars.length = varCount;
    }
  }

  private blockControl(): TemplateNode {
    const context = 'block clause';
    const token = this.nextNonSpace();
    const name = this.templateName(token, context);
    const pipe = this.pipeline(context, 'rightDelim');
    this.subTree(() => {
      const { list, end } = this.itemList();
      if (end.kind !== 'end') this.errorf(`unexpected ${nodeString(end)} in ${context}`);
      this.addTree(name, list);
    });
    return { kind: 'template', pos: token.pos, name, pipe };
  }

  private templateControl(): TemplateNode {
    const context = 'template clause';
    const token = this.nextNonSpace();
    const name = this.templateName(token, context);
    let pipe: PipeNode | null = null;
    if (this.nextNonSpace().type !== 'rightDelim') {
      this.backup();
      pipe = this.pipeline(context, 'rightDelim');
    }
    return { kind: 'template', pos: token.pos, name, pipe };
  }

  private templateName(token: Item, context: string): string {
    if (token.type !== 'string' && token.type !== 'rawString') this.unexpected(token, context);
    return this.unquoteOrFail(token.val);
  }

  private unquoteOrFail(quoted: string): string {
    try {
      return unquote(quoted);
    } catch (e) {
      return this.errorf(e instanceof Error ? e.message : String(e));
    }
  }

  private pipeline(context: string, end: 'rightDelim' | 'rightParen'): PipeNode {
    const pipe: PipeNode = {
      kind: 'pipe',
      pos: this.peekNonSpace().pos,
      isAssign: false,
      decl: [],
      cmds: [],
    };
    for (let more = true; more;) {
      more = false;
      const v = this.peekNonSpace();
      if (v.type !== 'variable') break;
      this.next();
      const afterVariable = this.peek();
      const following = this.peekNonSpace();
      if (following.type === 'assign' || following.type === 'declare') {
        pipe.isAssign = following.type === 'assign';
        this.nextNonSpace();
        pipe.decl.push({ kind: 'variable', pos: v.pos, ident: v.val.split('.') });
        this.vars.push(v.val);
      } else if (following.type === 'char' && following.val === ',') {
        this.nextNonSpace();
        pipe.decl.push({ kind: 'variable', pos: v.pos, ident: v.val.split('.') });
        this.vars.push(v.val);
        if (context === 'range' && pipe.decl.length < 2) {
          const t = this.peekNonSpace().type;
          if (t !== 'variable' && t !== 'rightDelim' && t !== 'rightParen') {
            this.errorf('range can only initialize variables');
          }
          more = true;
          continue;
        }
        this.errorf(`too many declarations in ${context}`);
      } else if (afterVariable.type === 'space') {
        this.unread(v, afterVariable);
      } else {
        this.unread(v);
      }
    }
    for (;;) {
      const token = this.nextNonSpace();
      if (token.type === end) {
        this.checkPipeline(pipe, context);
        return pipe;
      }
      if (!OPERAND_START.has(token.type)) this.unexpected(token, context);
      this.backup();
      pipe.cmds.push(this.command());
    }
  }

  private checkPipeline(pipe: PipeNode, context: string): void {
    if (pipe.cmds.length === 0) this.errorf(`missing value for ${context}`);
    pipe.cmds.slice(1).forEach((c, i) => {
      const k = c.args[0].kind;
      if (k === 'bool' || k === 'dot' || k === 'nil' || k === 'number' || k === 'string') {
        this.errorf(`non executable command in pipeline stage ${i + 2}`);
      }
    });
  }

  private command(): CommandNode {
    const cmd: CommandNode = { kind: 'command', pos: this.peekNonSpace().pos, args: [] };
    for (;;) {
      this.peekNonSpace();
      const operand = this.operand();
      if (operand !== null) cmd.args.push(operand);
      const token = this.next();
      if (token.type === 'space') continue;
      if (token.type === 'rightDelim' || token.type === 'rightParen') this.backup();
      else if (token.type !== 'pipe') this.unexpected(token, 'operand');
      break;
    }
    if (cmd.args.length === 0) this.errorf('empty command');
    return cmd;
  }

  private operand(): ArgNode | null {
    const node = this.term();
    if (node === null || this.peek().type !== 'field') return node;
    const pos = this.peek().pos;
    const fields: string[] = [];
    while (this.peek().type === 'field') fields.push(this.next().val.slice(1));
    switch (node.kind) {
      case 'field':
        return { kind: 'field', pos, ident: [...node.ident, ...fields] };
      case 'variable':
        return { kind: 'variable', pos, ident: [...node.ident, ...fields] };
      case 'bool':
      case 'string':
      case 'number':
      case 'nil':
      case 'dot':
        return this.errorf(`unexpected . after term ${goQuote(nodeString(node))}`);
      default:
        return { kind: 'chain', pos, node, fields };
    }
  }

  private term(): ArgNode | null {
    const token = this.nextNonSpace();
    switch (token.type) {
      case 'identifier':
        if (!this.hasFunction(token.val)) this.errorf(`function ${goQuote(token.val)} not defined`);
        return { kind: 'identifier', pos: token.pos, name: token.val };
      case 'dot':
        return { kind: 'dot', pos: token.pos };
      case 'nil':
        return { kind: 'nil', pos: token.pos };
      case 'variable': {
        const name = token.val.split('.')[0];
        if (!this.vars.includes(name)) this.errorf(`undefined variable ${goQuote(name)}`);
        return { kind: 'variable', pos: token.pos, ident: token.val.split('.') };
      }
      case 'field':
        return { kind: 'field', pos: token.pos, ident: token.val.slice(1).split('.') };
      case 'bool':
        return { kind: 'bool', pos: token.pos, value: token.val === 'true' };
      case 'charConstant':
      case 'complex':
      case 'number':
        return this.number(token);
      case 'leftParen': {
        if (this.parenDepth >= MAX_PAREN_DEPTH) this.errorf('max expression depth exceeded');
        this.parenDepth++;
        try {
          return this.pipeline('parenthesized pipeline', 'rightParen');
        } finally {
          this.parenDepth--;
        }
      }
      case 'string':
      case 'rawString':
        return { kind: 'string', pos: token.pos, quoted: token.val, text: this.unquoteOrFail(token.val) };
      default:
        this.backup();
        return null;
    }
  }

  private number(token: Item): NumberNode {
    const text = token.val;
    const n: NumberNode = {
      kind: 'number',
      pos: token.pos,
      text,
      isInt: false,
      isUint: false,
      isFloat: false,
      isComplex: false,
      int: 0n,
      float: 0,
    };
    if (token.type === 'charConstant') {
      let decoded: ReturnType<typeof unquoteChar>;
      try {
        decoded = unquoteChar(text.slice(1), "'");
      } catch (e) {
        return this.errorf(e instanceof Error ? e.message : String(e));
      }
      if (decoded.tail !== "'") this.errorf(`malformed character constant: ${text}`);
      return {
        ...n,
        isInt: true,
        isUint: true,
        isFloat: true,
        int: BigInt(decoded.value),
        float: decoded.value,
      };
    }
    if (token.type === 'complex' || text.endsWith('i')) {
      return this.errorf(`complex number ${goQuote(text)} is not supported`);
    }
    const u = parseGoInt(text, false);
    const i = parseGoInt(text, true);
    if (u !== null) {
      n.isUint = true;
      n.int = u;
    }
    if (i !== null) {
      n.isInt = true;
      n.int = i;
      if (i === 0n) n.isUint = true;
    }
    if (n.isInt || n.isUint) {
      n.isFloat = true;
      n.float = Number(n.int);
    } else {
      const f = parseGoFloat(text);
      if (f !== null) {
        if (!/[.eEpP]/.test(text)) this.errorf(`integer overflow: ${goQuote(text)}`);
        n.isFloat = true;
        n.float = f;
        if (Number.isInteger(f) && Math.abs(f) < 2 ** 63) {
          n.isInt = true;
          n.int = BigInt(f);
        }
        if (Number.isInteger(f) && f >= 0 && f < 2 ** 64) n.isUint = true;
      }
    }
    if (!n.isInt && !n.isUint && !n.isFloat) this.errorf(`illegal number syntax: ${goQuote(text)}`);
    return n;
  }
}

function isDelimiter(n: Node | DelimiterNode): n is DelimiterNode {
  return n.kind === 'end' || n.kind === 'else';
}

/** True when a tree holds nothing but white space. */
function isEmptyTree(n: Node): boolean {
  switch (n.kind) {
    case 'list':
      return n.nodes.every(isEmptyTree);
    case 'text':
      return n.text.trim() === '';
    default:
      return false;
  }
}

/**
 * Parses template source into its named trees (the top level is named "").
 * `hasFunction` tells which identifiers are functions; unknown ones are a
 * parse error, as in Go.
 * @throws TemplateError with Go's parse error message.
 */
export function parseTrees(src: string, hasFunction: (name: string) => boolean): TreeSet {
  return new Parser(src, hasFunction).parse();
}
