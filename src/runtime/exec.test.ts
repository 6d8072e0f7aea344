// Unit tests of the exec driver against fake conmons (shell scripts that
// speak conmon's pipe protocol). The real conmon + runc exec tests are in
// conmon.test.ts, next to the container they need.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Conmon } from './conmon.js';
import { execInContainer, execSessionPaths, type ExecProcessSpec } from './exec.js';
import { OciRuntime, OciRuntimeError } from './oci-runtime.js';

const PROCESS: ExecProcessSpec = {
  terminal: false,
  user: { uid: 0, gid: 0 },
  args: ['echo', 'hi'],
  env: ['PATH=/bin'],
  cwd: '/',
};

describe('execInContainer (fake conmon)', () => {
  let dir = '';
  const runtime = new OciRuntime({ path: '/bin/true', root: '/nonexistent' });

  async function fake(name: string, body: string): Promise<Conmon> {
    const path = join(dir, name);
    await writeFile(path, `#!/bin/sh\n${body}\n`);
    await chmod(path, 0o755);
    return new Conmon({ path });
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-exec-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lays out the session dir', () => {
    assert.deepEqual(execSessionPaths('/s'), {
      processSpec: '/s/process.json',
      exitDir: '/s/exit',
      pidFile: '/s/exec.pid',
      conmonPidFile: '/s/conmon.pid',
      ociLog: '/s/oci-log',
      attachSocket: '/s/attach',
    });
  });

  it('detached: reads pid then exit code from the sync pipe and writes process.json', async () => {
    const conmon = await fake(
      'detached',
      // wait for the start byte, then report like conmon -e does
      `head -c 1 <&4 >/dev/null; echo $$ > conmon.pid; printf '{"data": 4242}\\n' >&3; sleep 0.05; printf '{"data": 9}\\n' >&3`,
    );
    const sessionDir = join(dir, 's1');
    const s = await execInContainer({
      conmon,
      runtime,
      containerId: 'c1',
      sessionId: 's1',
      sessionDir,
      process: PROCESS,
      attach: false,
    });
    assert.equal(s.attach, undefined);
    assert.equal(await s.pid, 4242);
    assert.equal(await s.exitCode, 9);
    assert.deepEqual(JSON.parse(await readFile(join(sessionDir, 'process.json'), 'utf8')), PROCESS);
  });

  it('rejects with the runtime message from the sync pipe', async () => {
    const conmon = await fake(
      'fails',
      `head -c 1 <&4 >/dev/null; printf '{"data": -1, "message": "exec failed: no such file\\\\n"}\\n' >&3`,
    );
    const s = await execInContainer({
      conmon,
      runtime,
      containerId: 'c1',
      sessionId: 's2',
      sessionDir: join(dir, 's2'),
      process: PROCESS,
      attach: false,
    });
    const err = await s.pid.then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof OciRuntimeError, String(err));
    assert.equal(err.runtimeMessage, 'exec failed: no such file');
    await assert.rejects(s.exitCode);
  });

  it('attach mode: rejects with what conmon printed when it dies before listening', async () => {
    const conmon = await fake('dies', `head -c 1 <&4 >/dev/null; echo 'conmon: bad things' >&2; exit 1`);
    await assert.rejects(
      execInContainer({
        conmon,
        runtime,
        containerId: 'c1',
        sessionId: 's3',
        sessionDir: join(dir, 's3'),
        process: PROCESS,
        attach: true,
      }),
      (e: unknown) => e instanceof OciRuntimeError && /bad things/.test(e.message),
    );
  });

  it('rejects when conmon cannot be run', async () => {
    await assert.rejects(
      execInContainer({
        conmon: new Conmon({ path: join(dir, 'no-conmon') }),
        runtime,
        containerId: 'c1',
        sessionId: 's4',
        sessionDir: join(dir, 's4'),
        process: PROCESS,
        attach: false,
      }),
      /cannot run conmon/,
    );
  });
});
