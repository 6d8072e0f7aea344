import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  isConmonFor,
  processAlive,
  processCmdline,
  processStartTime,
  processStat,
  readPidFile,
} from './proc.js';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('proc', () => {
  it('sees this process alive, with its cmdline and start time', () => {
    assert.ok(processAlive(process.pid));
    const argv = processCmdline(process.pid);
    assert.ok(argv !== undefined && argv.length > 0);
    const start = processStartTime(process.pid);
    assert.ok(start !== undefined && start > 0);
    assert.equal(processStartTime(process.pid), start);
    assert.equal(processStat(process.pid)?.ppid, process.ppid);
  });

  it('treats missing and invalid pids as dead', () => {
    assert.equal(processAlive(0), false);
    assert.equal(processAlive(-5), false);
    assert.equal(processAlive(2 ** 22 + 12345), false);
    assert.equal(processCmdline(2 ** 22 + 12345), undefined);
    assert.equal(processStartTime(2 ** 22 + 12345), undefined);
  });

  it('treats a zombie as dead although kill(pid, 0) succeeds', async () => {
    // sh forks a short sleep, then execs a long one that never reaps it.
    const parent = spawn('sh', ['-c', 'sleep 0.05 & echo $!; exec sleep 5'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    try {
      const pid = await new Promise<number>((resolve) => {
        parent.stdout.once('data', (c: Buffer) => resolve(Number(c.toString().trim())));
      });
      for (let i = 0; i < 100 && processStat(pid)?.state !== 'Z'; i++) await sleep(20);
      assert.equal(processStat(pid)?.state, 'Z');
      assert.doesNotThrow(() => process.kill(pid, 0));
      assert.equal(processAlive(pid), false);
      assert.deepEqual(processCmdline(pid), []);
    } finally {
      parent.kill('SIGKILL');
    }
  });

  it('recognises a conmon by argv[0] and -c <id>', async () => {
    const child = spawn(
      process.execPath,
      ['-e', 'setTimeout(() => {}, 5000)', '--', '--api-version', '-c', 'berthtest-abc', '-u', 'sess1'],
      { argv0: '/usr/bin/conmon', stdio: 'ignore' },
    );
    try {
      const pid = child.pid ?? 0;
      for (let i = 0; i < 100 && !(processCmdline(pid) ?? []).includes('berthtest-abc'); i++) await sleep(10);
      assert.ok(isConmonFor(pid, 'berthtest-abc'));
      assert.ok(isConmonFor(pid, 'berthtest-abc', 'sess1'));
      assert.ok(!isConmonFor(pid, 'berthtest-abc', 'sess2'));
      assert.ok(!isConmonFor(pid, 'berthtest-ab'));
      assert.ok(!isConmonFor(process.pid, 'berthtest-abc'), 'not a conmon');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('reads pid files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-proc-'));
    try {
      await writeFile(join(dir, 'a'), '1234');
      await writeFile(join(dir, 'b'), '1234\n');
      await writeFile(join(dir, 'c'), 'x1');
      assert.equal(readPidFile(join(dir, 'a')), 1234);
      assert.equal(readPidFile(join(dir, 'b')), 1234);
      assert.equal(readPidFile(join(dir, 'c')), undefined);
      assert.equal(readPidFile(join(dir, 'missing')), undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
