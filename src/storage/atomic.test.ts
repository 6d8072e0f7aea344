import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fsyncDir, fsyncDirSync, isErrno, readJsonFile, writeFileAtomic } from './atomic.js';

describe('storage/atomic', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-atomic-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a new file and leaves no temp file behind', async () => {
    const p = join(dir, 'new.json');
    await writeFileAtomic(p, '{"a":1}\n');
    assert.equal(await readFile(p, 'utf8'), '{"a":1}\n');
    const names = await readdir(dir);
    assert.deepEqual(
      names.filter((n) => n.startsWith('.')),
      [],
    );
  });

  it('replaces an existing file', async () => {
    const p = join(dir, 'replace.json');
    await writeFile(p, 'old');
    await writeFileAtomic(p, Buffer.from('new content'));
    assert.equal(await readFile(p, 'utf8'), 'new content');
  });

  it('applies an explicit mode regardless of the umask', async () => {
    const p = join(dir, 'mode.json');
    await writeFileAtomic(p, '{}', 0o600);
    assert.equal((await stat(p)).mode & 0o777, 0o600);
    await writeFileAtomic(p, '{}', 0o640);
    assert.equal((await stat(p)).mode & 0o777, 0o640);
  });

  it('concurrent writers leave one complete version', async () => {
    const p = join(dir, 'race.json');
    const values = Array.from({ length: 20 }, (_, i) => JSON.stringify({ i, pad: 'x'.repeat(1000 * i) }));
    await Promise.all(values.map((v) => writeFileAtomic(p, v)));
    const got = await readFile(p, 'utf8');
    assert.ok(values.includes(got));
    assert.deepEqual(
      (await readdir(dir)).filter((n) => n.includes('.tmp-')),
      [],
    );
  });

  it('fails cleanly when the directory does not exist', async () => {
    await assert.rejects(writeFileAtomic(join(dir, 'missing', 'x.json'), '{}'), (err) =>
      isErrno(err, 'ENOENT'),
    );
  });

  it('readJsonFile round-trips and returns undefined for a missing file', async () => {
    const p = join(dir, 'state.json');
    const value = { id: 'abc', n: 3, nested: { list: [1, 2, 3] } };
    await writeFileAtomic(p, JSON.stringify(value));
    assert.deepEqual(await readJsonFile<typeof value>(p), value);
    assert.equal(await readJsonFile(join(dir, 'nope.json')), undefined);
  });

  it('readJsonFile rejects invalid JSON with the path in the message', async () => {
    const p = join(dir, 'bad.json');
    await writeFile(p, '{"truncated":');
    await assert.rejects(readJsonFile(p), (err) => err instanceof Error && err.message.includes(p));
  });

  it('readJsonFile rethrows errors other than ENOENT', async () => {
    await assert.rejects(readJsonFile(dir), (err) => isErrno(err, 'EISDIR'));
  });

  it('fsyncDir and fsyncDirSync succeed on a directory', async () => {
    await fsyncDir(dir);
    fsyncDirSync(dir);
  });
});
