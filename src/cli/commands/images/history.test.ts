import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import type { HistoryResponseItem } from '../../../api/types/index.js';
import { ellipsis, renderHistory } from './history.js';

const NOW = Date.UTC(2024, 5, 1, 12, 0, 0);
const nowS = NOW / 1000;

const HISTORY: readonly HistoryResponseItem[] = [
  {
    Id: 'sha256:91ef0af61f39ece4d6710e465df5ed6ca12112358344fd51ae6a3b886634f799',
    Created: nowS - 2 * 3600,
    CreatedBy: '/bin/sh -c #(nop)  CMD ["/bin/sh"]',
    Tags: ['alpine:latest'],
    Size: 0,
    Comment: '',
  },
  {
    Id: '<missing>',
    Created: nowS - 3 * 3600,
    CreatedBy:
      '/bin/sh -c #(nop) ADD file:37a76ec18f9887751cd8473744917d08b7431fc4085097bb6a09d81b41775473 in / ',
    Tags: [],
    Size: 7800000,
    Comment: 'buildkit.dockerfile.v0',
  },
  {
    Id: '',
    Created: 0,
    CreatedBy: 'RUN\tapk add --no-cache curl',
    Tags: [],
    Size: 1234,
    Comment: '',
  },
];

describe('history: the default table (docker image/formatter_history)', () => {
  it('prints IMAGE CREATED CREATED BY SIZE COMMENT, <missing> and N/A', () => {
    assert.equal(
      renderHistory(HISTORY, { now: NOW }),
      [
        'IMAGE          CREATED       CREATED BY                                      SIZE      COMMENT',
        '91ef0af61f39   2 hours ago   /bin/sh -c #(nop)  CMD ["/bin/sh"]              0B        ',
        '<missing>      3 hours ago   /bin/sh -c #(nop) ADD file:37a76ec18f9887751…   7.8MB     buildkit.dockerfile.v0',
        '<missing>      N/A           RUN apk add --no-cache curl                     1.23kB    ',
        '',
      ].join('\n'),
    );
  });

  it('prints exact sizes and RFC 3339 dates with -H=false', () => {
    const saved = process.env['TZ'];
    process.env['TZ'] = 'UTC';
    try {
      assert.equal(
        renderHistory(HISTORY.slice(0, 1), { human: false }),
        [
          'IMAGE          CREATED AT             CREATED BY                           SIZE      COMMENT',
          '91ef0af61f39   2024-06-01T10:00:00Z   /bin/sh -c #(nop)  CMD ["/bin/sh"]   0         ',
          '',
        ].join('\n'),
      );
    } finally {
      if (saved === undefined) delete process.env['TZ'];
      else process.env['TZ'] = saved;
    }
  });

  it('prints IDs with -q, untruncated with --no-trunc', () => {
    assert.equal(renderHistory(HISTORY, { quiet: true }), '91ef0af61f39\n<missing>\n<missing>\n');
    assert.equal(
      renderHistory(HISTORY.slice(1, 2), { format: '{{.CreatedBy}}', trunc: false }),
      '/bin/sh -c #(nop) ADD file:37a76ec18f9887751cd8473744917d08b7431fc4085097bb6a09d81b41775473 in / \n',
    );
  });

  it('cuts long text to a display width with an ellipsis', () => {
    assert.equal(ellipsis('abcdef', 4), 'abc…');
    assert.equal(ellipsis('abcd', 4), 'abcd');
    assert.equal(ellipsis('日本語テキスト', 5), '日本…');
    assert.equal(ellipsis('abc', 1), 'a');
  });
});
