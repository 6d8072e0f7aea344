import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import type { ImageSummary } from '../../../api/types/index.js';
import { imageFormat, renderImages, truncateId } from './list.js';

const NOW = Date.UTC(2024, 5, 1, 12, 0, 0);
const nowS = NOW / 1000;
const H = (c: string): string => c.repeat(64);

function image(partial: Partial<ImageSummary> & Pick<ImageSummary, 'Id'>): ImageSummary {
  return {
    ParentId: '',
    RepoTags: [],
    RepoDigests: [],
    Created: nowS,
    Size: 0,
    SharedSize: -1,
    Labels: {},
    Containers: -1,
    ...partial,
  };
}

const IMAGES: readonly ImageSummary[] = [
  image({
    Id: 'sha256:91ef0af61f39ece4d6710e465df5ed6ca12112358344fd51ae6a3b886634f799',
    RepoTags: ['alpine:latest', 'alpine:3.20'],
    RepoDigests: ['alpine@sha256:' + H('b')],
    Created: nowS - 2 * 3600,
    Size: 7800000,
  }),
  image({
    Id: 'sha256:' + H('c'),
    RepoTags: ['localhost:5000/team/app:1.0'],
    RepoDigests: ['localhost:5000/team/app@sha256:' + H('d'), 'localhost:5000/other@sha256:' + H('e')],
    Created: nowS - 3 * 86400,
    Size: 123456789,
  }),
  image({ Id: 'sha256:' + H('f'), Created: nowS - 45 * 60, Size: 999 }),
  image({
    Id: 'sha256:' + H('1'),
    RepoTags: ['<none>:<none>'],
    RepoDigests: ['<none>@<none>'],
    Created: nowS - 400 * 86400,
    Size: 999999,
  }),
];

describe('images: the default table (docker formatter.ImageWrite)', () => {
  it('prints a row per repository and tag, <none> for dangling images', () => {
    assert.equal(
      renderImages(IMAGES, { now: NOW }),
      [
        'REPOSITORY                TAG       IMAGE ID       CREATED          SIZE',
        'alpine                    latest    91ef0af61f39   2 hours ago      7.8MB',
        'alpine                    3.20      91ef0af61f39   2 hours ago      7.8MB',
        'localhost:5000/team/app   1.0       cccccccccccc   3 days ago       123MB',
        'localhost:5000/other      <none>    cccccccccccc   3 days ago       123MB',
        '<none>                    <none>    ffffffffffff   45 minutes ago   999B',
        '<none>                    <none>    111111111111   13 months ago    1e+03kB',
        '',
      ].join('\n'),
    );
  });

  it('adds a DIGEST column with --digests', () => {
    assert.equal(
      renderImages(IMAGES.slice(0, 2), { now: NOW, digests: true }),
      [
        'REPOSITORY                TAG       DIGEST                                                                    IMAGE ID       CREATED       SIZE',
        `alpine                    latest    sha256:${H('b')}   91ef0af61f39   2 hours ago   7.8MB`,
        `alpine                    3.20      sha256:${H('b')}   91ef0af61f39   2 hours ago   7.8MB`,
        `localhost:5000/team/app   1.0       sha256:${H('d')}   cccccccccccc   3 days ago    123MB`,
        `localhost:5000/other      <none>    sha256:${H('e')}   cccccccccccc   3 days ago    123MB`,
        '',
      ].join('\n'),
    );
  });

  it('prints IDs only with -q, full with --no-trunc', () => {
    assert.equal(
      renderImages(IMAGES.slice(0, 2), { quiet: true }),
      '91ef0af61f39\n91ef0af61f39\ncccccccccccc\ncccccccccccc\n',
    );
    assert.equal(renderImages(IMAGES.slice(2, 3), { quiet: true, trunc: false }), `sha256:${H('f')}\n`);
  });

  it('prints an empty table as just the header', () => {
    assert.equal(renderImages([]), 'REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n');
  });

  it('renders templates and json like docker', () => {
    assert.equal(
      renderImages(IMAGES.slice(0, 1), { format: '{{.Repository}}:{{.Tag}} {{.Size}}' }),
      'alpine:latest 7.8MB\nalpine:3.20 7.8MB\n',
    );
    assert.equal(
      renderImages(IMAGES.slice(2, 3), { format: 'json', now: NOW }).replace(
        /"CreatedAt":"[^"]*"/,
        '"CreatedAt":"X"',
      ),
      '{"Containers":"N/A","CreatedAt":"X","CreatedSince":"45 minutes ago","Digest":"\\u003cnone\\u003e",' +
        '"ID":"ffffffffffff","Repository":"\\u003cnone\\u003e","SharedSize":"N/A","Size":"999B",' +
        '"Tag":"\\u003cnone\\u003e","UniqueSize":"N/A","VirtualSize":"999B"}\n',
    );
    assert.equal(
      renderImages(IMAGES.slice(0, 1), { format: 'table {{.ID}}', digests: true }),
      `IMAGE ID       DIGEST\n91ef0af61f39   sha256:${H('b')}\n91ef0af61f39   sha256:${H('b')}\n`,
    );
    assert.throws(() => renderImages(IMAGES, { format: '{{.Nope}}' }), {
      message:
        'template parsing error: template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type *formatter.imageContext',
    });
  });

  it('chooses formats as NewImageFormat', () => {
    assert.equal(imageFormat('table', true, true), '{{.ID}}');
    assert.equal(imageFormat('table {{.ID}}', false, true), 'table {{.ID}}\t{{.Digest}}');
    assert.equal(imageFormat('{{.ID}}', false, true), '{{.ID}}');
    assert.equal(truncateId('sha256:' + H('a')), 'aaaaaaaaaaaa');
    assert.equal(truncateId('<missing>'), '<missing>');
  });
});
