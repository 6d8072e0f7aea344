import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { errorKind } from '../errors.js';
import {
  OffThreadDigest,
  DigestCounter,
  DigestingStream,
  chainId,
  childChainId,
  digestHex,
  isDigestString,
  parseDigestString,
  sha256Digest,
} from './digest.js';

const EMPTY = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const A = 'sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb';
const B = 'sha256:3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d';
const C = 'sha256:2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6';

describe('storage/digest', () => {
  it('hashes bytes and strings', () => {
    assert.equal(sha256Digest(Buffer.alloc(0)), EMPTY);
    assert.equal(sha256Digest('a'), A);
    assert.equal(sha256Digest(new Uint8Array([0x62])), B);
  });

  it('parses and validates digest strings', () => {
    assert.deepEqual(parseDigestString(A), { algorithm: 'sha256', hex: A.slice(7) });
    assert.equal(digestHex(B), B.slice(7));
    assert.ok(isDigestString(C));
    for (const bad of [
      '',
      'sha256:',
      A.slice(7),
      A.toUpperCase(),
      `${A}0`,
      `sha512:${'0'.repeat(128)}`,
      `sha256:${'g'.repeat(64)}`,
      `sha256:${'0'.repeat(63)}`,
      `sha256:../${'0'.repeat(61)}`,
    ]) {
      assert.equal(isDigestString(bad), false, bad);
      assert.throws(
        () => parseDigestString(bad),
        (err) => errorKind(err) === 'invalid-parameter',
      );
    }
  });

  it('computes OCI chain IDs', () => {
    assert.deepEqual(chainId([]), []);
    assert.deepEqual(chainId([A]), [A]);
    const expected1 = 'sha256:51c0c8ace48498d6f5fee6b0592cc06f2da0f3cbe09c5a34a97dce85c3889676';
    const expected2 = 'sha256:2fce7f8ce91bcf0a1428b36e1024639fdbd9469eea762dba98aa749631885106';
    assert.deepEqual(chainId([A, B, C]), [A, expected1, expected2]);
    assert.equal(childChainId(undefined, A), A);
    assert.equal(childChainId(expected1, C), expected2);
    assert.throws(() => chainId([A, 'nope']), /invalid digest/);
  });

  it('DigestingStream passes data through while hashing and counting', async () => {
    const d = new DigestingStream();
    const out: Buffer[] = [];
    await pipeline(
      Readable.from([Buffer.from('a'), Buffer.from('bc')]),
      d,
      async (src: AsyncIterable<Buffer>) => {
        for await (const c of src) out.push(c);
      },
    );
    assert.equal(Buffer.concat(out).toString(), 'abc');
    assert.equal(d.size, 3);
    assert.equal(d.digest(), sha256Digest('abc'));
  });

  it('DigestCounter can be read mid-stream', () => {
    const c = new DigestCounter();
    c.update(Buffer.from('a'));
    assert.equal(c.digest(), A);
    c.update(Buffer.from('bc'));
    assert.equal(c.digest(), sha256Digest('abc'));
    assert.equal(c.size, 3);
  });

  it('OffThreadDigest hashes on a worker, concurrent digests kept apart, views copied exactly', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 1);
    const a = new OffThreadDigest();
    const b = new OffThreadDigest();
    a.update(big.subarray(0, 10)); // a view of a larger buffer: only its bytes count
    b.update(Buffer.from('abc'));
    a.update(big.subarray(10));
    const [da, db] = await Promise.all([a.digest(), b.digest()]);
    assert.deepEqual(da, { digest: sha256Digest(big), size: big.length });
    assert.deepEqual(db, { digest: sha256Digest('abc'), size: 3 });
    assert.equal(big[0], 1, 'the caller keeps its buffer');
    await assert.rejects(a.digest(), /already ended/);
  });

  it('OffThreadDigest stops an idle worker and its pool, and starts a new one for the next digest', async () => {
    const keep = OffThreadDigest.idleStopMs;
    OffThreadDigest.idleStopMs = 50;
    try {
      const a = new OffThreadDigest();
      a.update(Buffer.alloc(5 * 1024 * 1024, 3));
      const busy = new OffThreadDigest();
      busy.update(Buffer.from('still going'));
      assert.equal((await a.digest()).size, 5 * 1024 * 1024);
      await new Promise((resolve) => setTimeout(resolve, 150));
      assert.equal(OffThreadDigest.workerRunning, true, 'kept while a digest is still open');
      assert.deepEqual(await busy.digest(), { digest: sha256Digest('still going'), size: 11 });
      await new Promise((resolve) => setTimeout(resolve, 150));
      assert.equal(OffThreadDigest.workerRunning, false, 'stopped once idle');
      const b = new OffThreadDigest();
      b.update(Buffer.from('abc'));
      assert.deepEqual(await b.digest(), { digest: sha256Digest('abc'), size: 3 });
      const dropped = new OffThreadDigest();
      dropped.update(Buffer.from('x'));
      dropped.abandon();
      await new Promise((resolve) => setTimeout(resolve, 150));
      assert.equal(OffThreadDigest.workerRunning, false, 'an abandoned digest does not keep it');
    } finally {
      OffThreadDigest.idleStopMs = keep;
    }
  });

  it('OffThreadDigest fails a digest whose worker died midway, and the next digest works', async () => {
    const a = new OffThreadDigest();
    a.update(Buffer.alloc(3 * 1024 * 1024, 1)); // a full batch went to the worker
    const worker = (OffThreadDigest as unknown as { worker: { terminate(): Promise<number> } }).worker;
    await worker.terminate();
    await new Promise((resolve) => setImmediate(resolve)); // its exit event
    a.update(Buffer.from('more'));
    await assert.rejects(a.digest(), /stopped while this digest ran/);
    const b = new OffThreadDigest();
    b.update(Buffer.from('abc'));
    assert.deepEqual(await b.digest(), { digest: sha256Digest('abc'), size: 3 });
  });
});
