import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { DataRootLock, processIdentity } from './lock.js';

describe('DataRootLock', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-lock-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is exclusive while the holder lives, and free after release', async () => {
    const lock = await DataRootLock.acquire(dir);
    // The same process asking again counts as the holder re-entering, so check with a foreign live pid.
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 5000)'], { stdio: 'ignore' });
    try {
      const identity = await processIdentity(child.pid ?? 0);
      assert.ok(identity);
      await lock.release();
      await writeFile(join(dir, 'berthd.lock'), identity + '\n');
      await assert.rejects(DataRootLock.acquire(dir), /is in use by another berthd \(pid \d+\)/);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('takes over a stale lock left by a dead process', async () => {
    await writeFile(join(dir, 'berthd.lock'), '999999999 12345\n');
    const lock = await DataRootLock.acquire(dir);
    const content = await readFile(join(dir, 'berthd.lock'), 'utf8');
    assert.equal(content.trim(), await processIdentity(process.pid));
    await lock.release();
    await assert.rejects(stat(join(dir, 'berthd.lock')), { code: 'ENOENT' });
  });

  it('ignores a recycled pid whose start time differs', async () => {
    const own = await processIdentity(process.pid);
    await writeFile(join(dir, 'berthd.lock'), `${process.ppid} 1\n`);
    const lock = await DataRootLock.acquire(dir);
    assert.equal((await readFile(join(dir, 'berthd.lock'), 'utf8')).trim(), own);
    await lock.release();
  });
});
