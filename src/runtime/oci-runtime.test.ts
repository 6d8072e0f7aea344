import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorKind } from '../errors.js';
import { OciRuntime, OciRuntimeError, classifyRuntimeMessage, parseRuntimeStderr } from './oci-runtime.js';

describe('parseRuntimeStderr', () => {
  it('reads runc and crun JSON logs, logrus text and plain text', () => {
    assert.equal(
      parseRuntimeStderr(
        '{"level":"error","msg":"container does not exist","time":"2026-11-27T22:03:30Z"}\n',
      ),
      'container does not exist',
    );
    assert.equal(
      parseRuntimeStderr(
        '{"level":"warning","msg":"w","time":"t"}{"level":"error","msg":"container not running","time":"t"}',
      ),
      'container not running',
    );
    assert.equal(
      parseRuntimeStderr('time="2026-11-27T22:03:30Z" level=error msg="container \\"x\\" does not exist"\n'),
      'container "x" does not exist',
    );
    assert.equal(
      parseRuntimeStderr(
        '{"msg":"error opening file `/r/x/status`: No such file or directory","level":"error","time":"t"}\n',
      ),
      'error opening file `/r/x/status`: No such file or directory',
    );
    assert.equal(parseRuntimeStderr('container does not exist\n'), 'container does not exist');
    assert.equal(parseRuntimeStderr(''), '');
    assert.equal(parseRuntimeStderr('{"level":"info","msg":"only info"}'), 'only info');
  });
});

describe('classifyRuntimeMessage', () => {
  const cases: [string, string][] = [
    ['container does not exist', 'not-found'],
    ['error opening file `/r/x/status`: No such file or directory', 'not-found'],
    ["cannot open directory '/r/x': No such file or directory", 'not-found'],
    ['cannot start an already running container', 'conflict'],
    ['cannot delete container x that is not stopped: running', 'conflict'],
    ['container not paused', 'conflict'],
    ['container not running', 'conflict'],
    ['cannot start a container that has stopped', 'conflict'],
    ['the container `x` is not in `created` or `stopped` state', 'conflict'],
    ['cannot open `/r/x/exec.fifo`: No such file or directory', 'conflict'],
    ['open pidfd: No such process', 'conflict'],
    ['unable to apply cgroup configuration: boom', 'system'],
  ];
  for (const [message, kind] of cases) {
    it(`${message} -> ${kind}`, () => assert.equal(classifyRuntimeMessage(message), kind));
  }
});

describe('OciRuntime with a fake runtime binary', () => {
  let dir = '';
  let runtime: OciRuntime;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-ocirt-'));
    const fake = join(dir, 'fakert');
    // Records its argv and answers like runc.
    await writeFile(
      fake,
      `#!/bin/sh
printf '%s\\n' "$*" >> ${dir}/calls
for a in "$@"; do last="$a"; done
case "$*" in
  *--version*) printf 'fakert version 9.8.7\\ncommit: abc\\nspec: 1.0.2-dev\\n' ;;
  *" state gone"*) echo '{"level":"error","msg":"container does not exist","time":"t"}' >&2; exit 1 ;;
  *" state "*) printf '{"ociVersion":"1.0.2","id":"%s","pid":42,"status":"running","bundle":"/b","created":"c"}' "$last" ;;
  *" ps "*) echo '[42,43]' ;;
  *" list"*) echo 'null' ;;
  *" kill "*) echo '{"level":"error","msg":"container not running","time":"t"}' >&2; exit 1 ;;
  *" pause "*) echo 'something odd' >&2; exit 2 ;;
  *" resume "*) sleep 5 ;;
  *) exit 0 ;;
esac
`,
    );
    await chmod(fake, 0o755);
    runtime = new OciRuntime({ path: fake, root: join(dir, 'root'), timeoutMs: 500 });
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('passes --root and --log-format=json before the subcommand', async () => {
    await runtime.start('c1');
    await runtime.delete('c1', true);
    await runtime.kill('c1', 'TERM', true).catch(() => undefined);
    await runtime.update('c1', '/tmp/res.json');
    const calls = (await readFile(join(dir, 'calls'), 'utf8')).trim().split('\n');
    const root = `--root=${join(dir, 'root')}`;
    assert.deepEqual(calls.slice(-4), [
      `${root} --log-format=json start c1`,
      `${root} --log-format=json delete --force c1`,
      `${root} --log-format=json kill --all c1 TERM`,
      `${root} --log-format=json update --resources=/tmp/res.json c1`,
    ]);
  });

  it('parses state, ps, list and version', async () => {
    const state = await runtime.state('c1');
    assert.equal(state?.status, 'running');
    assert.equal(state?.pid, 42);
    assert.equal(state?.id, 'c1');
    assert.equal(await runtime.state('gone'), undefined);
    assert.deepEqual(await runtime.ps('c1'), [42, 43]);
    assert.deepEqual(await runtime.list(), []);
    assert.deepEqual(await runtime.version(), {
      name: 'fakert',
      version: '9.8.7',
      spec: '1.0.2-dev',
      text: 'fakert version 9.8.7\ncommit: abc\nspec: 1.0.2-dev',
    });
  });

  it('turns stderr into typed errors carrying the runtime message', async () => {
    const kill = await runtime.kill('c1', 'KILL').then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(kill instanceof OciRuntimeError);
    assert.equal(errorKind(kill), 'conflict');
    assert.equal(kill.runtimeMessage, 'container not running');
    assert.equal(kill.exitCode, 1);
    assert.equal(kill.message, 'fakert kill c1 KILL: container not running');

    const pause = await runtime.pause('c1').then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(pause instanceof OciRuntimeError);
    assert.equal(errorKind(pause), 'system');
    assert.equal(pause.runtimeMessage, 'something odd');
    assert.equal(pause.exitCode, 2);
  });

  it('kills a command that hangs', async () => {
    const err = await runtime.resume('c1').then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof OciRuntimeError);
    assert.match(err.message, /timed out/);
  });

  it('reports a missing binary', async () => {
    const missing = new OciRuntime({ path: join(dir, 'nope'), root: dir });
    await assert.rejects(
      missing.start('x'),
      (e: unknown) => e instanceof OciRuntimeError && /ENOENT/.test(e.message),
    );
  });
});
