import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { decodeTarSplit, encodeTarSplit, tarSplitSize, type TarSplitSegment } from './tar-split.js';

describe('storage/tar-split', () => {
  it('encodes and decodes raw bytes and file references, stashed or not', () => {
    const segments: TarSplitSegment[] = [
      { kind: 'raw', bytes: Buffer.from('header block') },
      { kind: 'file', rel: 'usr/bin/tool', size: 5_000_000_000, stash: undefined },
      { kind: 'raw', bytes: Buffer.alloc(1024) },
      { kind: 'file', rel: 'ünïcode/näme', size: 3, stash: 7 },
    ];
    const decoded = decodeTarSplit(encodeTarSplit(segments, 1_790_000_000_123.5));
    assert.deepEqual(decoded, { segments, sealedAt: 1_790_000_000_123.5 });
    assert.equal(tarSplitSize(decoded.segments), 12 + 5_000_000_000 + 1024 + 3);
    assert.equal(decodeTarSplit(encodeTarSplit(segments)).sealedAt, undefined);
  });

  it('refuses what it did not write: bad gzip, bad magic, truncation, unknown records, escaping paths', () => {
    const good = encodeTarSplit([{ kind: 'file', rel: 'a', size: 1, stash: undefined }]);
    assert.throws(() => decodeTarSplit(Buffer.from('not gzip')), /corrupt tar-split/);
    assert.throws(() => decodeTarSplit(gzipSync(Buffer.from('XXXX'))), /bad magic/);
    assert.throws(() => decodeTarSplit(gzipSync(Buffer.from('BTS1\x00\xff\x00\x00\x00ab'))), /truncated/);
    assert.throws(() => decodeTarSplit(gzipSync(Buffer.from('BTS1\x09'))), /unknown record type 9/);
    const escaping = encodeTarSplit([{ kind: 'file', rel: '../etc/passwd', size: 1, stash: undefined }]);
    assert.throws(() => decodeTarSplit(escaping), /bad path/);
    assert.equal(decodeTarSplit(good).segments.length, 1);
  });
});
