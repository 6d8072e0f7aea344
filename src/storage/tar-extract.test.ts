import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { pack, type Header } from 'tar-stream';
import { errorKind } from '../errors.js';
import { encodeTarHeader, TAR_END } from './tar-export.js';
import {
  cleanLayerPath,
  extractLayer,
  openSpecialFileOps,
  parseGetfattrDump,
  readTarEntries,
  HelperOsError,
  type ExtractResult,
  type SpecialFileOps,
  type SpecialOp,
} from './tar-extract.js';

const execFileAsync = promisify(execFile);

type TestEntry = Partial<Header> & { name: string; body?: string | Buffer; pax?: Record<string, string> };

/** A tar built by tar-stream (an independent writer). */
async function tarOf(entries: TestEntry[]): Promise<Buffer> {
  const p = pack();
  const out: Buffer[] = [];
  const done = (async (): Promise<void> => {
    for await (const c of p) out.push(c as Buffer);
  })();
  for (const { body, ...header } of entries) {
    const h: TestEntry = { mtime: new Date(1_600_000_000_000), ...header };
    p.entry(h, body ?? '');
  }
  p.finalize();
  await done;
  return Buffer.concat(out);
}

function extract(buf: Buffer, dir: string, ops?: SpecialFileOps): Promise<ExtractResult> {
  const chunks: Buffer[] = [];
  for (let i = 0; i < buf.length; i += 1000) chunks.push(buf.subarray(i, i + 1000));
  return extractLayer(Readable.from(chunks), dir, ops === undefined ? undefined : { ops });
}

async function xattrsOf(path: string): Promise<Map<string, string>> {
  const ops = openSpecialFileOps();
  try {
    const all = await ops.getxattrs([path]);
    return new Map(
      [...(all.get(path) ?? new Map<string, Buffer>())].map(([k, v]) => [k, v.toString('latin1')]),
    );
  } finally {
    await ops.close();
  }
}

function assertInvalid(pattern: RegExp): (err: unknown) => boolean {
  return (err) => {
    assert.equal(errorKind(err), 'invalid-parameter', String(err));
    assert.match(String(err), pattern);
    return true;
  };
}

describe('storage/tar-extract', () => {
  let root = '';
  let n = 0;
  /** A fresh layer dir three levels below root, so `../..` escapes stay observable. */
  const layerDir = async (): Promise<string> => {
    const d = join(root, `case-${n++}`, 'p', 'q', 'layer');
    await mkdir(d, { recursive: true });
    return d;
  };
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-extract-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('cleans entry names', () => {
    assert.equal(cleanLayerPath('./a/b/', 'x'), 'a/b');
    assert.equal(cleanLayerPath('/etc/passwd', 'x'), 'etc/passwd');
    assert.equal(cleanLayerPath('a/../b', 'x'), 'b');
    assert.equal(cleanLayerPath('//a//b', 'x'), 'a/b');
    assert.equal(cleanLayerPath('./', 'x'), '');
    for (const bad of ['..', '../a', 'a/../../b', '/../a']) {
      assert.throws(() => cleanLayerPath(bad, `entry ${bad}`), assertInvalid(/escapes the layer directory/));
    }
  });

  it('keeps types, ownership, modes, mtimes and xattrs', async () => {
    const dir = await layerDir();
    const tar = await tarOf([
      { name: 'bin/', type: 'directory', mode: 0o755, mtime: new Date(1_500_000_000_000) },
      { name: 'bin/su', mode: 0o4755, uid: 0, gid: 0, body: 'setuid' },
      { name: 'bin/sg', mode: 0o2711, uid: 1000, gid: 50, body: 'setgid' },
      { name: 'tmp/', type: 'directory', mode: 0o1777, uid: 0, gid: 0 },
      {
        name: 'home/u/file',
        mode: 0o640,
        uid: 1234,
        gid: 5678,
        mtime: new Date(1_234_567_890_000),
        body: 'owned',
        pax: { 'SCHILY.xattr.user.test': 'xattr-value' },
      },
      {
        name: 'home/u/',
        type: 'directory',
        mode: 0o700,
        uid: 1234,
        gid: 5678,
        mtime: new Date(1_111_111_111_000),
      },
      { name: 'secret', mode: 0o400, body: 'nobody reads me' },
      { name: 'lib/abs', type: 'symlink', linkname: '/etc/passwd', uid: 7, gid: 8 },
      { name: 'lib/rel', type: 'symlink', linkname: '../../../../outside' },
      { name: 'bin/su-link', type: 'link', linkname: 'bin/su' },
      { name: 'dev/fifo', type: 'fifo', mode: 0o620 },
      { name: 'dev/null', type: 'character-device', mode: 0o666, devmajor: 1, devminor: 3 },
      { name: 'dev/loop0', type: 'block-device', mode: 0o660, devmajor: 7, devminor: 0, gid: 6 },
    ]);
    const { size, warnings } = await extract(tar, dir);
    assert.equal(size, 'setuid'.length + 'setgid'.length + 'owned'.length + 'nobody reads me'.length);
    assert.deepEqual(warnings, []);

    const su = await lstat(join(dir, 'bin/su'));
    assert.equal(su.mode & 0o7777, 0o4755);
    assert.equal((await lstat(join(dir, 'bin/sg'))).mode & 0o7777, 0o2711);
    assert.equal((await lstat(join(dir, 'tmp'))).mode & 0o7777, 0o1777);
    assert.equal((await lstat(join(dir, 'secret'))).mode & 0o7777, 0o400);

    const f = await lstat(join(dir, 'home/u/file'));
    assert.equal(f.uid, 1234);
    assert.equal(f.gid, 5678);
    assert.equal(f.mode & 0o7777, 0o640);
    assert.equal(f.mtimeMs, 1_234_567_890_000);
    assert.equal(await readFile(join(dir, 'home/u/file'), 'utf8'), 'owned');
    assert.equal((await xattrsOf(join(dir, 'home/u/file'))).get('user.test'), 'xattr-value');

    // Directory times are applied after their contents were written.
    assert.equal((await lstat(join(dir, 'bin'))).mtimeMs, 1_500_000_000_000);
    const home = await lstat(join(dir, 'home/u'));
    assert.equal(home.mtimeMs, 1_111_111_111_000);
    assert.equal(home.mode & 0o7777, 0o700);
    assert.equal(home.uid, 1234);
    // An implied parent: root-owned 0755.
    assert.equal((await lstat(join(dir, 'home'))).mode & 0o7777, 0o755);

    assert.equal(await readlink(join(dir, 'lib/abs')), '/etc/passwd');
    assert.equal(await readlink(join(dir, 'lib/rel')), '../../../../outside');
    const link = await lstat(join(dir, 'lib/abs'));
    assert.equal(link.uid, 7);
    assert.equal(link.gid, 8);
    assert.equal((await lstat(join(dir, 'bin/su-link'))).ino, su.ino);

    const fifo = await lstat(join(dir, 'dev/fifo'));
    assert.ok(fifo.isFIFO());
    assert.equal(fifo.mode & 0o7777, 0o620);
    const nul = await lstat(join(dir, 'dev/null'));
    assert.ok(nul.isCharacterDevice());
    assert.equal(nul.rdev, (1 << 8) | 3);
    assert.equal(nul.mode & 0o7777, 0o666);
    const loop = await lstat(join(dir, 'dev/loop0'));
    assert.ok(loop.isBlockDevice());
    assert.equal(loop.rdev, 7 << 8);
    assert.equal(loop.gid, 6);
  });

  it('converts AUFS whiteouts to overlayfs form', async () => {
    const dir = await layerDir();
    const tar = await tarOf([
      { name: 'etc/', type: 'directory', mode: 0o755 },
      { name: 'etc/.wh.removed', body: '', uid: 3, gid: 4 },
      { name: 'opaque/', type: 'directory', mode: 0o755 },
      { name: 'opaque/.wh..wh..opq', body: '' },
      { name: 'opaque/new', body: 'new' },
      { name: 'implied/.wh..wh..opq', body: '' },
      { name: '.wh..wh.plnk/123', body: 'aufs hardlink store' },
      { name: '.wh.top', body: '' },
    ]);
    await extract(tar, dir);
    const wh = await lstat(join(dir, 'etc/removed'));
    assert.ok(wh.isCharacterDevice());
    assert.equal(wh.rdev, 0);
    assert.equal(wh.uid, 3);
    assert.equal(wh.gid, 4);
    assert.ok((await lstat(join(dir, 'top'))).isCharacterDevice());
    assert.equal((await xattrsOf(join(dir, 'opaque'))).get('trusted.overlay.opaque'), 'y');
    assert.equal((await xattrsOf(join(dir, 'implied'))).get('trusted.overlay.opaque'), 'y');
    assert.deepEqual((await readdir(dir)).sort(), ['etc', 'implied', 'opaque', 'top']);
    assert.deepEqual(await readdir(join(dir, 'etc')), ['removed']);
  });

  it('whiteouts and opaque dirs hide lower layers in a real overlay mount', async () => {
    const bottom = await layerDir();
    const top = await layerDir();
    const merged = await layerDir();
    await extract(
      await tarOf([
        { name: 'keep', body: 'kept' },
        { name: 'gone', body: 'should be hidden' },
        { name: 'dir/', type: 'directory' },
        { name: 'dir/lower-only', body: 'hidden by opaque' },
        { name: 'dir/also-lower', body: 'hidden by opaque' },
        { name: 'gonedir/', type: 'directory' },
        { name: 'gonedir/file', body: 'x' },
      ]),
      bottom,
    );
    await extract(
      await tarOf([
        { name: '.wh.gone', body: '' },
        { name: '.wh.gonedir', body: '' },
        { name: 'dir/', type: 'directory' },
        { name: 'dir/.wh..wh..opq', body: '' },
        { name: 'dir/upper', body: 'upper' },
      ]),
      top,
    );
    await execFileAsync('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${top}:${bottom}`, merged]);
    try {
      assert.deepEqual((await readdir(merged)).sort(), ['dir', 'keep']);
      assert.deepEqual(await readdir(join(merged, 'dir')), ['upper']);
      assert.equal(await readFile(join(merged, 'keep'), 'utf8'), 'kept');
      assert.equal(await readFile(join(merged, 'dir/upper'), 'utf8'), 'upper');
    } finally {
      await execFileAsync('umount', [merged]);
    }
  });

  describe('malicious layers', () => {
    it('refuses ../ traversal', async () => {
      const dir = await layerDir();
      const tar = await tarOf([{ name: '../../etc/evil', body: 'pwned' }]);
      await assert.rejects(extract(tar, dir), assertInvalid(/"\.\.\/\.\.\/etc\/evil".*escapes the layer/));
      assert.equal(existsSync(join(dir, '../../etc/evil')), false);
      assert.equal(existsSync('/etc/evil'), false);
      assert.deepEqual(await readdir(dir), []);
    });

    it('keeps absolute names inside the layer', async () => {
      const dir = await layerDir();
      await extract(await tarOf([{ name: '/etc/evil', body: 'contained' }]), dir);
      assert.equal(await readFile(join(dir, 'etc/evil'), 'utf8'), 'contained');
      assert.equal(existsSync('/etc/evil'), false);
    });

    it('refuses to write through a symlink to an absolute path', async () => {
      const dir = await layerDir();
      const tar = await tarOf([
        { name: 'a', type: 'symlink', linkname: '/etc' },
        { name: 'a/evil', body: 'pwned' },
      ]);
      await assert.rejects(
        extract(tar, dir),
        assertInvalid(/entry "a\/evil": parent "a" is a symlink; refusing to extract through it/),
      );
      assert.equal(existsSync('/etc/evil'), false);
      assert.equal(await readlink(join(dir, 'a')), '/etc');
    });

    it('refuses to write through a symlink climbing out', async () => {
      const dir = await layerDir();
      const tar = await tarOf([
        { name: 'a', type: 'symlink', linkname: '../../..' },
        { name: 'a/x', body: 'pwned' },
      ]);
      await assert.rejects(extract(tar, dir), assertInvalid(/entry "a\/x": parent "a" is a symlink/));
      assert.equal(existsSync(join(dir, '../../../x')), false);
    });

    it('refuses symlink chains, also as whiteout or opaque parents', async () => {
      const dir = await layerDir();
      const chain: TestEntry[] = [
        { name: 'c', type: 'symlink', linkname: '/' },
        { name: 'b', type: 'symlink', linkname: 'c' },
        { name: 'a', type: 'symlink', linkname: 'b' },
      ];
      await assert.rejects(
        extract(await tarOf([...chain, { name: 'a/etc/evil', body: 'x' }]), dir),
        assertInvalid(/parent "a" is a symlink/),
      );
      await assert.rejects(
        extract(await tarOf([...chain, { name: 'a/etc/.wh.passwd', body: '' }]), await layerDir()),
        assertInvalid(/parent "a" is a symlink/),
      );
      await assert.rejects(
        extract(await tarOf([...chain, { name: 'b/.wh..wh..opq', body: '' }]), await layerDir()),
        assertInvalid(/parent "b" is a symlink/),
      );
      assert.equal(existsSync('/etc/evil'), false);
      assert.ok((await lstat('/etc/passwd')).isFile());
    });

    it('refuses a symlink nested below a real directory', async () => {
      const dir = await layerDir();
      const tar = await tarOf([
        { name: 'usr/', type: 'directory' },
        { name: 'usr/lib', type: 'symlink', linkname: '/tmp' },
        { name: 'usr/lib/evil', body: 'x' },
      ]);
      await assert.rejects(extract(tar, dir), assertInvalid(/parent "usr\/lib" is a symlink/));
    });

    it('refuses hardlinks out of the layer', async () => {
      const dir = await layerDir();
      await assert.rejects(
        extract(await tarOf([{ name: 'passwd', type: 'link', linkname: '../../etc/passwd' }]), dir),
        assertInvalid(/hardlink target "\.\.\/\.\.\/etc\/passwd".*escapes the layer/),
      );
      assert.deepEqual(await readdir(dir), []);
    });

    it('resolves absolute hardlink targets inside the layer, never on the host', async () => {
      const dir = await layerDir();
      await assert.rejects(
        extract(await tarOf([{ name: 'passwd', type: 'link', linkname: '/etc/passwd' }]), dir),
        assertInvalid(/hardlink target "\/etc\/passwd": parent "etc" does not exist/),
      );
      const dir2 = await layerDir();
      await extract(
        await tarOf([
          { name: 'etc/passwd', body: 'layer passwd' },
          { name: 'copy', type: 'link', linkname: '/etc/passwd' },
        ]),
        dir2,
      );
      await assert.rejects(
        extract(
          await tarOf([
            { name: 'etc/', type: 'directory' },
            { name: 'p', type: 'link', linkname: '/etc/passwd' },
          ]),
          await layerDir(),
        ),
        assertInvalid(/hardlink target "\/etc\/passwd": no such file in the layer/),
      );
      const copy = await lstat(join(dir2, 'copy'));
      assert.equal(copy.ino, (await lstat(join(dir2, 'etc/passwd'))).ino);
      assert.notEqual(copy.ino, (await lstat('/etc/passwd')).ino);
    });

    it('refuses hardlinks through a symlinked directory', async () => {
      const dir = await layerDir();
      const tar = await tarOf([
        { name: 'hostetc', type: 'symlink', linkname: '/etc' },
        { name: 'stolen', type: 'link', linkname: 'hostetc/passwd' },
      ]);
      await assert.rejects(extract(tar, dir), assertInvalid(/parent "hostetc" is a symlink/));
      assert.equal(existsSync(join(dir, 'stolen')), false);
    });

    it('a hardlink to a symlink links the symlink itself', async () => {
      const dir = await layerDir();
      await extract(
        await tarOf([
          { name: 'sym', type: 'symlink', linkname: '/etc/shadow' },
          { name: 'hard', type: 'link', linkname: 'sym' },
        ]),
        dir,
      );
      const hard = await lstat(join(dir, 'hard'));
      assert.ok(hard.isSymbolicLink());
      assert.equal(await readlink(join(dir, 'hard')), '/etc/shadow');
    });

    it('handles long paths and link targets (PAX)', async () => {
      const dir = await layerDir();
      const parts = Array.from(
        { length: 30 },
        (_, i) => `component-${String(i).padStart(2, '0')}-${'x'.repeat(30)}`,
      );
      const long = parts.join('/');
      assert.ok(long.length > 1000);
      await extract(
        await tarOf([
          { name: `${long}/file`, body: 'deep' },
          { name: 'short-link', type: 'symlink', linkname: `/${long}/file` },
          { name: `${long}/hard`, type: 'link', linkname: `${long}/file` },
        ]),
        dir,
      );
      assert.equal(await readFile(join(dir, long, 'file'), 'utf8'), 'deep');
      assert.equal(await readlink(join(dir, 'short-link')), `/${long}/file`);
      assert.equal((await lstat(join(dir, long, 'hard'))).nlink, 2);
    });

    it('reports a name component over NAME_MAX as an invalid layer', async () => {
      const dir = await layerDir();
      await assert.rejects(
        extract(await tarOf([{ name: `${'n'.repeat(300)}/f`, body: 'x' }]), dir),
        assertInvalid(/ENAMETOOLONG/),
      );
    });

    it('drops trusted.overlay xattrs carried in the tar', async () => {
      const dir = await layerDir();
      const { warnings } = await extract(
        await tarOf([
          {
            name: 'd/',
            type: 'directory',
            pax: { 'SCHILY.xattr.trusted.overlay.redirect': '/elsewhere', 'SCHILY.xattr.user.ok': '1' },
          },
        ]),
        dir,
      );
      const x = await xattrsOf(join(dir, 'd'));
      assert.equal(x.get('trusted.overlay.redirect'), undefined);
      assert.equal(x.get('user.ok'), '1');
      assert.match(warnings.join('\n'), /dropped overlay xattr trusted\.overlay\.redirect/);
    });

    it('rejects input that is not a tar, and truncated tars', async () => {
      await assert.rejects(
        extract(Buffer.alloc(1024, 0x41), await layerDir()),
        assertInvalid(/checksum mismatch/),
      );
      const tar = await tarOf([{ name: 'big', body: Buffer.alloc(5000, 1) }]);
      await assert.rejects(extract(tar.subarray(0, 2048), await layerDir()), assertInvalid(/unexpected end/));
    });
  });

  it('a later entry replaces an earlier one; directories merge', async () => {
    const dir = await layerDir();
    await extract(
      await tarOf([
        { name: 'x', body: 'file first' },
        { name: 'x/', type: 'directory', mode: 0o750 },
        { name: 'x/inner', body: 'inner' },
        { name: 'd/', type: 'directory', mode: 0o700 },
        { name: 'd/keep', body: 'kept' },
        { name: 'd/', type: 'directory', mode: 0o755, uid: 9 },
        { name: 'y/', type: 'directory' },
        { name: 'y/sub', body: 'gone' },
        { name: 'y', type: 'symlink', linkname: '/nowhere' },
        { name: 'z', type: 'symlink', linkname: 'old' },
        { name: 'z', body: 'now a file' },
        { name: 'w', body: 'v1' },
        { name: 'w', body: 'v2' },
        { name: 'x/.wh.inner', body: '' },
      ]),
      dir,
    );
    const x = await lstat(join(dir, 'x'));
    assert.ok(x.isDirectory());
    assert.equal(x.mode & 0o777, 0o750);
    assert.ok((await lstat(join(dir, 'x/inner'))).isCharacterDevice());
    assert.equal(await readFile(join(dir, 'd/keep'), 'utf8'), 'kept');
    const d = await lstat(join(dir, 'd'));
    assert.equal(d.mode & 0o777, 0o755);
    assert.equal(d.uid, 9);
    assert.equal(await readlink(join(dir, 'y')), '/nowhere');
    assert.equal(await readFile(join(dir, 'z'), 'utf8'), 'now a file');
    assert.equal(await readFile(join(dir, 'w'), 'utf8'), 'v2');
  });

  it('keeps binary xattr values byte for byte', async () => {
    const dir = await layerDir();
    // security.capability v2 for cap_setuid+ep: bytes >= 0x80 are not valid UTF-8 on their own.
    const cap = Buffer.from('0100000280000000000000000000000000000000', 'hex');
    const tar = Buffer.concat([
      encodeTarHeader({
        name: 'bin/ping',
        type: 'file',
        mode: 0o755,
        uid: 0,
        gid: 0,
        size: 4,
        mtime: 1_600_000_000,
        xattrs: new Map([
          ['security.capability', cap],
          ['user.bin', Buffer.from([0xff, 0x00, 0xfe])],
        ]),
      }),
      Buffer.from('ping'),
      Buffer.alloc(508),
      encodeTarHeader({ name: 'etc/shadow', type: 'file', mode: 0, uid: 0, gid: 42, size: 0, mtime: 1 }),
      TAR_END,
    ]);
    await extract(tar, dir);
    const x = await xattrsOf(join(dir, 'bin/ping'));
    assert.equal(x.get('security.capability'), cap.toString('latin1'));
    assert.equal(x.get('user.bin'), Buffer.from([0xff, 0x00, 0xfe]).toString('latin1'));
    const shadow = await lstat(join(dir, 'etc/shadow'));
    assert.equal(shadow.mode & 0o7777, 0, 'mode 0 stays 0');
    assert.equal(shadow.gid, 42);
  });

  it('reads the input to its end, past the end-of-archive blocks', async () => {
    const tar = Buffer.concat([await tarOf([{ name: 'f', body: 'x' }]), Buffer.alloc(8192)]);
    let consumed = 0;
    function* source(): Generator<Buffer> {
      for (let i = 0; i < tar.length; i += 512) {
        consumed += 512;
        yield tar.subarray(i, i + 512);
      }
    }
    await extractLayer(Readable.from(source()), await layerDir());
    assert.equal(consumed, tar.length);
  });

  it('readTarEntries skips unread bodies', async () => {
    const tar = await tarOf([
      { name: 'a', body: 'aaa' },
      { name: `${'long/'.repeat(40)}b`, body: 'bbb' },
      { name: 'c', body: 'ccc' },
    ]);
    const seen: string[] = [];
    for await (const m of readTarEntries(Readable.from([tar]))) {
      seen.push(m.entry.name);
      if (m.entry.name === 'c') {
        const parts: Buffer[] = [];
        for await (const c of m.body()) parts.push(c);
        assert.equal(Buffer.concat(parts).toString(), 'ccc');
      }
    }
    assert.deepEqual(seen, ['a', `${'long/'.repeat(40)}b`, 'c']);
  });

  for (const format of ['gnu', 'posix'] as const) {
    it(`extracts what GNU tar --format=${format} writes (long names, xattrs, hardlinks)`, async () => {
      const src = join(root, `gnutar-${format}`);
      const long = `${'d'.repeat(90)}/${'e'.repeat(90)}/${'f'.repeat(90)}`;
      await mkdir(join(src, long), { recursive: true });
      await writeFile(join(src, long, 'file'), 'gnu');
      await execFileAsync('ln', [join(src, long, 'file'), join(src, 'hard')]);
      await execFileAsync('ln', ['-s', `${long}/file`, join(src, 'sym')]);
      const ops = openSpecialFileOps();
      await ops.setxattr(join(src, 'hard'), 'user.gnu', Buffer.from('tar'));
      await ops.close();
      const { stdout } = await execFileAsync(
        'tar',
        [`--format=${format}`, '--xattrs', '--xattrs-include=user.*', '-cf', '-', '-C', src, '.'],
        { encoding: 'buffer', maxBuffer: 1 << 24 },
      );
      const dir = await layerDir();
      await extract(stdout, dir);
      assert.equal(await readFile(join(dir, long, 'file'), 'utf8'), 'gnu');
      assert.equal((await lstat(join(dir, 'hard'))).ino, (await lstat(join(dir, long, 'file'))).ino);
      assert.equal(await readlink(join(dir, 'sym')), `${long}/file`);
      if (format === 'posix') assert.equal((await xattrsOf(join(dir, 'hard'))).get('user.gnu'), 'tar');
    });
  }

  it('the CLI fallback creates whiteouts, fifos and devices', async () => {
    const dir = await layerDir();
    const ops = openSpecialFileOps({ implementation: 'cli' });
    try {
      await extract(
        await tarOf([
          { name: '.wh.gone', body: '' },
          { name: 'p', type: 'fifo', mode: 0o600 },
          { name: 'zero', type: 'character-device', devmajor: 1, devminor: 5, mode: 0o666 },
        ]),
        dir,
        ops,
      );
    } finally {
      await ops.close();
    }
    const gone = await lstat(join(dir, 'gone'));
    assert.ok(gone.isCharacterDevice());
    assert.equal(gone.rdev, 0);
    assert.ok((await lstat(join(dir, 'p'))).isFIFO());
    assert.equal((await lstat(join(dir, 'zero'))).rdev, (1 << 8) | 5);
  });

  it('parses getfattr dumps', () => {
    const dump = [
      '# file: /l/a\\040b',
      'trusted.overlay.opaque=0seQ==',
      'user.test=0sdmFsdWU=',
      '',
      '# file: /l/none',
      '',
      '# file: /l/c\\\\d',
      'user.hex=0xff00',
      '',
    ].join('\n');
    const m = parseGetfattrDump(dump);
    assert.deepEqual([...m.keys()], ['/l/a b', '/l/c\\d']);
    assert.equal(m.get('/l/a b')?.get('trusted.overlay.opaque')?.toString(), 'y');
    assert.equal(m.get('/l/a b')?.get('user.test')?.toString(), 'value');
    assert.deepEqual(m.get('/l/c\\d')?.get('user.hex'), Buffer.from([0xff, 0]));
  });

  it('the special-file helper reports errno codes and the failing op', async () => {
    const ops = openSpecialFileOps();
    const dir = await layerDir();
    const node = (rel: string): SpecialOp => ({
      op: 'mknod',
      rel,
      kind: 'char',
      mode: 0o600,
      major: 0,
      minor: 0,
      uid: 0,
      gid: 0,
    });
    try {
      await writeFile(join(dir, 'exists'), '');
      await assert.rejects(ops.apply(dir, [node('a'), node('exists'), node('b')]), (err) => {
        assert.ok(err instanceof HelperOsError);
        assert.equal(err.code, 'EEXIST');
        assert.equal(err.index, 1);
        assert.equal(err.path, join(dir, 'exists'));
        return true;
      });
      assert.ok(existsSync(join(dir, 'a')));
      assert.equal(existsSync(join(dir, 'b')), false, 'ops after the failure are not applied');
      await assert.rejects(ops.setxattr(join(dir, 'missing'), 'user.x', Buffer.from('1')), {
        code: 'ENOENT',
      });
      assert.deepEqual(await ops.getxattrs([join(dir, 'missing')]), new Map());

      // Best-effort xattrs are reported, not fatal (user.* is not allowed on symlinks).
      await symlink('target', join(dir, 'sym'));
      const skipped = await ops.apply(dir, [
        { op: 'setxattr', rel: 'sym', name: 'user.x', value: Buffer.from('1'), bestEffort: true },
        { op: 'setxattr', rel: 'exists', name: 'user.x', value: Buffer.from('1'), bestEffort: true },
      ]);
      assert.deepEqual(skipped, [{ index: 0, code: 'EPERM' }]);
      assert.equal((await xattrsOf(join(dir, 'exists'))).get('user.x'), '1');
    } finally {
      await ops.close();
    }
    await assert.rejects(ops.apply(dir, [node('later')]), /closed/);
  });

  it('the helper itself never follows a symlink on the way to its target', async () => {
    // open(O_DIRECTORY|O_NOFOLLOW) on a symlink fails with ENOTDIR or ELOOP.
    const refusedLink = (err: unknown): boolean =>
      ['ELOOP', 'ENOTDIR'].includes(String((err as { code?: unknown }).code));
    const dir = await layerDir();
    const outside = await layerDir();
    await symlink(outside, join(dir, 'link'));
    const ops = openSpecialFileOps();
    try {
      await assert.rejects(
        ops.apply(dir, [
          { op: 'mknod', rel: 'link/evil', kind: 'fifo', mode: 0o600, major: 0, minor: 0, uid: 0, gid: 0 },
        ]),
        refusedLink,
      );
      await assert.rejects(
        ops.apply(dir, [{ op: 'setxattr', rel: 'link/x', name: 'user.x', value: Buffer.from('1') }]),
        refusedLink,
      );
    } finally {
      await ops.close();
    }
    assert.deepEqual(await readdir(outside), []);
  });

  it('reports xattrs the filesystem refuses as warnings', async () => {
    const dir = await layerDir();
    const { warnings } = await extract(
      await tarOf([{ name: 'l', type: 'symlink', linkname: 't', pax: { 'SCHILY.xattr.user.no': '1' } }]),
      dir,
    );
    assert.deepEqual(warnings, ['l: xattr user.no not set: EPERM']);
  });

  it('applies queued whiteouts before a hardlink needs them, and a later entry wins over a queued one', async () => {
    const dir = await layerDir();
    await extract(
      await tarOf([
        { name: 'dev/', type: 'directory' },
        { name: 'dev/tty0', type: 'character-device', devmajor: 4, devminor: 0, mode: 0o620 },
        { name: 'dev/tty-alias', type: 'link', linkname: 'dev/tty0' },
        { name: '.wh.x', body: '' },
        { name: 'x', body: 'file wins' },
        { name: 'y', body: 'file first' },
        { name: '.wh.y', body: '' },
      ]),
      dir,
    );
    await assert.rejects(
      extract(
        await tarOf([
          { name: 'p', type: 'fifo' },
          { name: 'p/child', body: 'x' },
        ]),
        await layerDir(),
      ),
      assertInvalid(/entry "p\/child": parent "p" is not a directory/),
    );
    assert.equal((await lstat(join(dir, 'dev/tty-alias'))).ino, (await lstat(join(dir, 'dev/tty0'))).ino);
    assert.equal((await lstat(join(dir, 'dev/tty0'))).mode & 0o7777, 0o620);
    assert.equal(await readFile(join(dir, 'x'), 'utf8'), 'file wins');
    assert.ok((await lstat(join(dir, 'y'))).isCharacterDevice());
  });
});
