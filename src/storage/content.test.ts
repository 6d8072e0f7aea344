import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { errorKind } from '../errors.js';
import { LocalContentStore, type ContentStore } from './content.js';
import { sha256Digest } from './digest.js';

async function collect(r: Readable): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of r) out.push(c as Buffer);
  return Buffer.concat(out);
}

async function blobNames(root: string): Promise<string[]> {
  return readdir(join(root, 'blobs', 'sha256'));
}

/**
 * The ContentStore contract, runnable against any implementation: `make`
 * returns a fresh, empty store.
 */
function contentStoreContract(name: string, make: () => Promise<ContentStore>): void {
  describe(`ContentStore contract: ${name}`, () => {
    it('put, has, info, readBytes, readStream, list, delete', async () => {
      const s = await make();
      const data = Buffer.from('hello content');
      const digest = sha256Digest(data);
      assert.equal(await s.has(digest), false);
      assert.equal(await s.info(digest), undefined);
      assert.deepEqual(await s.put(data), { digest, size: data.length });
      assert.deepEqual(await s.put(data, digest), { digest, size: data.length }, 'idempotent');
      assert.equal(await s.has(digest), true);
      assert.deepEqual(await s.info(digest), { digest, size: data.length });
      assert.deepEqual(await s.readBytes(digest), data);
      assert.equal((await collect(await s.readStream(digest))).toString(), 'hello content');
      assert.equal((await collect(await s.readStream(digest, 6))).toString(), 'content');
      assert.deepEqual(await s.list(), [{ digest, size: data.length }]);
      assert.equal(await s.delete(digest), true);
      assert.equal(await s.delete(digest), false);
      assert.equal(await s.has(digest), false);
      assert.deepEqual(await s.list(), []);
    });

    it('rejects bad digests and missing blobs with typed errors', async () => {
      const s = await make();
      await assert.rejects(
        s.put(Buffer.from('x'), sha256Digest('y')),
        (e) => errorKind(e) === 'invalid-parameter',
      );
      await assert.rejects(s.has('sha256:nothex'), (e) => errorKind(e) === 'invalid-parameter');
      assert.throws(
        () => s.path('md5:abc'),
        (e) => errorKind(e) === 'invalid-parameter',
      );
      const missing = sha256Digest('missing');
      await assert.rejects(s.readBytes(missing), (e) => errorKind(e) === 'not-found');
      await assert.rejects(s.readStream(missing), (e) => errorKind(e) === 'not-found');
    });

    it('writer → commit verifies digest and size', async () => {
      const s = await make();
      const data = Buffer.from('0123456789'.repeat(1000));
      const digest = sha256Digest(data);
      const w = await s.writer('ok', { digest, size: data.length });
      assert.equal(w.offset, 0);
      await w.write(data.subarray(0, 4000));
      await w.write(data.subarray(4000));
      assert.equal(w.offset, data.length);
      assert.equal(w.digest(), digest);
      assert.deepEqual(await w.commit(), { digest, size: data.length });
      assert.deepEqual(await s.readBytes(digest), data);
      assert.deepEqual(await s.ingests(), []);
    });

    it('a digest mismatch throws and discards the ingest', async () => {
      const s = await make();
      const w = await s.writer('bad-digest');
      await w.write(Buffer.from('actual'));
      await assert.rejects(w.commit(sha256Digest('expected'), 6), (e) => {
        assert.equal(errorKind(e), 'invalid-parameter');
        assert.match(String(e), /unexpected digest/);
        return true;
      });
      assert.deepEqual(await s.list(), []);
      assert.deepEqual(await s.ingests(), []);
      assert.equal(await s.resumeOffset('bad-digest'), 0);
    });

    it('a size mismatch throws and discards the ingest', async () => {
      const s = await make();
      const w = await s.writer('bad-size');
      await w.write(Buffer.from('abc'));
      await assert.rejects(w.commit(sha256Digest('abc'), 4), /unexpected size 3, expected 4/);
      assert.deepEqual(await s.list(), []);
      assert.deepEqual(await s.ingests(), []);
    });

    it('writing past the expected size fails early', async () => {
      const s = await make();
      const w = await s.writer('too-big', { digest: sha256Digest('abc'), size: 3 });
      await w.write(Buffer.from('ab'));
      await assert.rejects(w.write(Buffer.from('cd')), /more than the expected 3/);
      assert.deepEqual(await s.ingests(), []);
      const again = await s.writer('too-big');
      assert.equal(again.offset, 0, 'the ref is free again');
      await again.abort();
    });

    it('a stream of many small chunks is written in batches, in order, and verified', async () => {
      const s = await make();
      const chunks = Array.from({ length: 2000 }, (_, i) => Buffer.from(`chunk ${i};`));
      const data = Buffer.concat(chunks);
      const w = await s.writer('many', { digest: sha256Digest(data), size: data.length });
      await pipeline(Readable.from(chunks), w.stream());
      assert.equal(w.offset, data.length);
      const info = await w.commit();
      assert.ok((await s.readBytes(info.digest)).equals(data));

      const over = await s.writer('many-over', { digest: sha256Digest('x'), size: 100 });
      await assert.rejects(pipeline(Readable.from(chunks), over.stream()), /more than the expected 100/);
    });

    it('one writer per ref', async () => {
      const s = await make();
      const w = await s.writer('locked');
      await assert.rejects(s.writer('locked'), (e) => errorKind(e) === 'unavailable');
      await w.close();
      const w2 = await s.writer('locked');
      await w2.abort();
    });

    it('resumes an interrupted ingest', async () => {
      const s = await make();
      const data = Buffer.from('resumable '.repeat(5000));
      const digest = sha256Digest(data);
      const w = await s.writer('layer-1', { digest, size: data.length });
      await w.write(data.subarray(0, 12345));
      await w.close();
      assert.equal(await s.resumeOffset('layer-1'), 12345);
      assert.deepEqual(await s.list(), [], 'nothing visible before commit');
      const [status] = await s.ingests();
      assert.equal(status?.ref, 'layer-1');
      assert.equal(status?.offset, 12345);
      assert.deepEqual(status?.expected, { digest, size: data.length });

      const w2 = await s.writer('layer-1', { digest, size: data.length });
      assert.equal(w2.offset, 12345);
      await pipeline(Readable.from([data.subarray(12345)]), w2.stream());
      assert.deepEqual(await w2.commit(digest, data.length), { digest, size: data.length });
      assert.deepEqual(await s.readBytes(digest), data);
    });

    it('restarts an ingest opened for different content', async () => {
      const s = await make();
      const w = await s.writer('ref', { digest: sha256Digest('one'), size: 3 });
      await w.write(Buffer.from('on'));
      await w.close();
      const w2 = await s.writer('ref', { digest: sha256Digest('two'), size: 3 });
      assert.equal(w2.offset, 0);
      await w2.write(Buffer.from('two'));
      await w2.commit();
      assert.equal(await s.has(sha256Digest('two')), true);
    });

    it('reset starts over', async () => {
      const s = await make();
      const w = await s.writer('reset');
      await w.write(Buffer.from('garbage'));
      await w.reset();
      assert.equal(w.offset, 0);
      await w.write(Buffer.from('good'));
      assert.deepEqual(await w.commit(sha256Digest('good')), { digest: sha256Digest('good'), size: 4 });
    });

    it('commit of content that already exists succeeds', async () => {
      const s = await make();
      const info = await s.put(Buffer.from('dup'));
      const w = await s.writer('dup-2');
      await w.write(Buffer.from('dup'));
      assert.deepEqual(await w.commit(info.digest, 3), info);
      assert.deepEqual(await s.ingests(), []);
      assert.deepEqual(await s.list(), [info]);
    });

    it('a failed pipeline closes the writer and keeps the data; abort removes it', async () => {
      const s = await make();
      const w = await s.writer('broken-download');
      async function* source(): AsyncGenerator<Buffer> {
        yield Buffer.from('partial');
        await new Promise((r) => setTimeout(r, 10));
        throw new Error('connection reset');
      }
      await assert.rejects(pipeline(source(), w.stream()), /connection reset/);
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(await s.resumeOffset('broken-download'), 7);
      const w2 = await s.writer('broken-download');
      assert.equal(w2.offset, 7);
      await w2.close();
      await w.abort();
      assert.equal(await s.resumeOffset('broken-download'), 0);
    });

    it('methods after commit are refused', async () => {
      const s = await make();
      const w = await s.writer('done');
      await w.write(Buffer.from('x'));
      await w.commit();
      await assert.rejects(w.write(Buffer.from('y')), (e) => errorKind(e) === 'conflict');
      await assert.rejects(w.commit(), (e) => errorKind(e) === 'conflict');
    });
  });
}

describe('storage/content', () => {
  let root = '';
  let n = 0;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-content-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  contentStoreContract('LocalContentStore', () => LocalContentStore.open(join(root, `contract-${n++}`)));

  it('stores blobs read-only at blobs/sha256/<hex>', async () => {
    const dir = join(root, 'layout');
    const s = await LocalContentStore.open(dir);
    const info = await s.put(Buffer.from('layout'));
    assert.equal(s.path(info.digest), join(dir, 'blobs', 'sha256', info.digest.slice(7)));
    assert.equal((await stat(s.path(info.digest))).mode & 0o777, 0o444);
  });

  it('cleanupIngests removes only stale, unopened ingests; open() removes old ones', async () => {
    const dir = join(root, 'cleanup');
    const s = await LocalContentStore.open(dir);
    const stale = await s.writer('stale');
    await stale.write(Buffer.from('old'));
    await stale.close();
    const open = await s.writer('open');
    await open.write(Buffer.from('busy'));
    const fresh = await s.writer('fresh');
    await fresh.write(Buffer.from('new'));
    await fresh.close();
    const old = new Date(Date.now() - 3 * 3600 * 1000);
    for (const ref of ['stale', 'open']) await utimes(join(s.ingestDir(ref), 'data'), old, old);

    assert.deepEqual(await s.cleanupIngests(3600 * 1000), ['stale']);
    assert.deepEqual((await s.ingests()).map((i) => i.ref).sort(), ['fresh', 'open']);
    await open.close();

    const reopened = await LocalContentStore.open(dir, { staleIngestMs: 3600 * 1000 });
    assert.deepEqual(
      (await reopened.ingests()).map((i) => i.ref),
      ['fresh'],
    );
  });

  it('a process killed mid-ingest leaves nothing in blobs/, and the ingest resumes', async () => {
    const dir = join(root, 'killed');
    const moduleUrl = new URL('./content.js', import.meta.url).href;
    const chunk = 'k'.repeat(64 * 1024);
    const script = `
      import { LocalContentStore } from ${JSON.stringify(moduleUrl)};
      const store = await LocalContentStore.open(${JSON.stringify(dir)});
      const w = await store.writer('victim');
      for (let i = 0; i < 16; i++) await w.write(Buffer.from(${JSON.stringify(chunk)}));
      process.stdout.write('written\\n');
      setInterval(() => w.write(Buffer.from('k')), 1);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          if (d.toString().includes('written')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
      });
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('close', r));
    }
    assert.equal(child.signalCode, 'SIGKILL');
    assert.deepEqual(await blobNames(dir), []);

    const s = await LocalContentStore.open(dir);
    const offset = await s.resumeOffset('victim');
    assert.ok(offset >= 16 * chunk.length, `offset ${offset}`);
    const w = await s.writer('victim');
    assert.equal(w.offset, offset);
    const full = Buffer.from('k'.repeat(offset + 10));
    await w.write(full.subarray(offset));
    assert.deepEqual(await w.commit(sha256Digest(full), full.length), {
      digest: sha256Digest(full),
      size: full.length,
    });
    assert.deepEqual(await blobNames(dir), [sha256Digest(full).slice(7)]);
  });
});
