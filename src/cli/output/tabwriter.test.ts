import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { DOCKER_TABWRITER_OPTIONS, displayWidth, tabwrite, type TabwriterOptions } from './tabwriter.js';

interface Vector {
  name: string;
  opts: TabwriterOptions;
  src: string;
  want: string;
}

/** Go's Init(minwidth, tabwidth, padding, padchar, flags) as options, measuring runes like Go's package. */
function goOpts(
  minwidth: number,
  tabwidth: number,
  padding: number,
  padchar: string,
  flags: Partial<TabwriterOptions> = {},
): TabwriterOptions {
  return { minwidth, tabwidth, padding, padchar, measure: 'runes', ...flags };
}

// Vectors from Go's text/tabwriter tests (the ones without HTML filtering or Escape).
const GO_VECTORS: readonly Vector[] = [
  { name: '1a', opts: goOpts(8, 0, 1, '.'), src: '', want: '' },
  { name: '1a debug', opts: goOpts(8, 0, 1, '.', { debug: true }), src: '', want: '' },
  { name: '2', opts: goOpts(8, 0, 1, '.'), src: '\n\n\n', want: '\n\n\n' },
  { name: '3', opts: goOpts(8, 0, 1, '.'), src: 'a\nb\nc', want: 'a\nb\nc' },
  { name: '4a', opts: goOpts(8, 0, 1, '.'), src: '\t', want: '' },
  { name: '4b', opts: goOpts(8, 0, 1, '.', { alignRight: true }), src: '\t', want: '' },
  { name: '5', opts: goOpts(8, 0, 1, '.'), src: '*\t*', want: '*.......*' },
  { name: '5b', opts: goOpts(8, 0, 1, '.'), src: '*\t*\n', want: '*.......*\n' },
  { name: '5c', opts: goOpts(8, 0, 1, '.'), src: '*\t*\t', want: '*.......*' },
  { name: '5c debug', opts: goOpts(8, 0, 1, '.', { debug: true }), src: '*\t*\t', want: '*.......|*' },
  { name: '5d', opts: goOpts(8, 0, 1, '.', { alignRight: true }), src: '*\t*\t', want: '.......**' },
  { name: '6', opts: goOpts(8, 0, 1, '.'), src: '\t\n', want: '........\n' },
  { name: '7a', opts: goOpts(8, 0, 1, '.'), src: 'a) foo', want: 'a) foo' },
  { name: '7b', opts: goOpts(8, 0, 1, ' '), src: 'b) foo\tbar', want: 'b) foo  bar' },
  { name: '7c', opts: goOpts(8, 0, 1, '.'), src: 'c) foo\tbar\t', want: 'c) foo..bar' },
  { name: '7d', opts: goOpts(8, 0, 1, '.'), src: 'd) foo\tbar\n', want: 'd) foo..bar\n' },
  { name: '7e', opts: goOpts(8, 0, 1, '.'), src: 'e) foo\tbar\t\n', want: 'e) foo..bar.....\n' },
  { name: '8', opts: goOpts(8, 0, 1, '*'), src: 'Hello, world!\n', want: 'Hello, world!\n' },
  {
    name: '9a',
    opts: goOpts(1, 0, 0, '.'),
    src: '1\t2\t3\t4\n11\t222\t3333\t44444\n',
    want: '1.2..3...4\n11222333344444\n',
  },
  {
    name: '9c',
    opts: goOpts(1, 0, 0, '.'),
    src: '1\t2\t3\t4\f11\t222\t3333\t44444\n',
    want: '1234\n11222333344444\n',
  },
  {
    name: '9c debug',
    opts: goOpts(1, 0, 0, '.', { debug: true }),
    src: '1\t2\t3\t4\f11\t222\t3333\t44444\n',
    want: '1|2|3|4\n---\n11|222|3333|44444\n',
  },
  { name: '10a', opts: goOpts(5, 0, 0, '.'), src: '1\t2\t3\t4\n', want: '1....2....3....4\n' },
  { name: '10b', opts: goOpts(5, 0, 0, '.'), src: '1\t2\t3\t4\t\n', want: '1....2....3....4....\n' },
  {
    name: '11',
    opts: goOpts(8, 0, 1, '.'),
    src: '本\tb\tc\naa\t本本本\tcccc\tddddd\naaa\tbbbb\n',
    want: '本.......b.......c\naa......本本本.....cccc....ddddd\naaa.....bbbb\n',
  },
  {
    name: '12a',
    opts: goOpts(8, 0, 1, ' ', { alignRight: true }),
    src: 'a\tè\tc\t\naa\tèèè\tcccc\tddddd\t\naaa\tèèèè\t\n',
    want: '       a       è       c\n      aa     èèè    cccc   ddddd\n     aaa    èèèè\n',
  },
  {
    name: '12b',
    opts: goOpts(2, 0, 0, ' '),
    src: 'a\tb\tc\naa\tbbb\tcccc\naaa\tbbbb\n',
    want: 'a  b  c\naa bbbcccc\naaabbbb\n',
  },
  {
    name: '12c',
    opts: goOpts(8, 0, 1, '_'),
    src: 'a\tb\tc\naa\tbbb\tcccc\naaa\tbbbb\n',
    want: 'a_______b_______c\naa______bbb_____cccc\naaa_____bbbb\n',
  },
  {
    name: '13a',
    opts: goOpts(4, 0, 1, '-'),
    src:
      '4444\t日本語\t22\t1\t333\n999999999\t22\n7\t22\n\t\t\t88888888\n\n' +
      '666666\t666666\t666666\t4444\n1\t1\t999999999\t0000000000\n',
    want:
      '4444------日本語-22--1---333\n999999999-22\n7---------22\n------------------88888888\n\n' +
      '666666-666666-666666----4444\n1------1------999999999-0000000000\n',
  },
  {
    name: '13b',
    opts: goOpts(4, 0, 3, '.'),
    src:
      '4444\t333\t22\t1\t333\n999999999\t22\n7\t22\n\t\t\t88888888\n\n' +
      '666666\t666666\t666666\t4444\n1\t1\t999999999\t0000000000\n',
    want:
      '4444........333...22...1...333\n999999999...22\n7...........22\n....................88888888\n\n' +
      '666666...666666...666666......4444\n1........1........999999999...0000000000\n',
  },
  {
    name: '14',
    opts: goOpts(1, 0, 2, ' ', { alignRight: true }),
    src:
      '.0\t.3\t2.4\t-5.1\t\n23.0\t12345678.9\t2.4\t-989.4\t\n5.1\t12.0\t2.4\t-7.0\t\n' +
      '.0\t0.0\t332.0\t8908.0\t\n.0\t-.3\t456.4\t22.1\t\n.0\t1.2\t44.4\t-13.3\t\t',
    want:
      '    .0          .3    2.4    -5.1\n  23.0  12345678.9    2.4  -989.4\n   5.1        12.0    2.4    -7.0\n' +
      '    .0         0.0  332.0  8908.0\n    .0         -.3  456.4    22.1\n    .0         1.2   44.4   -13.3',
  },
  {
    name: '14 debug',
    opts: goOpts(1, 0, 2, ' ', { alignRight: true, debug: true }),
    src:
      '.0\t.3\t2.4\t-5.1\t\n23.0\t12345678.9\t2.4\t-989.4\t\n5.1\t12.0\t2.4\t-7.0\t\n' +
      '.0\t0.0\t332.0\t8908.0\t\n.0\t-.3\t456.4\t22.1\t\n.0\t1.2\t44.4\t-13.3\t\t',
    want:
      '    .0|          .3|    2.4|    -5.1|\n  23.0|  12345678.9|    2.4|  -989.4|\n   5.1|        12.0|    2.4|    -7.0|\n' +
      '    .0|         0.0|  332.0|  8908.0|\n    .0|         -.3|  456.4|    22.1|\n    .0|         1.2|   44.4|   -13.3|',
  },
  { name: '15a', opts: goOpts(4, 0, 0, '.'), src: 'a\t\tb', want: 'a.......b' },
  {
    name: '15b',
    opts: goOpts(4, 0, 0, '.', { discardEmptyColumns: true }),
    src: 'a\t\tb',
    want: 'a.......b',
  },
  { name: '15c', opts: goOpts(4, 0, 0, '.', { discardEmptyColumns: true }), src: 'a\v\vb', want: 'a...b' },
  {
    name: '15d',
    opts: goOpts(4, 0, 0, '.', { alignRight: true, discardEmptyColumns: true }),
    src: 'a\v\vb',
    want: '...ab',
  },
  {
    name: '16a',
    opts: goOpts(100, 100, 0, '\t'),
    src: 'a\tb\t\td\na\tb\t\td\te\na\na\tb\tc\td\na\tb\tc\td\te\n',
    want: 'a\tb\t\td\na\tb\t\td\te\na\na\tb\tc\td\na\tb\tc\td\te\n',
  },
  {
    name: '16b',
    opts: goOpts(100, 100, 0, '\t', { discardEmptyColumns: true }),
    src: 'a\vb\v\vd\na\vb\v\vd\ve\na\na\vb\vc\vd\na\vb\vc\vd\ve\n',
    want: 'a\tb\td\na\tb\td\te\na\na\tb\tc\td\na\tb\tc\td\te\n',
  },
  {
    name: '16b debug',
    opts: goOpts(100, 100, 0, '\t', { discardEmptyColumns: true, debug: true }),
    src: 'a\vb\v\vd\na\vb\v\vd\ve\na\na\vb\vc\vd\na\vb\vc\vd\ve\n',
    want: 'a\t|b\t||d\na\t|b\t||d\t|e\na\na\t|b\t|c\t|d\na\t|b\t|c\t|d\t|e\n',
  },
  {
    name: '16c debug',
    opts: goOpts(100, 100, 0, '\t', { discardEmptyColumns: true, debug: true }),
    src: 'a\tb\t\td\na\tb\t\td\te\na\na\tb\tc\td\na\tb\tc\td\te\n',
    want: 'a\t|b\t|\t|d\na\t|b\t|\t|d\t|e\na\na\t|b\t|c\t|d\na\t|b\t|c\t|d\t|e\n',
  },
];

describe('tabwriter: Go text/tabwriter vectors', () => {
  for (const v of GO_VECTORS) {
    it(v.name, () => {
      assert.equal(tabwrite(v.src, v.opts), v.want);
    });
  }
});

describe('tabwriter: docker settings', () => {
  it('defaults to minwidth 10, tabwidth 1, padding 3, spaces', () => {
    assert.deepEqual(
      { ...DOCKER_TABWRITER_OPTIONS },
      {
        minwidth: 10,
        tabwidth: 1,
        padding: 3,
        padchar: ' ',
        alignRight: false,
        discardEmptyColumns: false,
        debug: false,
        measure: 'display',
      },
    );
  });

  it('lays out a docker volume table', () => {
    assert.equal(
      tabwrite('DRIVER\tVOLUME NAME\nfoo\tfoobar_baz\nbar\tfoobar_bar\n'),
      'DRIVER    VOLUME NAME\nfoo       foobar_baz\nbar       foobar_bar\n',
    );
  });

  it('pads a column to its widest cell plus 3', () => {
    assert.equal(
      tabwrite('CONTAINER ID\tIMAGE\tNAMES\ncontainerID1\tubuntu\tfoobar_baz\n'),
      'CONTAINER ID   IMAGE     NAMES\ncontainerID1   ubuntu    foobar_baz\n',
    );
  });

  it('does not pad the trailing cell of a line', () => {
    assert.equal(tabwrite('a\tb   \nc\td\n'), 'a         b   \nc         d\n');
  });

  it('starts a new column block after a line without the column', () => {
    assert.equal(
      tabwrite('aaaaaaaaaaaaaaa\tx\nno tabs\nb\ty\n'),
      'aaaaaaaaaaaaaaa   x\nno tabs\nb         y\n',
    );
  });

  it('pads empty cells', () => {
    // Column 0 is 14 + 3 wide; the empty cell of column 1 takes its minimum width, 10.
    assert.equal(
      tabwrite('a\t\tc\nlong-long-long\tb\tc\n'),
      'a' + ' '.repeat(16) + ' '.repeat(10) + 'c\nlong-long-long   b         c\n',
    );
  });

  it('measures display width (wide characters count 2)', () => {
    assert.equal(
      tabwrite('本\tb\tc\naa\t本本本\tcccc\tddddd\naaa\tbbbb\n', { minwidth: 8, padding: 1, padchar: '.' }),
      '本......b.......c\naa......本本本..cccc....ddddd\naaa.....bbbb\n',
    );
    assert.equal(displayWidth('本é\u0301x'), 4);
    assert.equal(displayWidth('😀'), 2);
  });

  it('rejects negative settings', () => {
    assert.throws(() => tabwrite('a', { padding: -1 }), RangeError);
  });
});
