import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { parseTemplate } from '../../output/template.js';
import { compactJson, indentJson } from '../inspect-common.js';
import { executeInspectTemplate } from './inspect.js';

describe('image inspect: JSON as docker prints it', () => {
  it('indents like Go json.Indent, keeping values as written', () => {
    const raw =
      '[{"Id":"sha256:1","RepoTags":["a:1"],"Empty":[],"Obj":{},"Config":{"Labels":{"x":"\\u003cy\\u003e"},"N":1.0e3}}\n]';
    assert.equal(
      indentJson(raw, '    '),
      [
        '[',
        '    {',
        '        "Id": "sha256:1",',
        '        "RepoTags": [',
        '            "a:1"',
        '        ],',
        '        "Empty": [],',
        '        "Obj": {},',
        '        "Config": {',
        '            "Labels": {',
        '                "x": "\\u003cy\\u003e"',
        '            },',
        '            "N": 1.0e3',
        '        }',
        '    }',
        ']',
      ].join('\n'),
    );
    assert.equal(indentJson('[]', '    '), '[]');
    assert.equal(compactJson('[ {"a" : "b c",\n "d": [1, 2]} ]'), '[{"a":"b c","d":[1,2]}]');
  });

  it('runs templates against the typed object, map fields as maps', () => {
    const image = { Os: 'linux', Architecture: 'amd64', Config: { Labels: { a: 'b' }, Cmd: ['sh'] } };
    assert.equal(executeInspectTemplate(parseTemplate('{{.Os}}/{{.Architecture}}'), image), 'linux/amd64');
    assert.equal(executeInspectTemplate(parseTemplate('{{.Config.Labels.nope}}'), image), '<no value>');
    assert.equal(executeInspectTemplate(parseTemplate('{{json .Config.Cmd}}'), image), '["sh"]');
    assert.throws(() => executeInspectTemplate(parseTemplate('{{.Nope}}'), image), {
      message:
        'template parsing error: template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope"',
    });
  });
});
