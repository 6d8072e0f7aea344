// Integration tests of the runtime driver against the real conmon and runc
// (and crun through the hybrid-cgroup wrapper) on this machine: a busybox
// rootfs, a minimal config.json, containers named berthtest-<random> in the
// cgroup parent /berthtest-rt. Everything is removed in `after`.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmdirSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { errorKind } from '../errors.js';
import { attachContainer, type ContainerAttach } from './attach.js';
import {
  Conmon,
  attachSocketPath,
  cgroupOomKills,
  buildConmonArgs,
  oomKilled,
  parseExitCode,
  parseSyncMessage,
  readExit,
  readPersistExit,
  reopenLog,
  resize,
  watchExits,
} from './conmon.js';
import { crunUsable, isHybridWithUnifiedControllers, writeCrunWrapper } from './crun-wrapper.js';
import { execInContainer, type ExecProcessSpec } from './exec.js';
import { OciRuntime, OciRuntimeError } from './oci-runtime.js';
import { isConmonFor, processAlive, readPidFile } from './proc.js';

const CGROUP_PARENT = 'berthtest-rt';
const CAPS = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];
const APPLETS = ['sh', 'echo', 'cat', 'sleep', 'true', 'false', 'stty', 'dd', 'printf', 'head', 'ls'];

function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

const CONMON = which('conmon');
const RUNC = which('runc');
const CRUN = which('crun');
const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
const skip =
  process.getuid?.() !== 0
    ? 'needs root'
    : CONMON === undefined || RUNC === undefined || BUSYBOX === undefined
      ? 'needs conmon, runc and busybox'
      : false;

function nofileHard(): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const hard = Number(line?.split(/\s+/)[4]);
  return Number.isFinite(hard) && hard > 0 ? Math.min(hard, 1048576) : 1024;
}

interface SpecOptions {
  terminal?: boolean;
  memoryLimit?: number;
}

function ociSpec(id: string, rootfs: string, args: string[], o: SpecOptions = {}): Record<string, unknown> {
  const nofile = nofileHard();
  const resources: Record<string, unknown> = { devices: [{ allow: false, access: 'rwm' }] };
  if (o.memoryLimit !== undefined) resources.memory = { limit: o.memoryLimit, swap: o.memoryLimit };
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: o.terminal ?? false,
      user: { uid: 0, gid: 0 },
      args,
      env: ['PATH=/bin', 'HOME=/', 'TERM=xterm', `HOSTNAME=${id.slice(0, 12)}`],
      cwd: '/',
      capabilities: { bounding: CAPS, effective: CAPS, permitted: CAPS },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: nofile, soft: nofile }],
      noNewPrivileges: false,
    },
    root: { path: rootfs, readonly: false },
    hostname: id.slice(0, 12),
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      {
        destination: '/dev',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
      },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      {
        destination: '/sys/fs/cgroup',
        type: 'cgroup',
        source: 'cgroup',
        options: ['ro', 'nosuid', 'noexec', 'nodev'],
      },
      {
        destination: '/dev/mqueue',
        type: 'mqueue',
        source: 'mqueue',
        options: ['nosuid', 'noexec', 'nodev'],
      },
      {
        destination: '/dev/shm',
        type: 'tmpfs',
        source: 'shm',
        options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=67108864'],
      },
    ],
    linux: {
      cgroupsPath: `/${CGROUP_PARENT}/${id}`,
      resources,
      namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'uts' }, { type: 'ipc' }, { type: 'network' }],
      maskedPaths: ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/sys/firmware'],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

interface Ctr {
  id: string;
  dir: string;
  bundleDir: string;
  logPath: string;
  persistDir: string;
  conmonPidFile: string;
  pidFile: string;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function until<T>(
  fn: () => T | undefined | Promise<T | undefined>,
  what: string,
  timeoutMs = 15000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

function collect(attach: ContainerAttach): { stdout: () => string; stderr: () => string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  attach.on('stdout', (c) => out.push(c));
  attach.on('stderr', (c) => err.push(c));
  return { stdout: () => Buffer.concat(out).toString(), stderr: () => Buffer.concat(err).toString() };
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message} ${stderr}`)) : resolve(stdout),
    );
  });
}

describe('runtime driver on real conmon + runc', { skip, timeout: 240_000 }, () => {
  let base = '';
  let rootfs = '';
  let exitDir = '';
  let runtime: OciRuntime;
  let crunRuntime: OciRuntime | undefined;
  const conmon = new Conmon({ path: CONMON ?? '/usr/bin/conmon' });
  const created: { id: string; runtime: OciRuntime; conmonPidFiles: string[] }[] = [];

  before(async () => {
    base = await mkdtemp('/tmp/btrt-');
    rootfs = join(base, 'rootfs');
    exitDir = join(base, 'exits');
    await mkdir(join(rootfs, 'bin'), { recursive: true });
    await copyFile(BUSYBOX ?? '/bin/busybox', join(rootfs, 'bin', 'busybox'));
    for (const applet of APPLETS) await symlink('busybox', join(rootfs, 'bin', applet));
    for (const d of ['proc', 'dev', 'sys', 'tmp', 'etc']) await mkdir(join(rootfs, d), { recursive: true });
    runtime = new OciRuntime({ path: RUNC ?? 'runc', root: join(base, 'state') });
  });

  after(async () => {
    for (const { id, runtime: rt, conmonPidFiles } of created) {
      await rt.delete(id, true).catch(() => undefined);
      for (const file of conmonPidFiles) {
        const pid = readPidFile(file);
        if (pid !== undefined && isConmonFor(pid, id)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone
          }
        }
      }
    }
    await sleep(100);
    for (const { id } of created) removeCgroups(id);
    removeCgroups(undefined);
    if (base !== '') await rm(base, { recursive: true, force: true });
  });

  function removeCgroups(id: string | undefined): void {
    const roots = readdirSync('/sys/fs/cgroup').map((c) => join('/sys/fs/cgroup', c));
    for (const root of roots) {
      const dir = id === undefined ? join(root, CGROUP_PARENT) : join(root, CGROUP_PARENT, id);
      try {
        rmdirSync(dir);
      } catch {
        // absent or busy
      }
    }
  }

  async function newCtr(
    args: string[],
    o: SpecOptions & { rt?: OciRuntime; prefix?: string } = {},
  ): Promise<Ctr> {
    const id = `berthtest-${randomBytes(4).toString('hex')}`;
    const dir = join(base, 'c', id);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'config.json'), JSON.stringify(ociSpec(id, rootfs, args, o)));
    const ctr: Ctr = {
      id,
      dir,
      bundleDir: dir,
      logPath: join(dir, 'ctr.log'),
      persistDir: join(dir, 'persist'),
      conmonPidFile: join(dir, 'conmon.pid'),
      pidFile: join(dir, 'pid'),
    };
    created.push({ id, runtime: o.rt ?? runtime, conmonPidFiles: [ctr.conmonPidFile] });
    return ctr;
  }

  async function create(
    ctr: Ctr,
    o: { terminal?: boolean; stdin?: boolean; rt?: OciRuntime } = {},
  ): Promise<{ pid: number; conmonPid: number }> {
    return conmon.create({
      id: ctr.id,
      bundleDir: ctr.bundleDir,
      runtime: o.rt ?? runtime,
      logPath: ctr.logPath,
      terminal: o.terminal ?? false,
      stdin: o.stdin ?? false,
      exitDir,
      persistDir: ctr.persistDir,
      conmonCwd: ctr.dir,
      conmonPidFile: ctr.conmonPidFile,
      containerPidFile: ctr.pidFile,
      logLevel: 'info',
    });
  }

  function waitExit(id: string): Promise<number> {
    return until(() => readExit(exitDir, id), `exit file of ${id}`);
  }

  it('builds the verified conmon argv', () => {
    const args = buildConmonArgs({
      containerId: 'c1',
      sessionId: 'c1',
      runtimePath: '/usr/sbin/runc',
      runtimeArgs: ['--root=/r'],
      bundleDir: '/b',
      containerPidFile: '/b/pid',
      conmonPidFile: '/b/conmon.pid',
      exitDir: '/e',
      persistDir: '/p',
      logPath: '/b/ctr.log',
      logSizeMax: 1000,
      terminal: false,
      stdin: true,
      logLevel: 'info',
      ociLogPath: '/b/oci-log',
    });
    assert.equal(args[0], '--api-version');
    assert.notEqual(args[1], '1', '--api-version takes no value');
    assert.ok(!args.includes('-s'), '-s is --systemd-cgroup, never the sync pipe');
    const joined = args.join(' ');
    for (const part of [
      '-c c1',
      '-u c1',
      '-r /usr/sbin/runc',
      '-b /b',
      '-p /b/pid',
      '--exit-dir /e',
      '--persist-dir /p',
      '--conmon-pidfile /b/conmon.pid',
      '--full-attach',
      '-l k8s-file:/b/ctr.log',
      '--log-size-max 1000',
      '--runtime-arg --root=/r',
      '--runtime-arg --log-format=json --runtime-arg --log=/b/oci-log',
      '-i',
    ]) {
      assert.ok(joined.includes(part), `missing ${part} in ${joined}`);
    }
    const tty = buildConmonArgs({
      containerId: 'c1',
      sessionId: 's1',
      runtimePath: 'r',
      bundleDir: '/s',
      containerPidFile: '/s/pid',
      exitDir: '/s/exit',
      terminal: true,
      stdin: true,
      exec: { processSpecPath: '/s/process.json', attach: true },
    });
    assert.ok(tty.includes('-t') && !tty.includes('-i'));
    assert.ok(tty.join(' ').includes('-e --exec-attach --exec-process-spec /s/process.json'));
    assert.ok(tty.join(' ').includes('-l none'));
  });

  it('parses sync messages and exit files', () => {
    assert.deepEqual(parseSyncMessage('{"data": 1234}'), { data: 1234 });
    assert.deepEqual(parseSyncMessage('{"data": -1, "message": "boom\\n"}'), { data: -1, message: 'boom\n' });
    assert.deepEqual(parseSyncMessage('{"data": -1, "message": "a\u001fb"}')?.data, -1);
    assert.equal(parseExitCode('137'), 137);
    assert.equal(parseExitCode(''), undefined);
  });

  it('creates, starts and reports exit code 0 through the exit files', async () => {
    const ctr = await newCtr(['true']);
    const { pid, conmonPid } = await create(ctr);
    assert.ok(pid > 0);
    assert.ok(conmonPid > 0 && conmonPid !== process.pid);
    assert.ok(isConmonFor(conmonPid, ctr.id));
    assert.ok(!isConmonFor(conmonPid, 'berthtest-other'));
    assert.equal(readPidFile(ctr.pidFile), pid);
    assert.equal((await runtime.state(ctr.id))?.status, 'created');
    await runtime.start(ctr.id);
    assert.equal(await waitExit(ctr.id), 0);
    assert.equal(await readPersistExit(ctr.persistDir), 0);
    assert.equal(await oomKilled(ctr.persistDir), false);
    const state = await until(
      async () => ((await runtime.state(ctr.id))?.status === 'stopped' ? true : undefined),
      'stopped',
    );
    assert.ok(state);
    await until(() => (processAlive(conmonPid) ? undefined : true), 'conmon exit');
    assert.ok(!existsSync(attachSocketPath(ctr.bundleDir)), 'conmon removes the attach socket');
    await runtime.delete(ctr.id);
    assert.equal(await runtime.state(ctr.id), undefined);
  });

  it('reports exit code 3', async () => {
    const ctr = await newCtr(['sh', '-c', 'exit 3']);
    await create(ctr);
    await runtime.start(ctr.id);
    assert.equal(await waitExit(ctr.id), 3);
    await runtime.delete(ctr.id);
  });

  it('reports 137 after KILL, seen by watchExits; state, ps, pause, resume, update, kill, delete', async () => {
    const seen: [string, number][] = [];
    const stop = watchExits(exitDir, (id, code) => seen.push([id, code]), {
      initial: false,
      intervalMs: 200,
    });
    try {
      const ctr = await newCtr(['sleep', '1000']);
      const { pid } = await create(ctr);
      await runtime.start(ctr.id);
      const state = await runtime.state(ctr.id);
      assert.equal(state?.status, 'running');
      assert.equal(state?.pid, pid);
      assert.equal(state?.bundle, ctr.bundleDir);
      assert.deepEqual(await runtime.ps(ctr.id), [pid]);
      assert.ok((await runtime.list()).some((s) => s.id === ctr.id && s.status === 'running'));

      await runtime.pause(ctr.id);
      assert.equal((await runtime.state(ctr.id))?.status, 'paused');
      const pausedErr = await runtime.pause(ctr.id).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(pausedErr instanceof OciRuntimeError, String(pausedErr));
      await runtime.resume(ctr.id);
      assert.equal((await runtime.state(ctr.id))?.status, 'running');

      const resources = join(ctr.dir, 'resources.json');
      await writeFile(resources, JSON.stringify({ memory: { limit: 64 * 1024 * 1024 } }));
      await runtime.update(ctr.id, resources);
      const limit = readFileSync(
        `/sys/fs/cgroup/memory/${CGROUP_PARENT}/${ctr.id}/memory.limit_in_bytes`,
        'utf8',
      ).trim();
      assert.equal(limit, String(64 * 1024 * 1024));

      const deleteRunning = await runtime.delete(ctr.id).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(deleteRunning instanceof OciRuntimeError);
      assert.equal(errorKind(deleteRunning), 'conflict', deleteRunning.message);

      await runtime.kill(ctr.id, 'KILL');
      assert.equal(await waitExit(ctr.id), 137);
      await until(() => seen.find(([id]) => id === ctr.id), 'watchExits callback');
      assert.deepEqual(
        seen.filter(([id]) => id === ctr.id),
        [[ctr.id, 137]],
      );
      const killStopped = await runtime.kill(ctr.id, 'KILL').then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(killStopped instanceof OciRuntimeError);
      await runtime.delete(ctr.id);
      const gone = await runtime.kill(ctr.id, 'TERM').then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.equal(errorKind(gone), 'not-found', String(gone));
    } finally {
      stop();
    }
  });

  it('writes stdout and stderr to the k8s-file log, and reopens it', async () => {
    const ctr = await newCtr([
      'sh',
      '-c',
      'echo out1; echo err1 >&2; printf partial; sleep 0.5; echo after-reopen; sleep 0.3',
    ]);
    await create(ctr);
    await runtime.start(ctr.id);
    await until(async () => {
      const text = await readFile(ctr.logPath, 'utf8').catch(() => '');
      return text.includes('partial') ? true : undefined;
    }, 'first log lines');
    await rename(ctr.logPath, `${ctr.logPath}.1`);
    await reopenLog(ctr.bundleDir);
    assert.equal(await waitExit(ctr.id), 0);
    const first = (await readFile(`${ctr.logPath}.1`, 'utf8')).split('\n').filter((l) => l !== '');
    const re = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+[+-]\d\d:\d\d (stdout|stderr) ([FP]) (.*)$/;
    const parsed = first.map((l) => {
      const m = re.exec(l);
      assert.ok(m, `not a k8s-file line: ${l}`);
      return [m[1], m[2], m[3]];
    });
    assert.deepEqual(
      parsed.find((p) => p[2] === 'out1'),
      ['stdout', 'F', 'out1'],
    );
    assert.deepEqual(
      parsed.find((p) => p[2] === 'err1'),
      ['stderr', 'F', 'err1'],
    );
    assert.deepEqual(
      parsed.find((p) => p[2] === 'partial'),
      ['stdout', 'P', 'partial'],
    );
    const second = await readFile(ctr.logPath, 'utf8');
    assert.match(second, /stdout F after-reopen/);
    assert.ok(!first.join('\n').includes('after-reopen'));
    await runtime.delete(ctr.id);
    await assert.rejects(resize(ctr.bundleDir, 10, 10), (e: unknown) => errorKind(e) === 'conflict');
  });

  it('attaches before start: output, stdin to cat, SHUT_WR ends it', async () => {
    const ctr = await newCtr(['sh', '-c', 'echo hello; cat; echo done >&2']);
    await create(ctr, { stdin: true });
    const attach = await attachContainer(attachSocketPath(ctr.bundleDir));
    const out = collect(attach);
    await runtime.start(ctr.id);
    await until(() => (out.stdout().includes('hello\n') ? true : undefined), 'hello');
    await attach.write(Buffer.from('ping\n'));
    await until(() => (out.stdout().includes('ping\n') ? true : undefined), 'cat echo');
    const big = Buffer.alloc(100_000, 'x');
    await attach.write(Buffer.concat([big, Buffer.from('\n')]));
    await until(
      () => (out.stdout().length >= 'hello\nping\n'.length + 100_001 ? true : undefined),
      'big echo',
    );
    await attach.closeStdin();
    await attach.ended;
    assert.equal(out.stderr(), 'done\n');
    assert.equal(out.stdout(), `hello\nping\n${big.toString()}\n`);
    assert.equal(await waitExit(ctr.id), 0);
    await assert.rejects(attach.write(Buffer.from('late')), (e: unknown) => errorKind(e) === 'conflict');
    await assert.rejects(
      attachContainer(attachSocketPath(ctr.bundleDir)),
      (e: unknown) => errorKind(e) === 'conflict',
    );
    await runtime.delete(ctr.id);
  });

  it('runs with a terminal and resizes it before and after start', async () => {
    const ctr = await newCtr(['sh', '-c', 'stty size; read x; stty size'], { terminal: true });
    const { pid } = await create(ctr, { terminal: true, stdin: true });
    await resize(ctr.bundleDir, 24, 80);
    // conmon applies a resize asynchronously (ctl FIFO -> winsz FIFO -> ioctl on the pty
    // master); wait until the pty, seen from the host, has the size.
    await until(async () => {
      const size = await run('stty', ['-F', `/proc/${pid}/fd/0`, 'size']).catch(() => '');
      return size.trim() === '24 80' ? true : undefined;
    }, 'pty resized before start');
    const attach = await attachContainer(attachSocketPath(ctr.bundleDir));
    const out = collect(attach);
    await runtime.start(ctr.id);
    await until(() => (out.stdout().includes('\n') ? true : undefined), 'first stty size');
    assert.equal(out.stdout(), '24 80\r\n');
    await resize(ctr.bundleDir, 30, 100);
    await until(async () => {
      const size = await run('stty', ['-F', `/proc/${pid}/fd/0`, 'size']).catch(() => '');
      return size.trim() === '30 100' ? true : undefined;
    }, 'pty resized after start');
    await attach.write(Buffer.from('\n'));
    await until(() => (out.stdout().includes('30 100') ? true : undefined), 'second stty size');
    await attach.ended;
    assert.match(out.stdout(), /24 80\r\n/);
    assert.equal(out.stderr(), '');
    assert.equal(await waitExit(ctr.id), 0);
    const log = await readFile(ctr.logPath, 'utf8');
    assert.match(log, /stdout F 24 80\r/);
    await runtime.delete(ctr.id);
  });

  it('surfaces the runtime message of a failing create', async () => {
    const ctr = await newCtr(['/x']);
    const err = await create(ctr).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof OciRuntimeError, String(err));
    assert.match(err.runtimeMessage, /exec: "\/x": stat \/x: no such file or directory/);
    assert.match(err.message, /stat \/x: no such file or directory/);
    assert.equal(await readExit(exitDir, ctr.id), undefined);
    assert.equal(await runtime.state(ctr.id), undefined);
  });

  it('fails cleanly when the runtime fails without a message', async () => {
    const ctr = await newCtr(['true']);
    const failing = new OciRuntime({ path: which('false') ?? '/bin/false', root: join(base, 'state') });
    const err = await create(ctr, { rt: failing }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof OciRuntimeError, String(err));
  });

  describe('exec', () => {
    let ctr: Ctr;
    let n = 0;
    const proc = (args: string[], terminal = false): ExecProcessSpec => ({
      terminal,
      user: { uid: 0, gid: 0 },
      args,
      env: ['PATH=/bin', 'TERM=xterm'],
      cwd: '/',
    });
    const sessionDir = (): string => join(base, 'x', `${ctr.id.slice(-8)}-${++n}`);

    before(async () => {
      ctr = await newCtr(['sleep', '1000']);
      await create(ctr);
      await runtime.start(ctr.id);
    });

    after(async () => {
      await runtime.delete(ctr.id, true).catch(() => undefined);
    });

    it('runs a command with attached output and returns its exit code', async () => {
      const s = await execInContainer({
        conmon,
        runtime,
        containerId: ctr.id,
        sessionId: `s${n}`,
        sessionDir: sessionDir(),
        process: proc(['sh', '-c', 'echo out; echo err >&2; exit 7']),
        attach: true,
      });
      assert.ok(s.attach);
      const out = collect(s.attach);
      const pid = await s.pid;
      assert.ok(pid > 0);
      assert.equal(await s.exitCode, 7);
      await s.attach.ended;
      assert.equal(out.stdout(), 'out\n');
      assert.equal(out.stderr(), 'err\n');
      assert.equal(await readExit(join(s.sessionDir, 'exit'), ctr.id), 7);
    });

    it('feeds stdin to a non-tty exec', async () => {
      const s = await execInContainer({
        conmon,
        runtime,
        containerId: ctr.id,
        sessionId: `s${n}`,
        sessionDir: sessionDir(),
        process: proc(['cat']),
        attach: true,
        stdin: true,
      });
      assert.ok(s.attach);
      const out = collect(s.attach);
      await s.attach.write(Buffer.from('abc\n'));
      await s.attach.closeStdin();
      assert.equal(await s.exitCode, 0);
      await s.attach.ended;
      assert.equal(out.stdout(), 'abc\n');
    });

    it('runs a tty exec with an initial size', async () => {
      const s = await execInContainer({
        conmon,
        runtime,
        containerId: ctr.id,
        sessionId: `s${n}`,
        sessionDir: sessionDir(),
        process: proc(['stty', 'size'], true),
        attach: true,
        size: { rows: 33, cols: 101 },
      });
      assert.ok(s.attach);
      const out = collect(s.attach);
      assert.equal(await s.exitCode, 0);
      await s.attach.ended;
      assert.equal(out.stdout(), '33 101\r\n');
    });

    it('sizes a tty exec from process.consoleSize alone', async () => {
      const s = await execInContainer({
        conmon,
        runtime,
        containerId: ctr.id,
        sessionId: `s${n}`,
        sessionDir: sessionDir(),
        process: { ...proc(['stty', 'size'], true), consoleSize: { height: 21, width: 77 } },
        attach: true,
      });
      assert.ok(s.attach);
      const out = collect(s.attach);
      assert.equal(await s.exitCode, 0);
      await s.attach.ended;
      assert.equal(out.stdout(), '21 77\r\n');
    });

    it('runs detached with output to a log file', async () => {
      const dir = sessionDir();
      const s = await execInContainer({
        conmon,
        runtime,
        containerId: ctr.id,
        sessionId: `s${n}`,
        sessionDir: dir,
        process: proc(['sh', '-c', 'echo detached; exit 4']),
        attach: false,
        logPath: join(dir, 'exec.log'),
      });
      assert.equal(s.attach, undefined);
      assert.ok((s.conmonPid ?? 0) > 0);
      assert.ok((await s.pid) > 0);
      assert.equal(await s.exitCode, 4);
      assert.match(await readFile(join(dir, 'exec.log'), 'utf8'), /stdout F detached/);
    });

    it('rejects with the runtime message when the binary is missing', async () => {
      const s = await execInContainer({
        conmon,
        runtime,
        containerId: ctr.id,
        sessionId: `s${n}`,
        sessionDir: sessionDir(),
        process: proc(['/nope']),
        attach: true,
      });
      const err = await s.pid.then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof OciRuntimeError, String(err));
      assert.match(err.runtimeMessage, /nope/);
      await assert.rejects(s.exitCode);
      s.attach?.close();
    });

    it('fails for a container that is not running', async () => {
      const attempt = execInContainer({
        conmon,
        runtime,
        containerId: 'berthtest-absent',
        sessionId: 'sx',
        sessionDir: sessionDir(),
        process: proc(['true']),
        attach: false,
      }).then((s) => s.pid);
      await assert.rejects(attempt, (e: unknown) => e instanceof OciRuntimeError);
    });
  });

  it('survives the daemon: a fresh process re-finds, reattaches and stops the container', async () => {
    const ctr = await newCtr([
      'sh',
      '-c',
      'trap "exit 143" TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done',
    ]);
    // A separate node process plays the daemon that creates and starts the container, then exits.
    const here = new URL('.', import.meta.url).pathname;
    const script = `
      import { Conmon } from ${JSON.stringify(join(here, 'conmon.js'))};
      import { OciRuntime } from ${JSON.stringify(join(here, 'oci-runtime.js'))};
      const o = JSON.parse(process.env.BT_OPTS);
      const runtime = new OciRuntime({ path: o.runtime, root: o.root });
      const r = await new Conmon({ path: o.conmon }).create({ ...o.create, runtime });
      await runtime.start(o.create.id);
      process.stdout.write(JSON.stringify(r));
    `;
    const opts = {
      runtime: runtime.path,
      root: runtime.root,
      conmon: conmon.path,
      create: {
        id: ctr.id,
        bundleDir: ctr.bundleDir,
        logPath: ctr.logPath,
        terminal: false,
        stdin: false,
        exitDir,
        persistDir: ctr.persistDir,
        conmonCwd: ctr.dir,
        conmonPidFile: ctr.conmonPidFile,
        containerPidFile: ctr.pidFile,
      },
    };
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, BT_OPTS: JSON.stringify(opts) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      new Promise<number | null>((resolve) => child.on('exit', resolve)),
      new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), 20_000))),
    ]);
    clearTimeout(timer);
    if (code === 'hung') child.kill('SIGKILL');
    assert.equal(code, 0, `launcher: ${stderr}`);
    const launched = JSON.parse(stdout) as { pid: number; conmonPid: number };

    // The "restarted daemon": new objects, nothing but the files on disk.
    const runtime2 = new OciRuntime({ path: runtime.path, root: runtime.root });
    const conmon2 = new Conmon({ path: conmon.path });
    const conmonPid = conmon2.running(ctr.conmonPidFile, ctr.id);
    assert.equal(conmonPid, launched.conmonPid);
    assert.equal(readFileSync(`/proc/${conmonPid}/stat`, 'utf8').split(') ')[1]?.split(' ')[1], '1');
    const state = await runtime2.state(ctr.id);
    assert.equal(state?.status, 'running');
    assert.equal(state?.pid, launched.pid);
    assert.equal(await readExit(exitDir, ctr.id), undefined);
    const attach = await attachContainer(attachSocketPath(ctr.bundleDir));
    const out = collect(attach);
    await until(() => (/tick \d+\n/.test(out.stdout()) ? true : undefined), 'live output after reattach');
    await runtime2.kill(ctr.id, 'TERM');
    await attach.ended;
    assert.equal(await waitExit(ctr.id), 143);
    await until(
      () => (conmon2.running(ctr.conmonPidFile, ctr.id) === undefined ? true : undefined),
      'conmon gone',
    );
    assert.match(await readFile(ctr.logPath, 'utf8'), /stdout F tick 0\n/);
    await runtime2.delete(ctr.id);
  });

  it('detects OOM (16 MiB limit, dd with a 64 MiB buffer)', async () => {
    const ctr = await newCtr(['sh', '-c', 'dd if=/dev/zero of=/dev/null bs=64M count=1; echo dd=$?'], {
      memoryLimit: 16 * 1024 * 1024,
    });
    await create(ctr);
    await runtime.start(ctr.id);
    const code = await waitExit(ctr.id);
    const memoryCgroup = `/sys/fs/cgroup/memory/${CGROUP_PARENT}/${ctr.id}`;
    const log = await readFile(ctr.logPath, 'utf8');
    assert.match(log, /dd=137/);
    assert.equal(code, 0, 'the main sh survives the OOM kill of dd');
    // conmon's marker alone is racy on cgroup v1; the cgroup's counter is not.
    assert.ok((await cgroupOomKills(memoryCgroup)) >= 1);
    assert.ok(await oomKilled(ctr.persistDir, memoryCgroup), `log: ${log}`);
    await runtime.delete(ctr.id);
  });

  it('reports the runtime version', async () => {
    const v = await runtime.version();
    assert.equal(v.name, 'runc');
    assert.match(v.version, /^\d+\.\d+/);
    assert.match(await conmon.version(), /^2\./);
  });

  describe('crun through the hybrid-cgroup wrapper', { skip: CRUN === undefined ? 'no crun' : false }, () => {
    it('tells whether plain crun works here', async () => {
      const hybrid = await isHybridWithUnifiedControllers();
      assert.equal(await crunUsable(CRUN), !hybrid);
    });

    it('creates, starts, execs and exits', async () => {
      const wrapper = await writeCrunWrapper(join(base, 'bin'), { crunPath: CRUN ?? '/usr/bin/crun' });
      crunRuntime = new OciRuntime({ path: wrapper, root: join(base, 'crun-state'), name: 'crun' });
      assert.equal((await crunRuntime.version()).name, 'crun');
      const ctr = await newCtr(['sh', '-c', 'read x; exit 5'], { rt: crunRuntime });
      await create(ctr, { rt: crunRuntime, stdin: true });
      assert.equal((await crunRuntime.state(ctr.id))?.status, 'created');
      const attach = await attachContainer(attachSocketPath(ctr.bundleDir));
      await crunRuntime.start(ctr.id);
      const s = await execInContainer({
        conmon,
        runtime: crunRuntime,
        containerId: ctr.id,
        sessionId: 'crun-exec',
        sessionDir: join(base, 'x', `${ctr.id.slice(-8)}-crun`),
        process: {
          terminal: false,
          user: { uid: 0, gid: 0 },
          args: ['echo', 'via-crun'],
          env: ['PATH=/bin'],
          cwd: '/',
        },
        attach: true,
      });
      assert.ok(s.attach);
      const out = collect(s.attach);
      assert.equal(await s.exitCode, 0);
      await s.attach.ended;
      assert.equal(out.stdout(), 'via-crun\n');
      await crunRuntime.pause(ctr.id);
      assert.equal((await crunRuntime.state(ctr.id))?.status, 'paused');
      await crunRuntime.resume(ctr.id);
      await attach.closeStdin();
      assert.equal(await waitExit(ctr.id), 5);
      await crunRuntime.delete(ctr.id);
      assert.equal(await crunRuntime.state(ctr.id), undefined);
      const bad = await newCtr(['/x'], { rt: crunRuntime });
      const err = await create(bad, { rt: crunRuntime }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof OciRuntimeError);
      assert.match(err.runtimeMessage, /\/x/);
    });
  });

  it('leaves no stray mounts', async () => {
    const mounts = await run('mount', []);
    assert.ok(
      !mounts.includes(base),
      mounts
        .split('\n')
        .filter((l) => l.includes(base))
        .join('\n'),
    );
  });
});

describe('Conmon.create against fake conmons', () => {
  let dir = '';
  const runtime = new OciRuntime({ path: '/bin/true', root: '/nonexistent' });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-fakeconmon-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function fake(name: string, body: string): Promise<Conmon> {
    const path = join(dir, `${name}.sh`);
    await writeFile(path, `#!/bin/sh\n${body}\n`);
    await chmod(path, 0o755);
    return new Conmon({ path });
  }

  function options(name: string): Parameters<Conmon['create']>[0] {
    const d = join(dir, name);
    return {
      id: name,
      bundleDir: d,
      runtime,
      terminal: false,
      stdin: false,
      exitDir: join(dir, 'exits'),
      persistDir: join(d, 'persist'),
      conmonCwd: d,
      conmonPidFile: join(d, 'conmon.pid'),
      containerPidFile: join(d, 'pid'),
    };
  }

  it('returns the pid from the sync pipe and the conmon pid from its pid file', async () => {
    const conmon = await fake(
      'ok',
      // conmon's pid file is written by the forked conmon; the env tells the fds.
      `[ "$_OCI_SYNCPIPE" = 3 ] && [ "$_OCI_STARTPIPE" = 4 ] || exit 9
      head -c 1 <&4 >/dev/null; echo 31337 > conmon.pid; printf '{"data": 4242}\\n' >&3`,
    );
    let hooked = 0;
    const r = await conmon.create({
      ...options('ok'),
      beforeStart: (pid) => {
        hooked = pid;
        return Promise.resolve();
      },
    });
    assert.deepEqual(r, { pid: 4242, conmonPid: 31337 });
    assert.ok(hooked > 0);
  });

  it('prefers the oci-log message, then the sync message', async () => {
    const withLog = await fake(
      'log',
      `head -c 1 <&4 >/dev/null
      echo '{"level":"error","msg":"from the oci-log","time":"t"}' > oci-log
      printf '{"data": -1, "message": "from stderr\\\\n"}\\n' >&3`,
    );
    await assert.rejects(
      withLog.create(options('log')),
      (e: unknown) => e instanceof OciRuntimeError && e.runtimeMessage === 'from the oci-log',
    );
    const noLog = await fake(
      'nolog',
      `head -c 1 <&4 >/dev/null; printf '{"data": -1, "message": "exec: \\\\"/x\\\\": stat /x: no such file or directory\\\\n"}\\n' >&3`,
    );
    await assert.rejects(
      noLog.create(options('nolog')),
      (e: unknown) =>
        e instanceof OciRuntimeError && e.runtimeMessage === 'exec: "/x": stat /x: no such file or directory',
    );
  });

  it('treats EOF on the sync pipe as failure and reports what conmon printed', async () => {
    const conmon = await fake(
      'eof',
      `head -c 1 <&4 >/dev/null; echo 'conmon: option parsing failed' >&2; exit 1`,
    );
    await assert.rejects(
      conmon.create(options('eof')),
      (e: unknown) => e instanceof OciRuntimeError && /option parsing failed/.test(e.message),
    );
  });

  it('watchExits reports renamed exit files once and ignores temp names', async () => {
    const exits = join(dir, 'watch');
    await mkdir(exits, { recursive: true });
    await writeFile(join(exits, 'old'), '1');
    const seen: string[] = [];
    const stop = watchExits(exits, (id, code) => seen.push(`${id}=${code}`), { intervalMs: 50 });
    try {
      await until(() => (seen.includes('old=1') ? true : undefined), 'initial scan');
      await writeFile(join(exits, 'abc.Q1W2E3'), '0');
      await rename(join(exits, 'abc.Q1W2E3'), join(exits, 'abc'));
      await until(() => (seen.includes('abc=0') ? true : undefined), 'abc');
      await sleep(200);
      assert.deepEqual(seen.sort(), ['abc=0', 'old=1']);
      // A restarted container's new exit file is a new report.
      await writeFile(join(exits, 'abc.R4T5Y6'), '137');
      await rename(join(exits, 'abc.R4T5Y6'), join(exits, 'abc'));
      await until(() => (seen.includes('abc=137') ? true : undefined), 'abc again');
    } finally {
      stop();
    }
  });

  it('oomKilled falls back to the cgroup oom_kill counter (v1 and v2)', async () => {
    const v1 = join(dir, 'cg-v1');
    const v2 = join(dir, 'cg-v2');
    const persist = join(dir, 'persist-oom');
    await mkdir(v1, { recursive: true });
    await mkdir(v2, { recursive: true });
    await mkdir(persist, { recursive: true });
    await writeFile(join(v1, 'memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n');
    await writeFile(join(v2, 'memory.events'), 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n');
    assert.equal(await oomKilled(persist), false);
    assert.equal(await oomKilled(persist, v1), true);
    assert.equal(await oomKilled(persist, v2), false);
    assert.equal(await oomKilled(persist, join(dir, 'no-cgroup')), false);
    await writeFile(join(persist, 'oom'), '');
    assert.equal(await oomKilled(persist), true);
  });

  it('refuses a bundle dir too long for the attach socket', async () => {
    const conmon = await fake('unused', 'exit 0');
    await assert.rejects(
      conmon.create({ ...options('long'), bundleDir: join(dir, 'b'.repeat(120)) }),
      (e: unknown) => errorKind(e) === 'invalid-parameter',
    );
  });

  it('stops conmon when the beforeStart hook fails', async () => {
    const conmon = await fake('hook', `head -c 1 <&4 >/dev/null; echo started > started; exec sleep 5`);
    await assert.rejects(
      conmon.create({
        ...options('hook'),
        beforeStart: () => Promise.reject(new Error('cgroup move failed')),
      }),
      /cgroup move failed/,
    );
    await sleep(100);
    assert.ok(!existsSync(join(dir, 'hook', 'started')), 'conmon went on after the hook failed');
  });

  it('times out when conmon never answers', async () => {
    const conmon = await fake('hang', `head -c 1 <&4 >/dev/null; exec sleep 5`);
    await assert.rejects(conmon.create({ ...options('hang'), timeoutMs: 200 }), /did not answer/);
  });
});
