import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import type { ContainerSummary } from '../../../api/types/index.js';
import {
  containerFormat,
  containerRow,
  displayCommand,
  displayImage,
  displayablePorts,
  ellipsis,
  renderContainers,
} from './list.js';

const ID = 'f3a1b2c3d4e5' + '0'.repeat(52);
const NOW = 1_700_000_000_000;

const web: ContainerSummary = {
  Id: ID,
  Names: ['/web'],
  Image: 'nginx:latest',
  ImageID: 'sha256:' + 'a'.repeat(64),
  Command: "sh -c 'sleep 1000 && echo done'",
  Created: NOW / 1000 - 120,
  Ports: [
    { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
    { PrivatePort: 443, Type: 'tcp' },
  ],
  Labels: { b: '2', a: '1' },
  State: 'running',
  Status: 'Up 2 minutes',
  NetworkSettings: { Networks: { bridge: {} } },
  Mounts: [{ Name: 'averyveryverylongvolumename', Source: '/var/lib/x', Driver: 'local' }],
};

const db: ContainerSummary = {
  Id: 'b'.repeat(64),
  Names: ['/db', '/web/db'],
  Image: 'sha256:' + 'c'.repeat(64),
  ImageID: 'sha256:' + 'c'.repeat(64),
  Command: 'postgres',
  Created: NOW / 1000 - 3 * 86400,
  Ports: [],
  State: 'exited',
  Status: 'Exited (0) 2 days ago',
};

describe('docker ps rendering', () => {
  it('prints the default table', () => {
    assert.equal(
      renderContainers([web, db], { now: NOW }),
      'CONTAINER ID   IMAGE          COMMAND                  CREATED         STATUS                  PORTS                           NAMES\n' +
        'f3a1b2c3d4e5   nginx:latest   "sh -c \'sleep 1000 &…"   2 minutes ago   Up 2 minutes            443/tcp, 0.0.0.0:8080->80/tcp   web\n' +
        'bbbbbbbbbbbb   cccccccccccc   "postgres"               3 days ago      Exited (0) 2 days ago                                   db\n',
    );
  });

  it('adds SIZE with -s and prints IDs with -q', () => {
    assert.equal(
      containerFormat('', false, true),
      'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Size}}',
    );
    assert.equal(renderContainers([web, db], { quiet: true }), `f3a1b2c3d4e5\n${'b'.repeat(12)}\n`);
    assert.equal(renderContainers([db], { quiet: true, trunc: false }), `${'b'.repeat(64)}\n`);
    assert.equal(
      renderContainers([{ ...db, SizeRw: 1234, SizeRootFs: 5_600_000 }], { format: '{{.Size}}' }),
      '1.23kB (virtual 5.6MB)\n',
    );
  });

  it('fills the other template fields as docker does', () => {
    assert.equal(
      renderContainers([web], {
        format:
          '{{.Names}}|{{.Labels}}|{{.Label "b"}}|{{.Mounts}}|{{.LocalVolumes}}|{{.Networks}}|{{.State}}',
      }),
      'web|a=1,b=2|2|averyveryveryl…|1|bridge|running\n',
    );
    assert.equal(renderContainers([db], { format: '{{.Names}}', trunc: false }), 'db,web/db\n');
    assert.equal(renderContainers([db], { format: '{{.Names}}' }), 'db\n');
  });

  it('prints JSON lines with the fields of docker ps --format json', () => {
    const line = renderContainers([db], { format: 'json', now: NOW });
    const parsed = JSON.parse(line) as Record<string, string>;
    assert.deepEqual(Object.keys(parsed), [
      'Command',
      'CreatedAt',
      'ID',
      'Image',
      'Labels',
      'LocalVolumes',
      'Mounts',
      'Names',
      'Networks',
      'Platform',
      'Ports',
      'RunningFor',
      'Size',
      'State',
      'Status',
    ]);
    assert.equal(parsed['Command'], '"postgres"');
    assert.equal(parsed['Size'], '0B');
    assert.equal(parsed['Platform'], null);
    assert.equal(renderContainers([db], { format: '{{.Platform}}' }), '<nil>\n');
    const withPlatform = {
      ...db,
      ImageManifestDescriptor: { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    };
    assert.equal(
      renderContainers([withPlatform], { format: '{{.Platform}}|{{json .Platform}}' }),
      'linux/arm64/v8|{"architecture":"arm64","os":"linux","variant":"v8"}\n',
    );
  });

  it('reports template errors as docker does', () => {
    assert.throws(() => renderContainers([db], { format: '{{.Nope}}' }), {
      message:
        'template parsing error: template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type *formatter.ContainerContext',
    });
  });
});

describe('docker ps columns', () => {
  it('quotes and truncates commands', () => {
    assert.equal(displayCommand("sh -c 'sleep 1000'", true), '"sh -c \'sleep 1000\'"');
    assert.equal(
      displayCommand('/docker-entrypoint.sh nginx -g daemon off;', true),
      '"/docker-entrypoint.…"',
    );
    assert.equal(displayCommand('/docker-entrypoint.sh nginx', false), '"/docker-entrypoint.sh nginx"');
    assert.equal(displayCommand('echo "hi"\tthere', false), '"echo \\"hi\\"\\tthere"');
    assert.equal(ellipsis('abcdef', 4), 'abc…');
    assert.equal(ellipsis('abc', 4), 'abc');
    assert.equal(ellipsis('abc', 1), 'a');
    assert.equal(ellipsis('日本語テキスト', 5), '日本…');
  });

  it('groups ports as DisplayablePorts', () => {
    assert.equal(
      displayablePorts([
        { PrivatePort: 9002, Type: 'tcp' },
        { PrivatePort: 9000, Type: 'tcp' },
        { PrivatePort: 9001, Type: 'tcp' },
        { PrivatePort: 53, Type: 'udp' },
        { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 80, Type: 'tcp' },
        { IP: '::', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
      ]),
      '53/udp, 0.0.0.0:80->80/tcp, 9000-9002/tcp, [::]:8080->80/tcp',
    );
    assert.equal(displayablePorts([]), '');
  });

  it('shows images as docker does', () => {
    assert.equal(displayImage({ Image: '' }, true), '<no image>');
    assert.equal(
      displayImage({ Image: 'docker.io/library/alpine:3.20', ImageID: 'sha256:1' }, true),
      'alpine:3.20',
    );
    assert.equal(
      displayImage({ Image: `alpine@sha256:${'d'.repeat(64)}`, ImageID: 'sha256:x' }, true),
      'alpine',
    );
    assert.equal(
      displayImage({ Image: 'sha256:' + 'e'.repeat(64), ImageID: 'sha256:' + 'e'.repeat(64) }, true),
      'e'.repeat(12),
    );
    assert.equal(containerRow(db, true, NOW).RunningFor, '3 days ago');
  });
});
