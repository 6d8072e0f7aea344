import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  TemplateError,
  asGoMap,
  goJson,
  goPrint,
  goSprintf,
  parseTemplate,
  renderTemplate,
  type ExecuteOptions,
} from './template.js';

/** Renders, or returns the error message prefixed with "ERR ". */
function run(src: string, data: unknown, options?: ExecuteOptions): string {
  try {
    return renderTemplate(src, data, options);
  } catch (e) {
    assert.ok(e instanceof TemplateError, `expected a TemplateError, got ${String(e)}`);
    return 'ERR ' + e.message;
  }
}

/** Checks a table of [template, data, expected output or "ERR message"]. */
function cases(table: readonly (readonly [string, unknown, string])[]): void {
  for (const [src, data, want] of table) {
    it(JSON.stringify(src), () => {
      assert.equal(run(src, data), want);
    });
  }
}

describe('template: text, actions and trimming', () => {
  cases([
    ['plain text', null, 'plain text'],
    ['', null, ''],
    ['a {{"b"}} c', null, 'a b c'],
    ['a  {{- "b" -}}  c', null, 'abc'],
    ['a \n\t {{- "b"}} \n c', null, 'ab \n c'],
    ['{{"b" -}}\n\n  c', null, 'bc'],
    ['{{- " a " -}} b {{- 3 }}', null, ' a b3'],
    ['{{-3}}', null, '-3'],
    ['x{{/* a comment */}}y', null, 'xy'],
    ['x {{- /* trimmed */ -}} y', null, 'xy'],
    ['{{/* multi\nline */}}z', null, 'z'],
    ['{{\n.A\n}}', { A: 'newlines inside actions' }, 'newlines inside actions'],
  ]);
});

describe('template: fields, maps and methods', () => {
  cases([
    ['{{.Name}}', { Name: 'web' }, 'web'],
    ['{{.A.B.C}}', { A: { B: { C: 'deep' } } }, 'deep'],
    ['{{.}}', 'dot', 'dot'],
    ['{{.Undef}}|{{.Nil}}', { Undef: undefined, Nil: null }, '<nil>|<nil>'],
    ['{{.Labels.app}}', { Labels: asGoMap({ app: 'db' }) }, 'db'],
    ['{{.Labels.missing}}', { Labels: asGoMap({ app: 'db' }) }, '<no value>'],
    ['{{.Labels.missing.deeper}}', { Labels: asGoMap({}) }, '<no value>'],
    ['{{.M.k}}|{{.M.x}}', { M: new Map([['k', 'v']]) }, 'v|<no value>'],
    ['{{index .Labels "missing"}}|', { Labels: asGoMap({ app: 'db' }) }, '|'],
    ['{{index .M "x"}}', { M: asGoMap({ a: 1 }) }, '0'],
    ['{{index .M "x"}}', { M: asGoMap({}, { zero: null }) }, '<nil>'],
    [
      '{{.X}}',
      { Foo: 'x' },
      'ERR template: :1:2: executing "" at <.X>: can\'t evaluate field X in type struct',
    ],
    [
      'abc {{.Foo.Bar}}',
      { Foo: 'x' },
      'ERR template: :1:10: executing "" at <.Foo.Bar>: can\'t evaluate field Bar in type string',
    ],
    [
      '\n {{.A.Missing}}',
      { A: { B: 1 } },
      'ERR template: :2:5: executing "" at <.A.Missing>: can\'t evaluate field Missing in type struct',
    ],
    ['é{{.X}}', {}, 'ERR template: :1:4: executing "" at <.X>: can\'t evaluate field X in type struct'],
    [
      '{{.A.B}}',
      { A: null },
      'ERR template: :1:4: executing "" at <.A.B>: nil pointer evaluating interface {}.B',
    ],
    [
      '{{.length}}',
      [1],
      'ERR template: :1:2: executing "" at <.length>: can\'t evaluate field length in type []interface {}',
    ],
    [
      '{{.toString}}',
      {},
      'ERR template: :1:2: executing "" at <.toString>: can\'t evaluate field toString in type struct',
    ],
    [
      '{{.Label "com.example.name"}}',
      { Label: (k: unknown) => `label:${String(k)}` },
      'label:com.example.name',
    ],
    ['{{"x" | .Wrap "a"}}', { Wrap: (a: unknown, b: unknown) => `${String(a)}${String(b)}` }, 'ax'],
    [
      '{{.Size}}',
      new (class {
        get Size(): string {
          return '1kB';
        }
      })(),
      '1kB',
    ],
    [
      '{{.ID}}',
      new (class {
        ID(): string {
          return 'method';
        }
      })(),
      'method',
    ],
    [
      '{{.Name "x"}}',
      { Name: 'n' },
      'ERR template: :1:2: executing "" at <.Name>: Name has arguments but cannot be invoked as function',
    ],
    [
      '{{.k "x"}}',
      { M: 1, k: 2 },
      'ERR template: :1:2: executing "" at <.k>: k has arguments but cannot be invoked as function',
    ],
    [
      '{{.M.k "x"}}',
      { M: asGoMap({ k: 'v' }) },
      'ERR template: :1:4: executing "" at <.M.k>: k is not a method but has arguments',
    ],
    [
      '{{.Fail}}',
      {
        Fail: () => {
          throw new Error('boom');
        },
      },
      'ERR template: :1:2: executing "" at <.Fail>: error calling Fail: boom',
    ],
    ['{{.F}}', asGoMap({ F: (): number => 42 }), '42'],
  ]);
});

describe('template: variables, pipelines and literals', () => {
  cases([
    ['{{$x := .A}}{{$x}}', { A: 'a' }, 'a'],
    ['{{$x := 1}}{{$x = 2}}{{$x}}', null, '2'],
    ['{{$.A}}{{with .B}}{{$.A}}{{.}}{{end}}', { A: 'root', B: 'b' }, 'rootrootb'],
    ['{{$x := "out"}}{{if true}}{{$x := "in"}}{{$x}}{{end}}{{$x}}', null, 'inout'],
    ['{{"abc" | upper}}', null, 'ABC'],
    ['{{. | printf "%s-%s" "x"}}', 'y', 'x-y'],
    ['{{(.A).B}}|{{(index . "A").B}}', asGoMap({ A: asGoMap({ B: 'c' }) }), 'c|c'],
    ['{{printf "%s" (upper (lower "MiXeD"))}}', null, 'MIXED'],
    [
      "{{'a'}} {{'\\n'}} {{0x1F}} {{0o17}} {{017}} {{0b101}} {{1_000}} {{-3}} {{+4}}",
      null,
      '97 10 31 15 15 5 1000 -3 4',
    ],
    ['{{1.5}} {{1e3}} {{.5}} {{1e-7}}', null, '1.5 1000 0.5 1e-07'],
    ['{{"a\\tb\\u00e9\\x41"}}|{{`raw\\n`}}', null, 'a\tbéA|raw\\n'],
    ['{{true}} {{false}}', null, 'true false'],
    ['{{9223372036854775807}}', null, '9223372036854775807'],
    [
      '{{18446744073709551615}}',
      null,
      'ERR template: :1:2: executing "" at <18446744073709551615>: 18446744073709551615 overflows int',
    ],
  ]);
});

describe('template: control structures', () => {
  cases([
    ['{{if .A}}yes{{end}}', { A: 1 }, 'yes'],
    ['{{if .A}}yes{{else}}no{{end}}', { A: '' }, 'no'],
    ['{{if .A}}a{{else if .B}}b{{else}}c{{end}}', { A: 0, B: [1] }, 'b'],
    ['{{if .A}}a{{else if .B}}b{{else}}c{{end}}', { A: 0, B: [] }, 'c'],
    ['{{if .M}}m{{else}}empty{{end}}', { M: asGoMap({}) }, 'empty'],
    ['{{if .S}}struct{{end}}', { S: {} }, 'struct'],
    ['{{if .Labels.x}}x{{else}}none{{end}}', { Labels: asGoMap({}) }, 'none'],
    ['{{with .A}}{{.B}}{{end}}', { A: { B: 'inner' } }, 'inner'],
    ['{{with .A}}x{{else}}none{{end}}', { A: null }, 'none'],
    ['{{with .A}}a{{else with .B}}{{.}}{{end}}', { A: '', B: 'b' }, 'b'],
    ['{{range .}}{{.}},{{end}}', ['a', 'b'], 'a,b,'],
    ['{{range .}}x{{else}}empty{{end}}', [], 'empty'],
    ['{{range .Missing}}x{{else}}none{{end}}', { Missing: null }, 'none'],
    ['{{range $i, $v := .}}{{$i}}={{$v}} {{end}}', ['a', 'b'], '0=a 1=b '],
    ['{{range $v := .}}{{$v}}{{end}}', ['a', 'b'], 'ab'],
    ['{{range $k, $v := .}}{{$k}}:{{$v}} {{end}}', asGoMap({ b: '2', a: '1', c: '3' }), 'a:1 b:2 c:3 '],
    [
      '{{range $k, $v := .}}{{$k}}:{{$v}} {{end}}',
      new Map([
        [10, 'x'],
        [2, 'y'],
      ]),
      '2:y 10:x ',
    ],
    ['{{range 3}}{{.}}{{end}}', null, '012'],
    [
      '{{range $i, $e := .}}{{if eq $i 1}}{{continue}}{{end}}{{if eq $i 3}}{{break}}{{end}}{{$e}}{{end}}',
      ['a', 'b', 'c', 'd', 'e'],
      'ac',
    ],
    ['{{$x := 0}}{{range .}}{{$x = .}}{{end}}{{$x}}', [1, 2, 3], '3'],
    // Go reports the last node evaluated: the range pipeline's `.`.
    ['{{range .}}{{end}}', 'str', 'ERR template: :1:8: executing "" at <.>: range can\'t iterate over str'],
    ['{{define "T"}}[{{.}}]{{end}}{{template "T" .A}}{{template "T" "lit"}}', { A: 1 }, '[1][lit]'],
    ['{{block "B" .}}<{{.}}>{{end}}', 'b', '<b>'],
    [
      '{{template "nope"}}',
      null,
      'ERR template: :1:11: executing "" at <{{template "nope"}}>: template "nope" not defined',
    ],
  ]);
});

describe('template: builtin functions', () => {
  cases([
    ['{{and 1 "x"}} {{and 1 0 "x"}} {{or 0 ""}} {{or 0 "y" "z"}}', null, 'x 0  y'],
    ['{{and false .Missing}}{{or true .Missing}}', {}, 'falsetrue'],
    ['{{not 0}} {{not "a"}} {{not .Labels.x}}', { Labels: asGoMap({}) }, 'true false true'],
    [
      '{{eq 1 1}} {{eq "a" "b" "c" "a"}} {{eq .Labels.x "v"}} {{eq 1.5 1.5}}',
      { Labels: asGoMap({}) },
      'true true false true',
    ],
    // Deviation: JS numbers are one kind, so int and float compare (Go: incompatible types).
    ['{{eq 2 2.0}}', null, 'true'],
    ['{{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1 2}}', null, 'true true true true false'],
    ['{{eq .A nil}} {{eq .B nil}}', { A: null, B: 'x' }, 'true false'],
    [
      '{{eq 1 "a"}}',
      null,
      'ERR template: :1:2: executing "" at <eq 1 "a">: error calling eq: incompatible types for comparison: int and string',
    ],
    [
      '{{eq 1}}',
      null,
      'ERR template: :1:2: executing "" at <eq 1>: error calling eq: missing argument for comparison',
    ],
    [
      '{{lt true false}}',
      null,
      'ERR template: :1:2: executing "" at <lt true false>: error calling lt: invalid type for comparison',
    ],
    [
      '{{eq .A .A}}',
      { A: [1] },
      'ERR template: :1:2: executing "" at <eq .A .A>: error calling eq: non-comparable type [1]: []interface {}',
    ],
    ['{{len "héllo"}} {{len .L}} {{len .M}}', { L: [1, 2], M: asGoMap({ a: '1' }) }, '6 2 1'],
    ['{{len 3}}', null, 'ERR template: :1:2: executing "" at <len 3>: error calling len: len of type int'],
    ['{{index . 1}} {{index .|printf "%v"}}', ['a', 'b'], 'b [a b]'],
    ['{{index . 0 1}} {{index "abc" 1}}', [['x', 'y']], 'y 98'],
    [
      '{{index . 5}}',
      ['a'],
      'ERR template: :1:2: executing "" at <index . 5>: error calling index: index out of range: 5',
    ],
    [
      '{{index . "a"}}',
      ['a'],
      'ERR template: :1:2: executing "" at <index . "a">: error calling index: cannot index slice/array with type string',
    ],
    [
      '{{index .S "a"}}',
      { S: { a: 1 } },
      'ERR template: :1:2: executing "" at <index .S "a">: error calling index: can\'t index item of type struct',
    ],
    ['{{slice . 1 3}} {{slice "hello" 1}} {{slice . }}', ['a', 'b', 'c', 'd'], '[b c] ello [a b c d]'],
    ['{{print 1 2 "a" "b" 3 nil}}', null, '1 2ab3 <nil>'],
    ['{{println 1 "a"}}', null, '1 a\n'],
    ['{{print .Labels.missing}}', { Labels: asGoMap({}) }, '<nil>'],
    ['{{html "<a href=\\"x\\">&</a>"}}', null, '&lt;a href=&#34;x&#34;&gt;&amp;&lt;/a&gt;'],
    ['{{js "it\'s <b>"}}', null, "it\\'s \\u003Cb\\u003E"],
    ['{{urlquery "a b&c=d/é"}}', null, 'a+b%26c%3Dd%2F%C3%A9'],
    [
      '{{call .F 2}}',
      { F: asGoMap({ f: (n: unknown) => Number(n) * 2 }) },
      'ERR template: :1:2: executing "" at <call .F 2>: error calling call: non-function of type map[string]interface {}',
    ],
    ['{{call (index .M "f") 21}}', { M: asGoMap({ f: (n: unknown) => Number(n) * 2 }) }, '42'],
  ]);
});

describe('template: printf and value printing', () => {
  cases([
    [
      '{{printf "%-10s|%5d|%05d|%+d|%x|%X|%o|%#x|%b|%c|%U|%q" "ab" 42 42 7 255 255 8 255 5 65 128512 65}}',
      null,
      "ab        |   42|00042|+7|ff|FF|10|0xff|101|A|U+1F600|'A'",
    ],
    [
      '{{printf "%q|%v|%s|%t|%5.1f|%e|%g|%08.3f" "a\\"b\\n" .L .L true 3.14159 1234.5678 0.0000001 -3.14159}}',
      { L: ['x', 1] },
      '"a\\"b\\n"|[x 1]|[x %!s(int=1)]|true|  3.1|1.234568e+03|1e-07|-003.142',
    ],
    ['{{printf "%.0f %.0f %.0f %.1f %.2f" 0.5 1.5 2.5 0.25 1.005}}', null, '0 2 2 0.2 1.00'],
    ['{{printf "%d %s" "x"}}', null, '%!d(string=x) %!s(MISSING)'],
    ['{{printf "%d" 1 2}}', null, '1%!(EXTRA int=2)'],
    ['{{printf "%s %d" nil true}}', null, '%!s(<nil>) %!d(bool=true)'],
    ['{{printf "%v %+v %T %T" . . . 1}}', { A: 1, B: 'x' }, '{1 x} {A:1 B:x} struct int'],
    ['{{printf "%6.2f%%" 12.345}}', null, ' 12.35%'],
    ['{{printf "%.3s|%5.2s|" "abcdef" "xyz"}}', null, 'abc|   xy|'],
    [
      '{{.}}',
      { A: 1, B: 'x', C: [1, 2], D: asGoMap({ k: 'v', a: 'b' }), E: null, F: 1.5 },
      '{1 x [1 2] map[a:b k:v] <nil> 1.5}',
    ],
    ['{{.}}', [new Map([['a', [1, 2]]]), true, 10n], '[map[a:[1 2]] true 10]'],
    ['{{.}}', new Error('failed'), 'failed'],
    ['{{.}}', { String: () => 'stringer' }, 'stringer'],
    ['{{.}}', new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 600)), '2024-01-02 03:04:05.6 +0000 UTC'],
  ]);

  it('formats floats as Go does', () => {
    assert.equal(goPrint(123456789.5), '1.234567895e+08');
    assert.equal(goPrint(0.1), '0.1');
    assert.equal(goPrint(1e-5 + 0.25), '0.25001');
    assert.equal(goPrint(0.00001), '1e-05');
    assert.equal(goPrint(1e21), '1e+21');
    assert.equal(goPrint(12), '12');
    assert.equal(goPrint(Infinity), '+Inf');
    assert.equal(goPrint(NaN), 'NaN');
    assert.equal(
      goSprintf('%g %G %.3g %e %.2e', [100000.5, 1e-9, 1234.5678, 0, 9.999]),
      '100000.5 1E-09 1.23e+03 0.000000e+00 1.00e+01',
    );
    assert.equal(
      goSprintf('%f %.1f %+.2f % .2f', [1e21, -0.05, 1, 1]),
      '1000000000000000000000.000000 -0.1 +1.00  1.00',
    );
  });

  it('quotes strings as strconv.Quote', () => {
    assert.equal(
      goSprintf('%q %+q %#q', ['é\u0007\u00a0😀', 'é', 'back`tick']),
      '"é\\a\\u00a0😀" "\\u00e9" "back`tick"',
    );
    assert.equal(goSprintf('%#q', ['raw']), '`raw`');
  });
});

describe('template: docker functions', () => {
  cases([
    ['{{json .}}', { Ports: '0.0.0.0:2->8/udp' }, '{"Ports":"0.0.0.0:2->8/udp"}'],
    ['{{json .Ports}}', { Ports: '0.0.0.0:2->8/udp' }, '"0.0.0.0:2->8/udp"'],
    ['{{json .Missing}}', { Missing: undefined }, 'null'],
    ['{{json .M.x}}', { M: asGoMap({}) }, 'null'],
    ['{{json .}}', [1, 'a', null, true, { b: 2n }], '[1,"a",null,true,{"b":2}]'],
    [
      '{{json .}}',
      NaN,
      'ERR template: :1:2: executing "" at <json .>: error calling json: json: unsupported value: NaN',
    ],
    ['{{join (split . ":") "/"}}', 'text:with:colon', 'text/with/colon'],
    ['{{split . ""}}|{{split "" ","}}|{{len (split "" ",")}}', 'héy', '[h é y]|[]|1'],
    [
      '{{join . ", "}}',
      [
        { A: '1', B: '2' },
        { A: '3', B: '4' },
      ],
      '{1 2}, {3 4}',
    ],
    ['{{join . ", "}}', asGoMap({ C: '3', A: '1', B: '2' }), '1, 2, 3'],
    ['{{join . ", "}}', [true, false], 'true, false'],
    ['{{join . ", "}}', [{ String: () => 'stringer1' }, new Error('error2')], 'stringer1, error2'],
    ['output: "{{- join . ", " -}}"', null, 'output: ""'],
    [
      'output: "{{- join . ", " -}}"',
      'hello',
      'ERR template: :1:13: executing "" at <join . ", ">: error calling join: expected slice, got string',
    ],
    ['{{title "hello wORLD foo-bar foo_bar 1st"}}', null, 'Hello WORLD Foo-Bar Foo_bar 1st'],
    ['{{upper "straße"}} {{lower "ÀÉÎ"}}', null, 'STRAßE àéî'],
    [
      '{{truncate . 5}}|{{truncate . 25}}|{{truncate . 30}}',
      'tupx5xzf6hvsrhnruz5cr8gwp',
      'tupx5|tupx5xzf6hvsrhnruz5cr8gwp|tupx5xzf6hvsrhnruz5cr8gwp',
    ],
    ['{{truncate . 2}}', 'héllo', 'hé'],
    ['{{pad . 3 3}}', 'tupx5', '   tupx5   '],
    ['{{pad . 3 3}}|{{truncate . 5}}', '', '|'],
    ['{{truncate . 5}}', null, 'ERR template: :1:11: executing "" at <.>: invalid value; expected string'],
    [
      '{{pad . -1 0}}',
      'x',
      'ERR template: :1:2: executing "" at <pad . -1 0>: error calling pad: strings: negative Repeat count',
    ],
    ['{{upper 3}}', null, 'ERR template: :1:8: executing "" at <3>: expected string; found 3'],
    [
      '{{upper .N}}',
      { N: 3 },
      'ERR template: :1:8: executing "" at <.N>: wrong type for value; expected string; got int',
    ],
    [
      '{{.N | upper}}',
      { N: 3 },
      'ERR template: :1:7: executing "" at <upper>: wrong type for value; expected string; got int',
    ],
    [
      '{{upper}}',
      null,
      'ERR template: :1:2: executing "" at <upper>: wrong number of args for upper: want 1 got 0',
    ],
    ['{{pad "x" "1" 2}}', null, 'ERR template: :1:10: executing "" at <"1">: expected integer; found "1"'],
  ]);

  it('reproduces docker-events-json-template.golden', () => {
    const golden =
      '{"Type":"container","Action":"create","Actor":{"ID":"abc123","Attributes":{"image":"ubuntu:latest"}},"scope":"local","time":1000000000,"timeNano":1000000000}';
    const event = {
      Type: 'container',
      Action: 'create',
      Actor: { ID: 'abc123', Attributes: asGoMap({ image: 'ubuntu:latest' }) },
      scope: 'local',
      time: 1000000000,
      timeNano: 1000000000n,
    };
    assert.equal(renderTemplate('{{ json . }}', event), golden);
    assert.equal(renderTemplate('{{ json .Action }}', event), '"create"');
  });

  it('uses docker header functions in header mode', () => {
    for (const src of [
      '{{ json .}}',
      '{{ split . ","}}',
      '{{ join . ","}}',
      '{{ title .}}',
      '{{ lower .}}',
      '{{ upper .}}',
      '{{ truncate . 2}}',
    ]) {
      assert.equal(parseTemplate(src).execute('hello world', { header: true }), 'hello world', src);
    }
    assert.equal(parseTemplate('{{pad . 1 1}}').execute('PORTS', { header: true }), ' PORTS ');
  });
});

describe('template: goJson', () => {
  it('writes compact Go JSON', () => {
    assert.equal(goJson({ b: 1, a: [1.5, -0, 1e21, 1e-7] }), '{"b":1,"a":[1.5,0,1e+21,1e-7]}');
    assert.equal(
      goJson(
        new Map([
          ['z', 1],
          ['a', 2],
        ]),
      ),
      '{"a":2,"z":1}',
    );
    assert.equal(goJson(asGoMap({ z: 1, a: 2 })), '{"a":2,"z":1}');
    assert.equal(goJson({ u: undefined, f: () => 1, n: null }), '{"n":null}');
    assert.equal(goJson([undefined]), '[null]');
    assert.equal(goJson(undefined), 'null');
    assert.equal(goJson(12345678901234567890n), '12345678901234567890');
  });

  it('escapes strings as Go', () => {
    assert.equal(goJson('a"b\\c\n\r\t\b\f\u0001\u2028é😀'), '"a\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u2028é😀"');
    assert.equal(goJson('<a>&'), '"<a>&"');
    assert.equal(goJson('<a>&', { escapeHTML: true }), '"\\u003ca\\u003e\\u0026"');
    assert.equal(goJson('\ud800'), '"\\ufffd"');
  });

  it('honours toJSON', () => {
    const v = { toJSON: (): unknown => ({ replaced: true }) };
    assert.equal(goJson({ v, d: new Date(0) }), '{"v":{"replaced":true},"d":"1970-01-01T00:00:00.000Z"}');
  });

  it('rejects unsupported values', () => {
    assert.throws(() => goJson(Infinity), { message: 'json: unsupported value: +Inf' });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(() => goJson(cyclic), { message: 'json: unsupported value: encountered a cycle' });
  });

  it('HTML-escapes json only where asked', () => {
    const item = { P: '1->2' };
    const escapeItem = (v: unknown): boolean => v === item;
    assert.equal(
      run('{{json .}} {{json .P}}', item, { jsonEscapeHTML: escapeItem }),
      '{"P":"1-\\u003e2"} "1->2"',
    );
    assert.equal(run('{{json .P}}', item, { jsonEscapeHTML: true }), '"1-\\u003e2"');
  });
});

describe('template: parse errors', () => {
  cases([
    ['{{.Foo}', {}, "ERR template: :1: bad character U+007D '}'"],
    ['{{ . }', {}, 'ERR template: :1: unexpected "}" in operand'],
    ['{{foo}}', {}, 'ERR template: :1: function "foo" not defined'],
    ['{{InvalidFunction}}', {}, 'ERR template: :1: function "InvalidFunction" not defined'],
    ['{{.A', {}, 'ERR template: :1: unclosed action'],
    ['{{.a\n\n', {}, 'ERR template: :3: unclosed action started at :1'],
    ['{{if .}}', {}, 'ERR template: :1: unexpected EOF'],
    ['{{end}}', {}, 'ERR template: :1: unexpected {{end}}'],
    ['{{else}}', {}, 'ERR template: :1: unexpected {{else}}'],
    ['{{if}}{{end}}', {}, 'ERR template: :1: missing value for if'],
    ['{{}}', {}, 'ERR template: :1: missing value for command'],
    ['{{$x}}', {}, 'ERR template: :1: undefined variable "$x"'],
    ['{{if true}}{{$x := 1}}{{end}}{{$x}}', {}, 'ERR template: :1: undefined variable "$x"'],
    ['{{. | "x"}}', {}, 'ERR template: :1: non executable command in pipeline stage 2'],
    ['{{(1}}', {}, 'ERR template: :1: unclosed left paren'],
    ['{{1)}}', {}, 'ERR template: :1: unexpected right paren'],
    ['{{/* x }}', {}, 'ERR template: :1: unclosed comment'],
    ['{{/* x */ }}', {}, 'ERR template: :1: comment ends before closing delimiter'],
    ['{{"abc}}', {}, 'ERR template: :1: unterminated quoted string'],
    ['{{`abc}}', {}, 'ERR template: :1: unterminated raw quoted string'],
    ['{{"\\q"}}', {}, 'ERR template: :1: invalid syntax'],
    ['{{3x}}', {}, 'ERR template: :1: bad number syntax: "3x"'],
    ['{{089}}', {}, 'ERR template: :1: integer overflow: "089"'],
    ['{{"a".B}}', {}, 'ERR template: :1: unexpected . after term "\\"a\\""'],
    ['{{break}}', {}, 'ERR template: :1: {{break}} outside {{range}}'],
    ['{{range .}}{{else}}{{continue}}{{end}}', {}, 'ERR template: :1: {{continue}} outside {{range}}'],
    ['{{range $a, $b, $c := .}}{{end}}', {}, 'ERR template: :1: too many declarations in range'],
    ['{{$a, $b := 1}}', {}, 'ERR template: :1: too many declarations in command'],
    ['{{if .}}{{else}}{{else}}{{end}}', {}, 'ERR template: :1: expected end; found {{else}}'],
    [
      '{{with $x := 1 2}}{{end}}',
      {},
      'ERR template: :1:13: executing "" at <1>: can\'t give argument to non-function 1',
    ],
    ['{{nil}}', {}, 'ERR template: :1:2: executing "" at <nil>: nil is not a command'],
    ['{{.A é}}', {}, 'ERR template: :1: function "é" not defined'],
    ['{{.A \u0001}}', {}, 'ERR template: :1: unrecognized character in action: U+0001'],
    [
      '{{"abcdefghijklmnop" "x" |}}',
      {},
      'ERR template: :1:2: executing "" at <"abcdefghijklmnop">: can\'t give argument to non-function "abcdefghijklmnop"',
    ],
    ['{{if 1 = 2}}{{end}}', {}, 'ERR template: :1: unexpected "=" in operand'],
    [
      '{{define "a"}}x{{end}}{{define "a"}}y{{end}}',
      {},
      'ERR template: :1: template: multiple definition of template "a"',
    ],
  ]);

  it('reports errors as TemplateError instances', () => {
    assert.throws(() => parseTemplate('{{foo}}'), TemplateError);
    assert.throws(
      () => renderTemplate('{{.X}}', {}),
      (e: unknown) => e instanceof TemplateError && e.name === 'TemplateError',
    );
  });
});

describe('template: execution', () => {
  it('returns the output written before an error', () => {
    const r = parseTemplate('a{{.A}}b{{.B}}c').executePartial({ A: 1 });
    assert.equal(r.output, 'a1b');
    assert.equal(
      r.error?.message,
      'template: :1:10: executing "" at <.B>: can\'t evaluate field B in type struct',
    );
  });

  it('can be executed repeatedly with different data', () => {
    const t = parseTemplate('{{.N}}');
    assert.equal(t.execute({ N: 1 }), '1');
    assert.equal(t.execute({ N: 2 }), '2');
    assert.equal(t.source, '{{.N}}');
  });

  it("supports Go's missingkey option", () => {
    const data = { Labels: asGoMap({ a: 'x' }), Counts: asGoMap({ n: 1 }) };
    const src = '[{{.Labels.b}}][{{.Counts.m}}]';
    assert.equal(renderTemplate(src, data), '[<no value>][<no value>]');
    assert.equal(renderTemplate(src, data, { missingKey: 'zero' }), '[][0]');
    assert.equal(
      run(src, data, { missingKey: 'error' }),
      'ERR template: :1:10: executing "" at <.Labels.b>: map has no entry for key "b"',
    );
  });

  it('accepts extra functions', () => {
    assert.equal(
      renderTemplate('{{shout .}} {{upper .}}', 'hi', { funcs: { shout: (s) => `${String(s)}!` } }),
      'hi! HI',
    );
    assert.equal(renderTemplate('{{upper .}}', 'hi', { funcs: { upper: () => 'overridden' } }), 'overridden');
  });
});
