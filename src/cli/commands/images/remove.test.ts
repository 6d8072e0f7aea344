import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { FilterArgs } from '../../../util/filters.js';
import { mergePruneFilters, renderPruneReport } from './prune.js';
import { renderDeleteItems } from './remove.js';

const H = (c: string): string => c.repeat(64);

describe('rmi and image prune: their reports', () => {
  it('prints Untagged and Deleted lines as docker rmi', () => {
    assert.equal(
      renderDeleteItems([
        { Untagged: 'alpine:latest' },
        { Untagged: `alpine@sha256:${H('b')}` },
        { Deleted: `sha256:${H('a')}` },
      ]),
      `Untagged: alpine:latest\nUntagged: alpine@sha256:${H('b')}\nDeleted: sha256:${H('a')}\n`,
    );
    assert.equal(renderDeleteItems([]), '');
  });

  it('prints the prune report as docker image prune', () => {
    assert.equal(
      renderPruneReport({
        ImagesDeleted: [{ Untagged: 'foo:latest' }, { Deleted: `sha256:${H('f')}` }],
        SpaceReclaimed: 123456789,
      }),
      `Deleted Images:\nuntagged: foo:latest\ndeleted: sha256:${H('f')}\n\nTotal reclaimed space: 123.5MB\n`,
    );
    assert.equal(renderPruneReport({}), 'Total reclaimed space: 0B\n');
  });

  it("adds the config file's pruneFilters unless a label filter conflicts", () => {
    const filters = FilterArgs.fromPairs(['label!=keep', 'until=24h']);
    mergePruneFilters(filters, ['label=keep', 'label=other', 'until=48h', 'bogus']);
    assert.deepEqual(filters.toJSON(), {
      'label!': { keep: true },
      until: { '24h': true, '48h': true },
      label: { other: true },
    });
  });
});
