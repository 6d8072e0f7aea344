import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

import { extract as tarExtract } from 'tar-stream';

import {
  getRebaseName,
  goBase,
  goClean,
  goDir,
  nameRebaser,
  planArchiveCopy,
  preserveTrailingDotOrSeparator,
  rebaseArchive,
  resolveLocalPath,
  splitCpArg,
  splitPathDirEntry,
  tarResource,
  untar,
} from './archive.js';

async function entryNames(tar: Readable): Promise<string[]> {
  const names: string[] = [];
  const ex = tarExtract();
  const done = (async () => {
    for await (const entry of ex) {
      names.push(entry.header.name);
      entry.resume();
    }
  })();
  tar.pipe(ex);
  await done;
  return names;
}

describe('docker cp paths', () => {
  it('splits CONTAINER:PATH arguments', () => {
    assert.deepEqual(splitCpArg('web:/etc/hosts'), { container: 'web', path: '/etc/hosts' });
    assert.deepEqual(splitCpArg('/abs:path'), { container: '', path: '/abs:path' });
    assert.deepEqual(splitCpArg('./file:name'), { container: '', path: './file:name' });
    assert.deepEqual(splitCpArg('local.txt'), { container: '', path: 'local.txt' });
    assert.deepEqual(splitCpArg('-'), { container: '', path: '-' });
  });

  it('keeps trailing / and /. as go-archive does', () => {
    assert.equal(goClean('a/b/'), 'a/b');
    assert.equal(goClean(''), '.');
    assert.equal(goBase('/a/b/'), 'b');
    assert.equal(goBase('/'), '/');
    assert.equal(goDir('/a'), '/');
    assert.equal(goDir('a'), '.');
    assert.equal(preserveTrailingDotOrSeparator('/w/dir', 'dir/.'), '/w/dir/.');
    assert.equal(preserveTrailingDotOrSeparator('/w/dir', 'dir/'), '/w/dir/');
    assert.equal(resolveLocalPath('out/.', '/w'), '/w/out/.');
    assert.equal(resolveLocalPath('../x', '/w/y'), '/w/x');
    assert.deepEqual(splitPathDirEntry('/a/b/.'), { dir: '/a/b', base: '.' });
    assert.deepEqual(splitPathDirEntry('/a/b/'), { dir: '/a', base: 'b' });
    assert.deepEqual(getRebaseName('/a/link/', '/a/target'), { resolved: '/a/target/', rebaseName: 'link' });
  });

  it('plans where archives land', () => {
    const src = (path: string, isDir: boolean) => ({ path, exists: true, isDir, rebaseName: '' });
    const dst = (path: string, exists: boolean, isDir: boolean) => ({ path, exists, isDir, rebaseName: '' });
    assert.deepEqual(planArchiveCopy(src('/s/file', false), dst('/d', true, true)), { dstDir: '/d' });
    assert.deepEqual(planArchiveCopy(src('/s/file', false), dst('/d/new', false, false)), {
      dstDir: '/d',
      rebase: { from: 'file', to: 'new' },
    });
    assert.deepEqual(planArchiveCopy(src('/s/dir/.', true), dst('/d/new', false, false)), {
      dstDir: '/d',
      rebase: { from: '.', to: 'new' },
    });
    assert.throws(() => planArchiveCopy(src('/s/dir', true), dst('/d/file', true, false)), {
      message: 'cannot copy directory',
    });
    assert.throws(() => planArchiveCopy(src('/s/file', false), dst('/d/new/', false, false)), {
      message: 'no such directory',
    });
    const rebase = nameRebaser('.', 'new');
    assert.equal(rebase('./'), 'new/');
    assert.equal(rebase('./a/b'), 'new/a/b');
    assert.equal(nameRebaser('dir', 'x')('dirt/a'), 'dirt/a');
  });
});

describe('docker cp archives', () => {
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-cp-'));
    await fsp.mkdir(join(dir, 'src/sub'), { recursive: true });
    await fsp.writeFile(join(dir, 'src/a.txt'), 'A');
    await fsp.writeFile(join(dir, 'src/sub/b.txt'), 'BB');
    await fsp.symlink('a.txt', join(dir, 'src/link'));
    await fsp.mkdir(join(dir, 'dst'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('tars a directory, its contents, or a file under docker names', async () => {
    assert.deepEqual(await entryNames(tarResource(join(dir, 'src'))), [
      'src/',
      'src/a.txt',
      'src/link',
      'src/sub/',
      'src/sub/b.txt',
    ]);
    assert.deepEqual(await entryNames(tarResource(join(dir, 'src') + '/.')), [
      './',
      './a.txt',
      './link',
      './sub/',
      './sub/b.txt',
    ]);
    assert.deepEqual(await entryNames(tarResource(join(dir, 'src/a.txt'), 'renamed.txt')), ['renamed.txt']);
    assert.deepEqual(await entryNames(rebaseArchive(tarResource(join(dir, 'src')), 'src', 'copy')), [
      'copy/',
      'copy/a.txt',
      'copy/link',
      'copy/sub/',
      'copy/sub/b.txt',
    ]);
  });

  it('extracts archives, refusing to replace a directory with a file', async () => {
    await untar(rebaseArchive(tarResource(join(dir, 'src')), 'src', 'copy'), join(dir, 'dst'));
    assert.equal(await fsp.readFile(join(dir, 'dst/copy/sub/b.txt'), 'utf8'), 'BB');
    assert.equal(await fsp.readlink(join(dir, 'dst/copy/link')), 'a.txt');
    await assert.rejects(
      untar(rebaseArchive(tarResource(join(dir, 'src/a.txt')), 'a.txt', 'copy'), join(dir, 'dst')),
      { message: 'cannot overwrite directory "copy" with non-directory "' + join(dir, 'dst') + '"' },
    );
  });
});
