import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  JSON_FORMAT,
  formatItems,
  formatToTemplate,
  headerLabel,
  isJsonFormat,
  isTableFormat,
  validateFormat,
} from './format.js';
import { TemplateError, asGoMap } from './template.js';

describe('format: format strings (docker formatter_test TestFormat)', () => {
  const table: readonly [string, boolean, boolean, string][] = [
    ['json', true, false, JSON_FORMAT],
    ['table', false, true, ''],
    ['table {{.Field}}\\t{{.Field2}}', false, true, '{{.Field}}\t{{.Field2}}'],
    ['table {{.Field}}\t{{.Field2}}', false, true, '{{.Field}}\t{{.Field2}}'],
    ['other', false, false, 'other'],
    ['   other   ', false, false, 'other'],
    ['   other\n   ', false, false, 'other\n'],
    ['{{.A}}\\n{{.B}}', false, false, '{{.A}}\n{{.B}}'],
    ['tablefoo', false, true, 'foo'],
    ['{{json .}}', false, false, '{{json .}}'],
  ];
  for (const [format, json, isTable, template] of table) {
    it(JSON.stringify(format), () => {
      assert.equal(isJsonFormat(format), json);
      assert.equal(isTableFormat(format), isTable);
      assert.equal(formatToTemplate(format), template);
    });
  }
});

const volumeHeaders = { Name: 'VOLUME NAME', Driver: 'DRIVER', Labels: 'LABELS' };
const volumes = [
  { Name: 'foobar_baz', Driver: 'foo' },
  { Name: 'foobar_bar', Driver: 'bar' },
];
const volumeOptions = { defaultTableFormat: 'table {{.Driver}}\t{{.Name}}' };

describe('format: docker volume_test TestVolumeContextWrite', () => {
  it('renders the default table', () => {
    const want = 'DRIVER    VOLUME NAME\nfoo       foobar_baz\nbar       foobar_bar\n';
    assert.equal(formatItems('table', volumes, volumeHeaders, volumeOptions), want);
    assert.equal(formatItems('', volumes, volumeHeaders, volumeOptions), want);
  });

  it('renders a custom table', () => {
    assert.equal(
      formatItems('table {{.Name}}', volumes, volumeHeaders, volumeOptions),
      'VOLUME NAME\nfoobar_baz\nfoobar_bar\n',
    );
  });

  it('renders a raw template, one item per line', () => {
    assert.equal(formatItems('{{.Name}}', volumes, volumeHeaders), 'foobar_baz\nfoobar_bar\n');
    assert.equal(
      formatItems('name: {{.Name}}\\ndriver: {{.Driver}}\\n', volumes, volumeHeaders),
      'name: foobar_baz\ndriver: foo\n\nname: foobar_bar\ndriver: bar\n\n',
    );
  });

  it('reports parse errors as docker does', () => {
    assert.throws(() => formatItems('{{InvalidFunction}}', volumes, volumeHeaders), {
      name: 'TemplateError',
      message: 'template parsing error: template: :1: function "InvalidFunction" not defined',
    });
  });

  it('reports execution errors as docker does', () => {
    assert.throws(() => formatItems('{{nil}}', volumes, volumeHeaders), {
      message: 'template parsing error: template: :1:2: executing "" at <nil>: nil is not a command',
    });
    assert.throws(
      () => formatItems('table {{.Nope}}', volumes, volumeHeaders),
      (e: unknown) => {
        assert.ok(e instanceof TemplateError);
        assert.equal(
          e.message,
          'template parsing error: template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type struct',
        );
        return true;
      },
    );
  });

  it('prints the header of an empty table', () => {
    assert.equal(formatItems('table', [], volumeHeaders, volumeOptions), 'DRIVER    VOLUME NAME\n');
    assert.equal(formatItems('{{.Name}}', [], volumeHeaders), '');
  });
});

describe('format: docker container_test TestContainerContextWrite', () => {
  const headers = {
    ID: 'CONTAINER ID',
    Image: 'IMAGE',
    Command: 'COMMAND',
    RunningFor: 'CREATED',
    Status: 'STATUS',
    Ports: 'PORTS',
    Names: 'NAMES',
    Size: 'SIZE',
    State: 'STATE',
  };
  const base = {
    Image: 'ubuntu',
    Command: '""',
    RunningFor: '24 hours ago',
    Status: '',
    Ports: '',
    Size: '0B',
    State: 'running',
  };
  const containers = [
    { ID: 'containerID1', Names: 'foobar_baz', ...base },
    { ID: 'containerID2', Names: 'foobar_bar', ...base },
  ];
  const defaultTableFormat =
    'table {{.ID}}\\t{{.Image}}\\t{{.Command}}\\t{{.RunningFor}}\\t{{.Status}}\\t{{.Ports}}\\t{{.Names}}';

  it('renders the default table with empty columns', () => {
    assert.equal(
      formatItems('table', containers, headers, { defaultTableFormat: defaultTableFormat + '\\t{{.Size}}' }),
      'CONTAINER ID   IMAGE     COMMAND   CREATED        STATUS    PORTS     NAMES        SIZE\n' +
        'containerID1   ubuntu    ""        24 hours ago                       foobar_baz   0B\n' +
        'containerID2   ubuntu    ""        24 hours ago                       foobar_bar   0B\n',
    );
  });

  it('keeps headers intact with docker header functions (container-context-write-special-headers.golden)', () => {
    const format =
      'table {{truncate .ID 5}}\\t{{json .Image}} {{.RunningFor}}/{{title .Status}}/{{pad .Ports 2 2}}.{{upper .Names}} {{lower .Status}}';
    assert.equal(
      formatItems(format, containers, headers),
      'CONTAINER ID   IMAGE CREATED/STATUS/  PORTS  .NAMES STATUS\n' +
        'conta          "ubuntu" 24 hours ago//.FOOBAR_BAZ \n' +
        'conta          "ubuntu" 24 hours ago//.FOOBAR_BAR \n',
    );
  });

  it('renders split in rows but not in the header', () => {
    assert.equal(
      formatItems('table {{split .Image ":"}}', containers, headers),
      'IMAGE\n[ubuntu]\n[ubuntu]\n',
    );
  });

  it('renders raw formats with trim markers and pad', () => {
    const raw = 'container_id: {{.ID}}\nstate: {{- pad .State 1 0}}\nstatus: {{- pad .Status 1 0}}\n';
    assert.equal(
      formatItems(raw, containers.slice(0, 1), headers),
      'container_id: containerID1\nstate: running\nstatus:\n\n',
    );
  });

  it('labels columns with the header Label method', () => {
    const items = [{ Label: (k: unknown) => (k === 'com.example.app-name' ? 'web' : '') }];
    assert.equal(
      formatItems('table {{.Label "com.example.app-name"}}\\t{{.Label "x"}}', items, {}),
      'app name   x\nweb        \n',
    );
    assert.equal(headerLabel('com.docker.compose.project_name'), 'project name');
  });

  it('prints <no value> for a header that is not known and ignores header errors', () => {
    assert.equal(
      formatItems('table {{.Image}}\\t{{.Other}}', [{ Image: 'i', Other: 'o' }], headers),
      'IMAGE     <no value>\ni         o\n',
    );
    assert.equal(
      formatItems('table {{.Image}}\\t{{.Image.X}}', [{ Image: { X: 1 } }], headers),
      'IMAGE     \n{1}       1\n',
    );
  });
});

describe('format: json', () => {
  it('writes each item as {{json .}} (docker-events-json.golden)', () => {
    const actions = ['create', 'start', 'attach', 'die'];
    const events = actions.map((Action, i) => ({
      Type: 'container',
      Action,
      Actor: { ID: 'abc123', Attributes: asGoMap({ image: 'ubuntu:latest' }) },
      scope: 'local',
      time: (i + 1) * 1000000000,
      timeNano: BigInt(i + 1) * 1000000000n,
    }));
    const golden = actions
      .map(
        (a, i) =>
          `{"Type":"container","Action":"${a}","Actor":{"ID":"abc123","Attributes":{"image":"ubuntu:latest"}},` +
          `"scope":"local","time":${i + 1}000000000,"timeNano":${i + 1}000000000}\n`,
      )
      .join('');
    assert.equal(formatItems('json', events, {}), golden);
    assert.equal(formatItems('{{ json . }}', events, {}), golden);
    assert.equal(formatItems('{{ json .Action }}', events, {}), '"create"\n"start"\n"attach"\n"die"\n');
  });

  it('HTML-escapes whole items only when asked, as docker list commands do', () => {
    const items = [{ Ports: '0.0.0.0:80->80/tcp' }];
    assert.equal(formatItems('json', items, {}), '{"Ports":"0.0.0.0:80->80/tcp"}\n');
    assert.equal(
      formatItems('json', items, {}, { escapeItemJSON: true }),
      '{"Ports":"0.0.0.0:80-\\u003e80/tcp"}\n',
    );
    assert.equal(
      formatItems('{{json .Ports}}', items, {}, { escapeItemJSON: true }),
      '"0.0.0.0:80->80/tcp"\n',
    );
  });

  it('honours toJSON on items', () => {
    const item = { ID: 'x', toJSON: (): unknown => ({ Id: 'x', Shown: true }) };
    assert.equal(formatItems('json', [item], {}), '{"Id":"x","Shown":true}\n');
  });
});

describe('format: validateFormat', () => {
  const zeroEvent = {
    Type: '',
    Action: '',
    Actor: { ID: '', Attributes: asGoMap({}) },
    scope: '',
    time: 0,
    timeNano: 0n,
  };

  it('accepts formats that execute against a zero item', () => {
    validateFormat('{{.Type}} {{.Actor.Attributes.image}}', zeroEvent);
    validateFormat('json', zeroEvent);
    validateFormat('table {{.Action}}', zeroEvent);
  });

  it('rejects unknown fields and bad templates', () => {
    assert.throws(() => validateFormat('{{.badFieldString}}', zeroEvent), {
      message:
        'template parsing error: template: :1:2: executing "" at <.badFieldString>: can\'t evaluate field badFieldString in type struct',
    });
    assert.throws(() => validateFormat('{{.Type', zeroEvent), {
      message: 'template parsing error: template: :1: unclosed action',
    });
  });
});
