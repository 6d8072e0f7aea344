/**
 * Go's text/tabwriter (elastic tabstops), as vendored by the docker CLI
 * (cli/command/formatter/tabwriter), over a whole text at once.
 *
 * The text is a sequence of cells terminated by a tab (`\t`, or the "soft"
 * `\v`) or a line break (`\n`, or `\f`, which also ends every column). A
 * column block is a run of consecutive lines that all have a tab-terminated
 * cell in that column; its cells are padded to the widest cell plus
 * `padding`, but to at least `minwidth`. The last cell of a line is not part
 * of any column and is never padded. Widths are display widths (East Asian
 * wide characters count 2, combining marks 0), as docker's go-runewidth does.
 * HTML filtering and the Escape character are not supported.
 */

/** Settings of the tabwriter; the defaults are docker's `NewWriter(out, 10, 1, 3, ' ', 0)`. */
export interface TabwriterOptions {
  /** Minimal cell width, padding included. Default 10. */
  minwidth?: number;
  /** Width of a tab when `padchar` is `'\t'`. Default 1. */
  tabwidth?: number;
  /** Added to the widest cell of a column. Default 3. */
  padding?: number;
  /** Padding character. Default `' '`; `'\t'` pads with tabs (left-aligned). */
  padchar?: string;
  /** Right-align cell contents (Go's AlignRight). */
  alignRight?: boolean;
  /** Columns whose cells are all empty and `\v`-terminated take no room (Go's DiscardEmptyColumns). */
  discardEmptyColumns?: boolean;
  /** Print `|` between columns and `---` after a `\f` (Go's Debug). */
  debug?: boolean;
  /**
   * How cell text is measured: `display` columns (docker's go-runewidth, the
   * default) or `runes` (Go's standard text/tabwriter).
   */
  measure?: 'display' | 'runes';
}

/** The settings docker's table formatter uses. */
export const DOCKER_TABWRITER_OPTIONS: Readonly<Required<TabwriterOptions>> = Object.freeze({
  minwidth: 10,
  tabwidth: 1,
  padding: 3,
  padchar: ' ',
  alignRight: false,
  discardEmptyColumns: false,
  debug: false,
  measure: 'display',
});

interface Cell {
  text: string;
  width: number;
  /** Terminated by a hard tab. */
  htab: boolean;
}

/** Aligns the tab-separated columns of `text`; see the module comment for the rules. */
export function tabwrite(text: string, options?: TabwriterOptions): string {
  const o: Required<TabwriterOptions> = { ...DOCKER_TABWRITER_OPTIONS, ...options };
  if (o.minwidth < 0 || o.tabwidth < 0 || o.padding < 0) {
    throw new RangeError('tabwriter: negative minwidth, tabwidth, or padding');
  }
  if (o.padchar === '\t') o.alignRight = false;

  let out = '';
  let lines: Cell[][] = [[]];
  let current = '';
  const measure = o.measure === 'runes' ? (t: string): number => [...t].length : displayWidth;
  const endCell = (htab: boolean): void => {
    lines[lines.length - 1].push({ text: current, width: measure(current), htab });
    current = '';
  };
  for (const ch of text) {
    if (ch === '\t' || ch === '\v') endCell(ch === '\t');
    else if (ch === '\n' || ch === '\f') {
      endCell(false);
      lines.push([]);
      if (ch === '\f') {
        out += formatLines(lines, o) + (o.debug ? '---\n' : '');
        lines = [[]];
      }
    } else current += ch;
  }
  if (current !== '') endCell(false);
  return out + formatLines(lines, o);
}

/** Lays out buffered lines; every line but the last is followed by a newline. */
function formatLines(lines: Cell[][], o: Required<TabwriterOptions>): string {
  let out = '';
  const widths: number[] = [];

  const padding = (textWidth: number, cellWidth: number): string => {
    if (o.padchar === '\t') {
      if (o.tabwidth === 0) return '';
      const rounded = Math.ceil(cellWidth / o.tabwidth) * o.tabwidth;
      return '\t'.repeat(Math.ceil((rounded - textWidth) / o.tabwidth));
    }
    return o.padchar.repeat(Math.max(cellWidth - textWidth, 0));
  };

  const writeLines = (line0: number, line1: number): void => {
    for (let i = line0; i < line1; i++) {
      lines[i].forEach((c, j) => {
        if (j > 0 && o.debug) out += '|';
        const pad = j < widths.length ? padding(c.width, widths[j]) : '';
        if (c.text === '') out += pad;
        else out += o.alignRight ? pad + c.text : c.text + pad;
      });
      if (i + 1 < lines.length) out += '\n';
    }
  };

  // Lays out lines [line0, line1), knowing the widths of the columns left of `widths.length`.
  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    let start = line0;
    for (let i = line0; i < line1; i++) {
      if (column >= lines[i].length - 1) continue;
      writeLines(start, i);
      let width = o.minwidth;
      let discardable = true;
      let end = i;
      for (; end < line1 && column < lines[end].length - 1; end++) {
        const c = lines[end][column];
        width = Math.max(width, c.width + o.padding);
        if (c.width > 0 || c.htab) discardable = false;
      }
      if (discardable && o.discardEmptyColumns) width = 0;
      widths.push(width);
      format(i, end);
      widths.pop();
      start = end;
      i = end; // line `end` has no cell in this column
    }
    writeLines(start, line1);
  };

  format(0, lines.length);
  return out;
}

const ZERO_WIDTH = /^[\p{Mn}\p{Me}\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]$/u;

// East Asian Wide and Fullwidth ranges (simplified), as [first, last] pairs.
const WIDE: readonly number[] = [
  0x1100, 0x115f, 0x231a, 0x231b, 0x2329, 0x232a, 0x23e9, 0x23ec, 0x23f0, 0x23f0, 0x23f3, 0x23f3, 0x25fd,
  0x25fe, 0x2614, 0x2615, 0x2648, 0x2653, 0x267f, 0x267f, 0x2693, 0x2693, 0x26a1, 0x26a1, 0x26aa, 0x26ab,
  0x26bd, 0x26be, 0x26c4, 0x26c5, 0x26ce, 0x26ce, 0x26d4, 0x26d4, 0x26ea, 0x26ea, 0x26f2, 0x26f3, 0x26f5,
  0x26f5, 0x26fa, 0x26fa, 0x26fd, 0x26fd, 0x2705, 0x2705, 0x270a, 0x270b, 0x2728, 0x2728, 0x274c, 0x274c,
  0x274e, 0x274e, 0x2753, 0x2755, 0x2757, 0x2757, 0x2795, 0x2797, 0x27b0, 0x27b0, 0x27bf, 0x27bf, 0x2b1b,
  0x2b1c, 0x2b50, 0x2b50, 0x2b55, 0x2b55, 0x2e80, 0x303e, 0x3041, 0x33ff, 0x3400, 0x4dbf, 0x4e00, 0x9fff,
  0xa000, 0xa4cf, 0xa960, 0xa97f, 0xac00, 0xd7a3, 0xf900, 0xfaff, 0xfe10, 0xfe19, 0xfe30, 0xfe6f, 0xff00,
  0xff60, 0xffe0, 0xffe6, 0x16fe0, 0x16fe4, 0x17000, 0x18aff, 0x1b000, 0x1b2ff, 0x1f004, 0x1f004, 0x1f0cf,
  0x1f0cf, 0x1f18e, 0x1f18e, 0x1f191, 0x1f19a, 0x1f200, 0x1f251, 0x1f300, 0x1f64f, 0x1f680, 0x1f6ff, 0x1f7e0,
  0x1f7eb, 0x1f90c, 0x1f9ff, 0x1fa70, 0x1faff, 0x20000, 0x2fffd, 0x30000, 0x3fffd,
];

function runeWidth(ch: string): number {
  const c = ch.codePointAt(0) ?? 0;
  if (c < 0x20 || (c >= 0x7f && c < 0xa0)) return 0;
  if (c < 0x300) return 1;
  if (ZERO_WIDTH.test(ch)) return 0;
  for (let i = 0; i < WIDE.length; i += 2) {
    if (c < WIDE[i]) return 1;
    if (c <= WIDE[i + 1]) return 2;
  }
  return 1;
}

/** The display width of a string in terminal columns (see the module comment). */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) w += runeWidth(ch);
  return w;
}
