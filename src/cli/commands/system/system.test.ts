import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type {
  ContainerSummary,
  ImageSummary,
  SystemDataUsageResponse,
  Volume,
} from '../../../api/types/index.js';
import { FilterArgs } from '../../../util/filters.js';
import { buildCacheRow, diskUsageRows, renderDiskUsage } from './df.js';
import { promptFilters, pruneWarnings, renderSystemPrune, systemPruneMessage } from './prune.js';

const NOW = Date.UTC(2024, 5, 1, 12, 0, 0);
const HOUR = 3600;
const secondsAgo = (s: number): number => Math.floor(NOW / 1000) - s;

const image = (id: string, extra: Partial<ImageSummary> = {}): ImageSummary => ({
  Id: `sha256:${id.repeat(64)}`,
  ParentId: '',
  RepoTags: [],
  RepoDigests: [],
  Created: secondsAgo(48 * HOUR),
  Size: 4_261_000,
  SharedSize: 0,
  Labels: {},
  Containers: 0,
  ...extra,
});

const container = (id: string, extra: Partial<ContainerSummary> = {}): ContainerSummary => ({
  Id: id.repeat(64),
  Names: [`/c${id}`],
  Image: 'busybox',
  ImageID: `sha256:${'a'.repeat(64)}`,
  Command: 'sleep 1000',
  Created: secondsAgo(2 * HOUR),
  State: 'running',
  Status: 'Up 2 hours',
  SizeRw: 1000,
  Mounts: [],
  ...extra,
});

const volume = (name: string, size: number, refs: number): Volume => ({
  Name: name,
  Driver: 'local',
  Mountpoint: `/v/${name}`,
  Labels: {},
  Scope: 'local',
  Options: {},
  UsageData: { Size: size, RefCount: refs },
});

const usage: SystemDataUsageResponse = {
  LayersSize: 8_522_000,
  Images: [
    image('a', { RepoTags: ['busybox:latest', 'busybox:1.36'], Containers: 2 }),
    image('b', { RepoTags: ['example.com/team/tool:v1'], Size: 4_261_000, SharedSize: 4_261_000 }),
  ],
  Containers: [
    container('1'),
    container('2', { State: 'exited', Status: 'Exited (0) 1 hour ago', SizeRw: 3000 }),
  ],
  Volumes: [volume('data', 2048, 1), volume('old', 1024, 0)],
  BuildCache: [],
};

describe('system df', () => {
  it('summarizes as docker’s table', () => {
    assert.equal(
      renderDiskUsage(usage, { now: NOW }),
      [
        'TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE',
        'Images          2         1         8.522MB   4.261MB (50%)',
        'Containers      2         1         4kB       3kB (75%)',
        'Local Volumes   2         1         3.072kB   1.024kB (33%)',
        'Build Cache     0         0         0B        0B',
        '',
      ].join('\n'),
    );
  });

  it('is all zeros for an empty daemon', () => {
    assert.equal(
      renderDiskUsage({ LayersSize: 0, Images: [], Containers: [], Volumes: [], BuildCache: [] }),
      [
        'TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE',
        'Images          0         0         0B        0B',
        'Containers      0         0         0B        0B',
        'Local Volumes   0         0         0B        0B',
        'Build Cache     0         0         0B        0B',
        '',
      ].join('\n'),
    );
    assert.equal(diskUsageRows({}).length, 4);
  });

  it('renders --format templates, json and raw per row', () => {
    assert.equal(
      renderDiskUsage(usage, { format: '{{.Type}}: {{.Size}}' }),
      'Images: 8.522MB\nContainers: 4kB\nLocal Volumes: 3.072kB\nBuild Cache: 0B\n',
    );
    const json = renderDiskUsage(usage, { format: 'json' }).split('\n');
    assert.equal(
      json[0],
      '{"Active":"1","Reclaimable":"4.261MB (50%)","Size":"8.522MB","TotalCount":"2","Type":"Images"}',
    );
    assert.equal(json.length, 5);
    assert.equal(
      renderDiskUsage(usage, { format: 'raw' }).split('\n\n')[0],
      'type: Images\ntotal: 2\nactive: 1\nsize: 8.522MB\nreclaimable: 4.261MB (50%)',
    );
    assert.equal(
      renderDiskUsage(usage, { format: 'table {{.Type}}\t{{.TotalCount}}' }),
      'TYPE            TOTAL\nImages          2\nContainers      2\nLocal Volumes   2\nBuild Cache     0\n',
    );
    assert.throws(
      () => renderDiskUsage(usage, { format: '{{.Nope}}' }),
      /template parsing error: .*can't evaluate field Nope in type \*formatter\.diskUsageImagesContext/,
    );
  });

  it('shows a table per kind with -v', () => {
    assert.equal(
      renderDiskUsage(usage, { verbose: true, now: NOW }),
      [
        'Images space usage:',
        '',
        'REPOSITORY              TAG       IMAGE ID       CREATED      SIZE      SHARED SIZE   UNIQUE SIZE   CONTAINERS',
        'busybox                 latest    aaaaaaaaaaaa   2 days ago   4.26MB    0B            4.261MB       2',
        'example.com/team/tool   v1        bbbbbbbbbbbb   2 days ago   4.26MB    4.261MB       0B            0',
        '',
        'Containers space usage:',
        '',
        'CONTAINER ID   IMAGE     COMMAND        LOCAL VOLUMES   SIZE      CREATED       STATUS                  NAMES',
        '111111111111   busybox   "sleep 1000"   0               1kB       2 hours ago   Up 2 hours              c1',
        '222222222222   busybox   "sleep 1000"   0               3kB       2 hours ago   Exited (0) 1 hour ago   c2',
        '',
        'Local Volumes space usage:',
        '',
        'VOLUME NAME   LINKS     SIZE',
        'data          1         2.048kB',
        'old           0         1.024kB',
        '',
        'Build cache usage: 0B',
        '',
        'CACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED',
        '',
      ].join('\n'),
    );
  });

  it('runs a -v --format template once over all kinds', () => {
    assert.equal(
      renderDiskUsage(usage, {
        verbose: true,
        format:
          '{{range .Images}}{{.Repository}} {{end}}|{{range .Volumes}}{{.Name}}={{.Links}} {{end}}|{{len .Containers}}',
      }),
      'busybox example.com/team/tool |data=1 old=0 |2',
    );
    const dangling = renderDiskUsage(
      { Images: [image('c', { RepoTags: [], RepoDigests: [] })] },
      { verbose: true, format: '{{range .Images}}{{.Repository}}:{{.Tag}} {{.ID}}{{end}}' },
    );
    assert.equal(dangling, `<none>:<none> sha256:${'c'.repeat(64)}`, 'IDs are not cut outside tables');
  });

  it('shows build cache records as docker does', () => {
    const row = buildCacheRow(
      {
        ID: 'x'.repeat(30),
        Parents: ['p'.repeat(20)],
        Type: 'regular',
        Description: 'step',
        InUse: true,
        Shared: false,
        Size: 1234,
        CreatedAt: new Date(NOW - 3 * 3_600_000).toISOString(),
        LastUsedAt: null,
        UsageCount: 2,
      },
      true,
      NOW,
    );
    assert.equal(row.ID, `${'x'.repeat(12)}*`);
    assert.equal(row.Parent, 'p'.repeat(12));
    assert.equal(row.Size, '1.23kB');
    assert.equal(row.CreatedSince, '3 hours ago');
    assert.equal(row.LastUsedSince, '');
    assert.equal(row.UsageCount, '2');
  });
});

describe('system prune', () => {
  it('asks as docker does', () => {
    assert.equal(
      systemPruneMessage(pruneWarnings({ all: false, volumes: false }), []),
      'WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - all dangling images\n\nAre you sure you want to continue?',
    );
    assert.equal(
      systemPruneMessage(pruneWarnings({ all: true, volumes: true }), ['label=a', 'until=24h']),
      [
        'WARNING! This will remove:',
        '  - all stopped containers',
        '  - all networks not used by at least one container',
        '  - all anonymous volumes not used by at least one container',
        '  - all images without at least one container associated to them',
        '',
        '  Items to be pruned will be filtered with:',
        '  - label=a',
        '  - until=24h',
        '',
        'Are you sure you want to continue?',
      ].join('\n'),
    );
  });

  it('shows the label, label! and until filters, sorted naturally', () => {
    const filters = FilterArgs.fromPairs([
      'until=10h',
      'label=b',
      'label!=a',
      'label=a10',
      'label=a9',
      'dangling=true',
    ]);
    assert.deepEqual(promptFilters(filters), ['label!=a', 'label=a9', 'label=a10', 'label=b', 'until=10h']);
  });

  it('prints each report with a blank line, then the total', () => {
    assert.equal(
      renderSystemPrune([
        { space: 1000, output: 'Deleted Containers:\nabc\n' },
        { space: 0, output: 'Deleted Networks:\nn1\n' },
        { space: 0, output: '' },
        { space: 2_500_000, output: 'Deleted Images:\nuntagged: x:1\ndeleted: sha256:f00\n' },
      ]),
      'Deleted Containers:\nabc\n\nDeleted Networks:\nn1\n\nDeleted Images:\nuntagged: x:1\ndeleted: sha256:f00\n\nTotal reclaimed space: 2.501MB\n',
    );
    assert.equal(renderSystemPrune([{ space: 0, output: '' }]), 'Total reclaimed space: 0B\n');
  });
});
