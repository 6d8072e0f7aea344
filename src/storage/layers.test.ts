import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  readlink,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { pack, type Header } from 'tar-stream';
import { errorKind } from '../errors.js';
import { chainId, sha256Digest } from './digest.js';
import { LayerStore, MAX_LAYER_DEPTH, removeTree } from './layers.js';

const execFileAsync = promisify(execFile);

type TestEntry = Partial<Header> & { name: string; body?: string | Buffer };

async function tarOf(entries: TestEntry[]): Promise<Buffer> {
  const p = pack();
  const out: Buffer[] = [];
  const done = (async (): Promise<void> => {
    for await (const c of p) out.push(c as Buffer);
  })();
  for (const { body, ...header } of entries)
    p.entry({ mtime: new Date(1_600_000_000_000), ...header }, body ?? '');
  p.finalize();
  await done;
  return Buffer.concat(out);
}

/** `buf` as a stream of 4 KiB chunks. */
function streamOf(buf: Buffer): Readable {
  const chunks: Buffer[] = [];
  for (let i = 0; i < buf.length; i += 4096) chunks.push(buf.subarray(i, i + 4096));
  return Readable.from(chunks);
}

const BASE = [
  { name: 'etc/', type: 'directory' as const },
  { name: 'etc/hosts', body: 'base hosts' },
  { name: 'etc/gone', body: 'removed by the next layer' },
  { name: 'var/', type: 'directory' as const },
  { name: 'var/lib/old', body: 'hidden by opaque' },
  { name: 'bin/tool', body: 'tool', mode: 0o755 },
];
const CHILD = [
  { name: 'etc/.wh.gone', body: '' },
  { name: 'var/lib/', type: 'directory' as const },
  { name: 'var/lib/.wh..wh..opq', body: '' },
  { name: 'var/lib/new', body: 'new' },
  { name: 'etc/hosts', body: 'child hosts' },
];

describe('storage/layers', () => {
  let root = '';
  let n = 0;
  let baseTar: Buffer;
  let childTar: Buffer;
  const storeRoot = (): string => join(root, `store-${n++}`);
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-layers-'));
    baseTar = await tarOf(BASE);
    childTar = await tarOf(CHILD);
  });
  after(async () => {
    await removeTree(root);
  });

  it('registers layers by chain ID, with meta.json and a short link', async () => {
    const dir = storeRoot();
    const s = await LayerStore.open(dir);
    const base = await s.register(streamOf(baseTar), undefined);
    const baseDiff = sha256Digest(baseTar);
    assert.equal(base.diffId, baseDiff);
    assert.equal(base.chainId, baseDiff);
    assert.equal(base.parent, undefined);
    assert.equal(
      base.size,
      'base hosts'.length + 'removed by the next layer'.length + 'hidden by opaque'.length + 4,
    );

    const child = await s.register(streamOf(childTar), base.chainId, sha256Digest(childTar));
    const chains = chainId([baseDiff, sha256Digest(childTar)]);
    assert.equal(child.chainId, chains[1]);
    assert.equal(child.parent, base.chainId);
    assert.equal(await s.diffSize(child.chainId), 'new'.length + 'child hosts'.length);

    const hex = child.chainId.slice(7);
    const meta = JSON.parse(await readFile(join(dir, 'layers', hex, 'meta.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.deepEqual(Object.keys(meta).sort(), ['chainId', 'createdAt', 'diffId', 'link', 'parent', 'size']);
    assert.equal(meta['parent'], base.chainId);
    assert.match(child.link, /^[A-Z2-7]{26}$/);
    assert.equal(await readlink(join(dir, 'l', child.link)), `../layers/${hex}/diff`);
    assert.equal(await readFile(join(dir, 'l', child.link, 'var/lib/new'), 'utf8'), 'new');

    assert.deepEqual(s.lowerDirs(child.chainId), [
      join(dir, 'layers', hex, 'diff'),
      join(dir, 'layers', base.chainId.slice(7), 'diff'),
    ]);
    assert.deepEqual(s.mountLowerSpec(child.chainId), {
      cwd: dir,
      lowerdir: `l/${child.link}:l/${base.link}`,
    });
    assert.deepEqual(
      (await s.list()).map((l) => l.chainId),
      [base.chainId, child.chainId].sort(),
    );
    assert.deepEqual(await s.get(child.chainId), child);
    assert.throws(
      () => s.lowerDirs(sha256Digest('nope')),
      (e) => errorKind(e) === 'not-found',
    );

    // Reopening loads the same state.
    const again = await LayerStore.open(dir);
    assert.deepEqual(await again.get(child.chainId), child);
  });

  it('mounts a chain through the short links with overlayfs', async () => {
    const dir = storeRoot();
    const s = await LayerStore.open(dir);
    const base = await s.register(streamOf(baseTar), undefined);
    const child = await s.register(streamOf(childTar), base.chainId);
    const merged = join(root, `merged-${n++}`);
    await mkdir(merged);
    const spec = s.mountLowerSpec(child.chainId);
    await execFileAsync('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${spec.lowerdir}`, merged], {
      cwd: spec.cwd,
    });
    try {
      assert.deepEqual((await readdir(join(merged, 'etc'))).sort(), ['hosts']);
      assert.equal(await readFile(join(merged, 'etc/hosts'), 'utf8'), 'child hosts');
      assert.deepEqual(await readdir(join(merged, 'var/lib')), ['new']);
      assert.equal(await readFile(join(merged, 'bin/tool'), 'utf8'), 'tool');
    } finally {
      await execFileAsync('umount', [merged]);
    }
  });

  it('mounts the deepest allowed chain, whose absolute lowerdir would not fit in a page', async () => {
    const dir = storeRoot();
    const s = await LayerStore.open(dir, { sync: false });
    let parent: string | undefined;
    for (let i = 0; i < MAX_LAYER_DEPTH; i++) {
      const layer = await s.register(
        streamOf(await tarOf([{ name: `layer-${i}`, body: String(i) }])),
        parent,
      );
      parent = layer.chainId;
    }
    const top = parent as string;
    assert.ok(s.lowerDirs(top).join(':').length > 4096);
    await assert.rejects(
      s.register(streamOf(await tarOf([{ name: 'one-too-many', body: '' }])), top),
      (e) => errorKind(e) === 'invalid-parameter',
    );
    const spec = s.mountLowerSpec(top);
    assert.ok(spec.lowerdir.length <= 3711, String(spec.lowerdir.length));
    const merged = join(root, `merged-${n++}`);
    await mkdir(merged);
    await execFileAsync('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${spec.lowerdir}`, merged], {
      cwd: spec.cwd,
    });
    try {
      assert.equal((await readdir(merged)).length, MAX_LAYER_DEPTH);
      assert.equal(await readFile(join(merged, 'layer-0'), 'utf8'), '0');
      assert.equal(
        await readFile(join(merged, `layer-${MAX_LAYER_DEPTH - 1}`), 'utf8'),
        String(MAX_LAYER_DEPTH - 1),
      );
    } finally {
      await execFileAsync('umount', [merged]);
    }
  });

  it('shares a layer between images: unpacked once', async () => {
    const dir = storeRoot();
    const s = await LayerStore.open(dir);
    const first = await s.register(streamOf(baseTar), undefined);
    const second = await s.register(streamOf(baseTar), undefined);
    assert.deepEqual(second, first);
    const known = streamOf(baseTar);
    assert.deepEqual(await s.register(known, undefined, first.diffId), first);
    assert.deepEqual(await readdir(join(dir, 'layers')), [first.chainId.slice(7)]);
    assert.equal((await readdir(join(dir, 'l'))).length, 1);

    // Concurrent registrations of one layer extract it once.
    const other = await tarOf([{ name: 'concurrent', body: 'x'.repeat(100_000) }]);
    const results = await Promise.all(
      [1, 2, 3].map(() => s.register(streamOf(other), first.chainId, sha256Digest(other))),
    );
    assert.equal(new Set(results.map((r) => r.chainId)).size, 1);
    assert.deepEqual(
      (await readdir(join(dir, 'layers'))).filter((d) => d.startsWith('tmp-')),
      [],
    );
    assert.equal((await readdir(join(dir, 'l'))).length, 2);
  });

  it('a diff ID mismatch fails and leaves nothing behind', async () => {
    const dir = storeRoot();
    const s = await LayerStore.open(dir);
    await assert.rejects(s.register(streamOf(baseTar), undefined, sha256Digest('something else')), (e) => {
      assert.equal(errorKind(e), 'invalid-parameter');
      assert.match(String(e), /diff ID mismatch/);
      return true;
    });
    assert.deepEqual(await readdir(join(dir, 'layers')), []);
    assert.deepEqual(await readdir(join(dir, 'l')), []);
    assert.deepEqual(await s.list(), []);
  });

  it('a malicious layer fails and leaves nothing behind', async () => {
    const dir = storeRoot();
    const s = await LayerStore.open(dir);
    const evil = await tarOf([
      { name: 'a', type: 'symlink', linkname: '/etc' },
      { name: 'a/evil', body: 'x' },
    ]);
    await assert.rejects(s.register(streamOf(evil), undefined), /parent "a" is a symlink/);
    assert.deepEqual(await readdir(join(dir, 'layers')), []);
    assert.equal(existsSync('/etc/evil'), false);
  });

  it('requires a registered parent', async () => {
    const s = await LayerStore.open(storeRoot());
    await assert.rejects(
      s.register(streamOf(childTar), sha256Digest('no parent')),
      (e) => errorKind(e) === 'not-found',
    );
  });

  it('remove refuses a parent in use; garbageCollect removes unreachable layers children first', async () => {
    const dir = storeRoot();
    const s = await LayerStore.open(dir);
    const base = await s.register(streamOf(baseTar), undefined);
    const child = await s.register(streamOf(childTar), base.chainId);
    const sibling = await s.register(streamOf(await tarOf([{ name: 's', body: 'sib' }])), base.chainId);
    const grandchild = await s.register(streamOf(await tarOf([{ name: 'g', body: 'gc' }])), child.chainId);
    const lone = await s.register(streamOf(await tarOf([{ name: 'lone', body: 'lone' }])), undefined);

    await assert.rejects(s.remove(base.chainId), (e) => {
      assert.equal(errorKind(e), 'conflict');
      assert.match(String(e), /is the parent of layer/);
      return true;
    });
    await assert.rejects(s.remove(sha256Digest('missing')), (e) => errorKind(e) === 'not-found');

    const removed = await s.garbageCollect(new Set([sibling.chainId, sha256Digest('unknown')]));
    // Children before parents (deepest first), then by chain ID.
    assert.deepEqual(
      removed.map((l) => l.chainId),
      [grandchild.chainId, child.chainId, lone.chainId],
    );
    assert.equal(
      removed.reduce((sum, l) => sum + l.size, 0),
      2 + 'new'.length + 'child hosts'.length + 4,
    );
    assert.deepEqual(
      (await s.list()).map((l) => l.chainId),
      [base.chainId, sibling.chainId].sort(),
    );
    assert.deepEqual((await readdir(join(dir, 'l'))).sort(), [base.link, sibling.link].sort());

    await s.remove(sibling.chainId);
    await s.remove(base.chainId);
    assert.deepEqual(await readdir(join(dir, 'layers')), []);
    assert.deepEqual(await readdir(join(dir, 'l')), []);
    assert.deepEqual(await s.garbageCollect(new Set()), []);
  });

  it('open() recovers: temp dirs, half-written layers and dangling links go, lost links come back', async () => {
    const dir = storeRoot();
    const s = await LayerStore.open(dir);
    const base = await s.register(streamOf(baseTar), undefined);
    const child = await s.register(streamOf(childTar), base.chainId);

    // A crash mid-register: extracted temp dir, with odd permissions inside.
    await mkdir(join(dir, 'layers', 'tmp-crashed', 'diff', 'locked'), { recursive: true });
    await writeFile(join(dir, 'layers', 'tmp-crashed', 'diff', 'locked', 'f'), 'x');
    await writeFile(join(dir, 'layers', 'tmp-crashed', 'diff', 'immutable'), 'x');
    await execFileAsync('chattr', ['+i', join(dir, 'layers', 'tmp-crashed', 'diff', 'immutable')]);
    await chmod(join(dir, 'layers', 'tmp-crashed', 'diff', 'locked'), 0);
    // A crash after the rename but before meta.json.
    const halfHex = sha256Digest('half').slice(7);
    await mkdir(join(dir, 'layers', halfHex, 'diff'), { recursive: true });
    await symlink(`../layers/${halfHex}/diff`, join(dir, 'l', 'HALFWRITTENLAYERLINKAAAAAA'));
    // A crash mid-remove of the child: meta.json gone, link left.
    await execFileAsync('rm', ['-f', join(dir, 'layers', child.chainId.slice(7), 'meta.json')]);
    // Unrelated junk in l/, and a lost link of a valid layer.
    await symlink('../layers/nowhere/diff', join(dir, 'l', 'DANGLING'));
    await execFileAsync('rm', ['-f', join(dir, 'l', base.link)]);

    const reopened = await LayerStore.open(dir);
    assert.deepEqual(
      (await reopened.list()).map((l) => l.chainId),
      [base.chainId],
    );
    assert.deepEqual(await readdir(join(dir, 'layers')), [base.chainId.slice(7)]);
    assert.deepEqual(await readdir(join(dir, 'l')), [base.link]);
    assert.equal(await readlink(join(dir, 'l', base.link)), `../layers/${base.chainId.slice(7)}/diff`);
    assert.ok((await lstat(join(dir, 'l', base.link, 'etc/hosts'))).isFile());
  });

  it('exports a layer as a tar that registers to the same diff', async () => {
    const dir = storeRoot();
    const s = await LayerStore.open(dir, { sync: false });
    const base = await s.register(streamOf(baseTar), undefined);
    const child = await s.register(streamOf(childTar), base.chainId);
    const chunks: Buffer[] = [];
    for await (const c of s.diffTar(child.chainId)) chunks.push(c as Buffer);
    const exported = Buffer.concat(chunks);
    const other = await LayerStore.open(storeRoot(), { sync: false });
    const b2 = await other.register(streamOf(baseTar), undefined);
    const c2 = await other.register(streamOf(exported), b2.chainId, sha256Digest(exported));
    const again: Buffer[] = [];
    for await (const c of other.diffTar(c2.chainId)) again.push(c as Buffer);
    assert.ok(Buffer.concat(again).equals(exported), 'export is stable across a round trip');
  });

  async function exact(s: LayerStore, chainId: string): Promise<Buffer> {
    const t = await s.tarStream(chainId);
    assert.ok(t, 'a layer registered now has a tar-split');
    const chunks: Buffer[] = [];
    for await (const c of t.stream) chunks.push(c as Buffer);
    const out = Buffer.concat(chunks);
    assert.equal(out.length, t.size);
    return out;
  }

  it('rebuilds the original tar byte for byte from the files and the tar-split', async () => {
    const s = await LayerStore.open(storeRoot(), { sync: false });
    const base = await s.register(streamOf(baseTar), undefined);
    const child = await s.register(streamOf(childTar), base.chainId);
    assert.ok((await exact(s, base.chainId)).equals(baseTar));
    assert.ok((await exact(s, child.chainId)).equals(childTar));
  });

  it('keeps the exact tar when entries replace earlier ones in the same tar, and through PAX, long names and trailing bytes', async () => {
    const big = Buffer.alloc(300 * 1024, 7);
    const tar = await tarOf([
      { name: 'a/', type: 'directory' },
      { name: 'a/file', body: 'first version' },
      { name: 'a/file', body: 'second, longer version' },
      { name: 'a/link', type: 'link', linkname: 'a/file' },
      { name: 'd/', type: 'directory' },
      { name: 'd/inner', body: 'under a dir that becomes a file' },
      { name: 'd', body: 'now a file' },
      { name: 'gone', body: 'whited out below' },
      { name: '.wh.gone', body: '' },
      { name: `${'long/'.repeat(40)}name`, body: 'long path' },
      { name: 'big', body: big },
      { name: 'x', body: 'pax', pax: { 'SCHILY.xattr.user.k': 'v' } },
      { name: 'sym', type: 'symlink', linkname: 'a/file' },
    ]);
    const original = Buffer.concat([tar, Buffer.alloc(2048)]); // padding after the end blocks, as some tools write
    const s = await LayerStore.open(storeRoot(), { sync: false });
    const layer = await s.register(streamOf(original), undefined);
    assert.equal(layer.diffId, sha256Digest(original));
    assert.equal(await readFile(join(s.diffDir(layer.chainId), 'a/file'), 'utf8'), 'second, longer version');
    assert.ok((await exact(s, layer.chainId)).equals(original));
  });

  it('a layer modified on disk fails reassembly instead of producing a wrong tar', async () => {
    const s = await LayerStore.open(storeRoot(), { sync: false });
    const base = await s.register(streamOf(baseTar), undefined);
    assert.equal(
      (await s.tarStream(base.chainId))?.verifying,
      false,
      'untouched since hashed: not hashed again',
    );
    await writeFile(join(s.diffDir(base.chainId), 'bin/tool'), 'TOOL'); // same size
    assert.equal((await s.tarStream(base.chainId))?.verifying, true, 'a changed ctime: hashed and checked');
    await assert.rejects(exact(s, base.chainId), /modified on disk/);
  });

  it('stages a layer without a parent and places it once; the same staged layer again is copied', async () => {
    const s = await LayerStore.open(storeRoot(), { sync: false });
    const staged = await s.stage(streamOf(childTar));
    assert.equal(staged.diffId, sha256Digest(childTar));
    assert.equal(staged.tarSize, childTar.length);
    const base = await s.register(streamOf(baseTar), undefined);
    const onBase = await s.commitStaged(staged, base.chainId);
    assert.equal(onBase.chainId, chainId([base.diffId, staged.diffId])[1]);
    const alone = await s.commitStaged(staged, undefined);
    assert.equal(alone.chainId, staged.diffId);
    assert.ok((await exact(s, alone.chainId)).equals(childTar));
    const left = (await readdir(join(s.root, 'layers'))).filter((n) => n.startsWith('tmp-'));
    assert.deepEqual(left, []);
    const dropped = await s.stage(streamOf(baseTar));
    await s.discardStaged(dropped);
    assert.deepEqual(
      (await readdir(join(s.root, 'layers'))).filter((n) => n.startsWith('tmp-')),
      [],
    );
  });
});
