import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { Volume } from '../../../api/types/index.js';
import { parseTemplate } from '../../output/template.js';
import { driverOptsMap } from './create.js';
import { executeVolumeTemplate } from './inspect.js';
import { renderVolumes, volumeRow } from './list.js';
import { renderVolumePrune } from './prune.js';

const vol = (name: string, extra: Partial<Volume> = {}): Volume => ({
  Name: name,
  Driver: 'local',
  Mountpoint: `/var/lib/berth/volumes/${name}/_data`,
  Labels: {},
  Scope: 'local',
  Options: {},
  ...extra,
});

describe('volume ls output', () => {
  const volumes = [vol('data10'), vol('data2', { Labels: { b: '2', a: '1' } }), vol('Alpha')];

  it('prints docker’s table, names sorted naturally', () => {
    assert.equal(
      renderVolumes(volumes),
      'DRIVER    VOLUME NAME\nlocal     Alpha\nlocal     data2\nlocal     data10\n',
    );
  });

  it('prints names only with -q, and the raw format', () => {
    assert.equal(renderVolumes(volumes, { quiet: true }), 'Alpha\ndata2\ndata10\n');
    assert.equal(renderVolumes([vol('x1')], { format: 'raw' }), 'name: x1\ndriver: local\n\n');
  });

  it('renders templates with docker’s fields and Label', () => {
    assert.equal(
      renderVolumes([volumes[1]], {
        format: '{{.Name}} {{.Labels}} {{.Label "a"}} {{.Scope}} {{.Links}} {{.Size}} {{.Mountpoint}}',
      }),
      'data2 a=1,b=2 1 local N/A N/A /var/lib/berth/volumes/data2/_data\n',
    );
    assert.equal(
      renderVolumes([vol('t1')], { format: 'table {{.Name}}\t{{.Mountpoint}}' }),
      'VOLUME NAME   MOUNTPOINT\nt1            /var/lib/berth/volumes/t1/_data\n',
    );
  });

  it('prints json lines with the fields in docker’s order', () => {
    const line = renderVolumes([vol('j1', { Labels: { k: '<v>' } })], { format: 'json' });
    assert.equal(
      line,
      '{"Availability":"N/A","Driver":"local","Group":"N/A","Labels":"k=\\u003cv\\u003e","Links":"N/A","Mountpoint":"/var/lib/berth/volumes/j1/_data","Name":"j1","Scope":"local","Size":"N/A","Status":"N/A"}\n',
    );
  });

  it('shows usage data when the daemon gives it', () => {
    const row = volumeRow(vol('u1', { UsageData: { Size: 1_500_000, RefCount: 2 } }));
    assert.equal(row.Size, '1.5MB');
    assert.equal(row.Links, '2');
  });
});

describe('volume create and prune helpers', () => {
  it('reads --opt as docker’s MapOpts', () => {
    assert.deepEqual(driverOptsMap(['type=tmpfs', 'o=size=10m,uid=1000', 'flag', 'type=none']), {
      type: 'none',
      o: 'size=10m,uid=1000',
      flag: '',
    });
  });

  it('prints the prune report as docker does', () => {
    assert.equal(
      renderVolumePrune({ VolumesDeleted: ['a', 'b'], SpaceReclaimed: 2048 }),
      'Deleted Volumes:\na\nb\n\nTotal reclaimed space: 2.048kB\n',
    );
    assert.equal(renderVolumePrune({ VolumesDeleted: [], SpaceReclaimed: 0 }), 'Total reclaimed space: 0B\n');
  });
});

describe('volume inspect templates', () => {
  const raw = {
    CreatedAt: '2024-01-02T03:04:05Z',
    Driver: 'local',
    Labels: null,
    Mountpoint: '/v/_data',
    Name: 'n1',
    Options: { type: 'tmpfs' },
    Scope: 'local',
  };
  const run = (format: string, value: unknown = raw): string =>
    executeVolumeTemplate(parseTemplate(format), value);

  it('treats null maps as Go nil maps', () => {
    assert.equal(run('{{.Labels.x}}'), '<no value>');
    assert.equal(run('{{.Labels}}'), 'map[]');
    assert.equal(run('{{json .Labels}}'), 'null');
    assert.equal(run('{{index .Labels "x"}}'), '');
    assert.equal(run('{{.Status.x}}'), '<no value>');
  });

  it('reads map and struct fields', () => {
    assert.equal(run('{{.Options.type}} {{.Name}} {{.Options.nope}}'), 'tmpfs n1 <no value>');
    assert.equal(run('{{json .Options}}'), '{"type":"tmpfs"}');
    assert.equal(run('{{range $k, $v := .Options}}{{$k}}={{$v}}{{end}}'), 'type=tmpfs');
  });
});
