import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { extract as tarStreamExtract, pack, type Header } from 'tar-stream';
import { encodeTarHeader, exportLayer, TAR_END } from './tar-export.js';
import { extractLayer, openSpecialFileOps } from './tar-extract.js';

type TestEntry = Partial<Header> & { name: string; body?: string | Buffer; pax?: Record<string, string> };

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

async function collect(r: Readable): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of r) out.push(c as Buffer);
  return Buffer.concat(out);
}

interface Parsed {
  header: Header;
  body: Buffer;
}

/** Reads a tar with tar-stream, an implementation independent of ours. */
async function parseWithTarStream(buf: Buffer): Promise<Parsed[]> {
  const ex = tarStreamExtract();
  Readable.from([buf]).pipe(ex);
  const out: Parsed[] = [];
  for await (const entry of ex) {
    const parts: Buffer[] = [];
    for await (const c of entry) parts.push(c as Buffer);
    out.push({ header: entry.header, body: Buffer.concat(parts) });
  }
  return out;
}

/** A comparable description of a tree. */
async function snapshot(dir: string): Promise<string[]> {
  const ops = openSpecialFileOps();
  const lines: string[] = [];
  try {
    const visit = async (rel: string): Promise<void> => {
      for (const name of (await readdir(join(dir, rel))).sort()) {
        const r = rel === '' ? name : `${rel}/${name}`;
        const p = join(dir, r);
        const st = await lstat(p);
        const x = (await ops.getxattrs([p])).get(p) ?? new Map<string, Buffer>();
        const xs = [...x].map(([k, v]) => `${k}=${v.toString('hex')}`).sort();
        let extra = '';
        if (st.isFile())
          extra = createHash('sha256')
            .update(await readFile(p))
            .digest('hex');
        if (st.isSymbolicLink()) extra = await readlink(p);
        if (st.isCharacterDevice() || st.isBlockDevice()) extra = String(st.rdev);
        const t = st.isDirectory()
          ? 'd'
          : st.isFile()
            ? 'f'
            : st.isSymbolicLink()
              ? 'l'
              : st.isFIFO()
                ? 'p'
                : 'c/b';
        const mtime =
          st.isSymbolicLink() || st.isDirectory() || st.isFile() ? Math.floor(st.mtimeMs / 1000) : '';
        lines.push(
          `${r} ${t} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} n${st.nlink} ${mtime} ${extra} ${xs.join(',')}`,
        );
        if (st.isDirectory()) await visit(r);
      }
    };
    await visit('');
  } finally {
    await ops.close();
  }
  return lines;
}

describe('storage/tar-export', () => {
  let root = '';
  let n = 0;
  const fresh = async (): Promise<string> => {
    const d = join(root, `d${n++}`);
    await mkdir(d);
    return d;
  };
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-export-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const long = `${'segment-'.repeat(15)}/${'more-'.repeat(30)}/leaf-with-a-long-name-${'z'.repeat(60)}`;
  const layerTar = (): Promise<Buffer> =>
    tarOf([
      { name: 'bin/', type: 'directory', mode: 0o755, uid: 0, gid: 0 },
      { name: 'bin/su', mode: 0o4755, body: 'su' },
      { name: 'bin/su-hard', type: 'link', linkname: 'bin/su' },
      { name: 'bin/sh', type: 'symlink', linkname: '/bin/busybox' },
      { name: 'dev/', type: 'directory' },
      { name: 'dev/null', type: 'character-device', mode: 0o666, devmajor: 1, devminor: 3 },
      { name: 'dev/sda', type: 'block-device', mode: 0o660, devmajor: 8, devminor: 0 },
      { name: 'dev/pipe', type: 'fifo', mode: 0o600 },
      { name: 'etc/', type: 'directory', uid: 5, gid: 6, mode: 0o750 },
      { name: 'etc/.wh.hosts', body: '', uid: 5, gid: 6 },
      {
        name: 'etc/conf',
        body: 'c'.repeat(700),
        uid: 1000,
        gid: 1000,
        pax: { 'SCHILY.xattr.user.test': 'v' },
      },
      { name: 'opaque/', type: 'directory' },
      { name: 'opaque/.wh..wh..opq', body: '' },
      { name: 'opaque/file', body: 'o' },
      { name: `${long}/f`, body: 'deep' },
      { name: 'ünïcødé', body: 'utf8 name' },
    ]);

  it('writes overlay whiteouts back as AUFS entries, sorted, readable by tar-stream', async () => {
    const dir = await fresh();
    await extractLayer(Readable.from([await layerTar()]), dir);
    const tar = await collect(exportLayer(dir));
    assert.equal(tar.length % 512, 0);
    assert.ok(
      tar.subarray(-1024).every((b) => b === 0),
      'ends with two zero blocks',
    );
    const entries = await parseWithTarStream(tar);
    const names = entries.map((e) => e.header.name);
    assert.deepEqual(names, [
      'bin/',
      'bin/sh',
      'bin/su',
      'bin/su-hard',
      'dev/',
      'dev/null',
      'dev/pipe',
      'dev/sda',
      'etc/',
      'etc/.wh.hosts',
      'etc/conf',
      'opaque/',
      'opaque/.wh..wh..opq',
      'opaque/file',
      `${'segment-'.repeat(15)}/`,
      `${'segment-'.repeat(15)}/${'more-'.repeat(30)}/`,
      `${'segment-'.repeat(15)}/${'more-'.repeat(30)}/leaf-with-a-long-name-${'z'.repeat(60)}/`,
      `${long}/f`,
      'ünïcødé',
    ]);
    const by = new Map(entries.map((e) => [e.header.name, e]));
    assert.equal(by.get('bin/su')?.header.mode, 0o4755);
    assert.equal(by.get('bin/su-hard')?.header.type, 'link');
    assert.equal(by.get('bin/su-hard')?.header.linkname, 'bin/su');
    assert.equal(by.get('bin/sh')?.header.linkname, '/bin/busybox');
    assert.equal(by.get('dev/null')?.header.type, 'character-device');
    assert.equal(by.get('dev/null')?.header.devmajor, 1);
    assert.equal(by.get('dev/null')?.header.devminor, 3);
    assert.equal(by.get('dev/sda')?.header.type, 'block-device');
    assert.equal(by.get('dev/pipe')?.header.type, 'fifo');
    const wh = by.get('etc/.wh.hosts')?.header;
    assert.equal(wh?.type, 'file');
    assert.equal(wh?.size, 0);
    assert.equal(wh?.uid, 5);
    assert.equal(by.get('etc/')?.header.mode, 0o750);
    assert.equal(by.get('etc/conf')?.body.toString(), 'c'.repeat(700));
    assert.deepEqual(by.get('etc/conf')?.header.pax, { 'SCHILY.xattr.user.test': 'v' });
    assert.equal(by.get('opaque/')?.header.pax, null, 'the overlay xattr itself is not exported');
    assert.equal(by.get('ünïcødé')?.body.toString(), 'utf8 name');
  });

  it('is deterministic and round-trips through extraction', async () => {
    const a = await fresh();
    await extractLayer(Readable.from([await layerTar()]), a);
    const tar1 = await collect(exportLayer(a));
    const tar2 = await collect(exportLayer(a));
    assert.ok(tar1.equals(tar2));
    const b = await fresh();
    await extractLayer(Readable.from([tar1]), b);
    assert.deepEqual(await snapshot(b), await snapshot(a));
    assert.ok((await collect(exportLayer(b))).equals(tar1));
  });

  it('keeps mode 0, large ids and binary xattrs', async () => {
    const dir = await fresh();
    await writeFile(join(dir, 'shadow'), 'secret', { mode: 0 });
    const big = await fresh();
    const tar = Buffer.concat([
      encodeTarHeader({
        name: 'f',
        type: 'file',
        mode: 0o600,
        uid: 3_000_000,
        gid: 4_000_000,
        size: 0,
        mtime: 5,
      }),
      TAR_END,
    ]);
    await extractLayer(Readable.from([tar]), big);
    const ops = openSpecialFileOps();
    try {
      await ops.setxattr(join(dir, 'shadow'), 'user.bin', Buffer.from([0x80, 0xff, 0x00]));
    } finally {
      await ops.close();
    }
    const exported = await collect(exportLayer(dir));
    const again = await fresh();
    await extractLayer(Readable.from([exported]), again);
    assert.equal((await lstat(join(again, 'shadow'))).mode & 0o7777, 0);
    assert.deepEqual(await snapshot(again), await snapshot(dir));
    assert.equal((await lstat(join(big, 'f'))).uid, 3_000_000);
    assert.equal((await lstat(join(big, 'f'))).gid, 4_000_000);
    const [entry] = await parseWithTarStream(await collect(exportLayer(big)));
    assert.deepEqual(entry?.header.pax, { uid: '3000000', gid: '4000000' });
  });

  it('exports an opaque layer root as a top-level .wh..wh..opq', async () => {
    const dir = await fresh();
    await extractLayer(
      Readable.from([
        await tarOf([
          { name: '.wh..wh..opq', body: '' },
          { name: 'x', body: '' },
        ]),
      ]),
      dir,
    );
    const names = (await parseWithTarStream(await collect(exportLayer(dir)))).map((e) => e.header.name);
    assert.deepEqual(names, ['.wh..wh..opq', 'x']);
  });
});
