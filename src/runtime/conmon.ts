/**
 * conmon (2.1.x) as berth's container monitor.
 *
 * berth never forks container processes itself. For every container it spawns
 * conmon, which double-forks (the spawned process exits 0 at once; the
 * grandchild calls setsid() and supervises), runs `<runtime> create`, holds
 * the container's stdio, writes the log file and, when the container exits,
 * the exit files. So containers outlive a daemon restart: a new daemon finds
 * the conmon again from its pid file (see proc.ts `isConmonFor`).
 *
 * Lifecycle of {@link Conmon.create}:
 *   1. spawn conmon with three pipes: fd 3 = sync (`_OCI_SYNCPIPE`), fd 4 =
 *      start (`_OCI_STARTPIPE`); conmon blocks on the start pipe;
 *   2. optional `beforeStart` hook (e.g. move conmon's pid into a cgroup);
 *   3. write one byte to the start pipe; conmon forks, writes its pid file,
 *      and the spawned process exits 0;
 *   4. read one line of JSON from the sync pipe: `{"data": <pid>}` once the
 *      runtime's `create` succeeded, or `{"data": -1, "message": …}`; EOF
 *      without a line is a failure too;
 *   5. close our ends of the pipes and unref the child: conmon keeps the sync
 *      fd open for the container's whole life.
 * The container is then `created`; `OciRuntime.start(id)` runs it.
 *
 * Files of one container (paths are the caller's; this is the layout berth's
 * engine uses, keep the bundle short: the attach socket path must fit in
 * 108 bytes):
 *
 *   <bundleDir>/config.json   OCI spec (written by the caller)
 *   <bundleDir>/attach        SOCK_SEQPACKET attach socket (conmon; removed at exit)
 *   <bundleDir>/ctl           control FIFO: `1 <rows> <cols>\n` resize, `2 0 0\n` reopen log
 *   <bundleDir>/winsz         FIFO conmon uses internally
 *   <conmonCwd>/oom           conmon's cwd; conmon drops an `oom` file here too
 *   <conmonCwd>/oci-log       JSON log of conmon's runtime calls (`--log-format=json --log`)
 *   <persistDir>/exit         exit code, decimal, no newline
 *   <persistDir>/oom          exists when the container's cgroup hit OOM
 *   <exitDir>/<id>            exit code again, for one watcher over all containers
 *   conmonPidFile, containerPidFile   decimal pids
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { constants, watch, type FSWatcher } from 'node:fs';
import { mkdir, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Duplex, type Readable, type Writable } from 'node:stream';
import { ConflictError, InvalidParameterError, SystemError, errorMessage } from '../errors.js';
import { OciRuntimeError, parseRuntimeLog, type OciRuntime } from './oci-runtime.js';
import { isConmonFor, readPidFile } from './proc.js';

export const DEFAULT_CONMON_PATH = '/usr/bin/conmon';

/** conmon's own log levels (`--log-level`). */
export type ConmonLogLevel = 'debug' | 'info' | 'warning' | 'error';

/**
 * Everything that goes into a conmon command line. `buildConmonArgs` turns
 * it into argv; nothing else decides flags.
 */
export interface ConmonArgs {
  /** `-c`: the container id. The exit file in `exitDir` is named after it. */
  containerId: string;
  /** `-u`: the container id again for containers, the exec session id for execs. */
  sessionId: string;
  /** `-n`: a name for conmon's log lines. Defaults to the container id. */
  name?: string;
  /** `-r`: the runtime binary. */
  runtimePath: string;
  /** `--runtime-arg` each: global runtime options, before the subcommand. */
  runtimeArgs?: readonly string[];
  /** `-b`: the bundle dir (create) or session dir (exec); attach socket and ctl FIFO go here. */
  bundleDir: string;
  /** `-p`: where the runtime writes the container's (or exec process's) pid. Absolute. */
  containerPidFile: string;
  /** `-P`: where conmon writes its own pid. Absolute. */
  conmonPidFile?: string;
  /** `--exit-dir`: must exist. */
  exitDir: string;
  /** `--persist-dir` (`-0`): conmon writes `exit` and `oom` here. */
  persistDir?: string;
  /** `-l k8s-file:<path>`; undefined means `-l none`. */
  logPath?: string;
  /** `--log-size-max`: truncate (not rotate) the log above this many bytes. */
  logSizeMax?: number;
  /** `-t`: allocate a pty (the spec's `process.terminal` must be true too). */
  terminal: boolean;
  /** `-i`: give the container a stdin pipe, fed from the attach socket. */
  stdin: boolean;
  /** `--leave-stdin-open`: a client's SHUT_WR does not close the container's stdin. */
  leaveStdinOpen?: boolean;
  /** `--full-attach`: the attach socket is `<bundleDir>/attach` (default true). */
  fullAttach?: boolean;
  /** `--socket-dir-path`, used only without `fullAttach`. */
  socketDirPath?: string;
  logLevel?: ConmonLogLevel;
  /** `--syslog`: conmon's own messages go to syslog (they are lost otherwise). */
  syslog?: boolean;
  /** `--exit-command` and `--exit-command-arg`s: run by conmon after the exit files are written. */
  exitCommand?: { path: string; args?: readonly string[] };
  /** `--runtime-arg --log-format=json --runtime-arg --log=<path>`. */
  ociLogPath?: string;
  /** `-e --exec-process-spec <path>` [`--exec-attach`]. */
  exec?: { processSpecPath: string; attach: boolean };
  /** `--no-sync-log`. */
  noSyncLog?: boolean;
}

/** argv (without the binary) for a conmon invocation. */
export function buildConmonArgs(a: ConmonArgs): string[] {
  const args = [
    '--api-version',
    '-c',
    a.containerId,
    '-u',
    a.sessionId,
    '-n',
    a.name ?? a.containerId,
    '-r',
    a.runtimePath,
    '-b',
    a.bundleDir,
    '-p',
    a.containerPidFile,
    '--exit-dir',
    a.exitDir,
  ];
  if (a.persistDir !== undefined) args.push('--persist-dir', a.persistDir);
  if (a.conmonPidFile !== undefined) args.push('--conmon-pidfile', a.conmonPidFile);
  if (a.fullAttach ?? true) args.push('--full-attach');
  else if (a.socketDirPath !== undefined) args.push('--socket-dir-path', a.socketDirPath);
  args.push('-l', a.logPath === undefined ? 'none' : `k8s-file:${a.logPath}`);
  if (a.logSizeMax !== undefined && a.logSizeMax > 0) args.push('--log-size-max', String(a.logSizeMax));
  if (a.logLevel !== undefined) args.push('--log-level', a.logLevel);
  if (a.syslog === true) args.push('--syslog');
  for (const arg of a.runtimeArgs ?? []) args.push('--runtime-arg', arg);
  if (a.ociLogPath !== undefined) {
    args.push('--runtime-arg', '--log-format=json', '--runtime-arg', `--log=${a.ociLogPath}`);
  }
  if (a.exec !== undefined) {
    args.push('-e');
    if (a.exec.attach) args.push('--exec-attach');
    args.push('--exec-process-spec', a.exec.processSpecPath);
  }
  // As Podman: with a pty, stdin always flows through the pty master; `-i` is for pipes only.
  if (a.terminal) args.push('-t');
  else if (a.stdin) args.push('-i');
  if (a.leaveStdinOpen === true) args.push('--leave-stdin-open');
  if (a.noSyncLog === true) args.push('--no-sync-log');
  if (a.exitCommand !== undefined) {
    args.push('--exit-command', a.exitCommand.path);
    for (const arg of a.exitCommand.args ?? []) args.push('--exit-command-arg', arg);
  }
  return args;
}

/** The attach socket of a bundle (or exec session) dir, with `--full-attach`. */
export function attachSocketPath(bundleDir: string): string {
  return join(bundleDir, 'attach');
}

/**
 * conmon binds `<dir>/attach` itself with --full-attach; a path longer than
 * sun_path (108 bytes with the NUL) makes it fail after it has detached from
 * our pipes, with no message. Refuse such a dir up front.
 */
export function checkAttachPath(bundleDir: string): void {
  const path = attachSocketPath(bundleDir);
  if (Buffer.byteLength(path) > 107) {
    throw new InvalidParameterError(
      `bundle dir too long for conmon's attach socket (${path}): keep it under 100 bytes`,
    );
  }
}

/** The control FIFO of a bundle (or exec session) dir. */
export function ctlPath(bundleDir: string): string {
  return join(bundleDir, 'ctl');
}

/** One message of conmon's sync/attach pipes. */
export interface SyncMessage {
  data: number;
  message?: string;
}

/** Parses one line written by conmon's `write_sync_fd`. */
export function parseSyncMessage(line: string): SyncMessage | undefined {
  try {
    const value = JSON.parse(line) as unknown;
    if (value !== null && typeof value === 'object') {
      const record = value as Record<string, unknown>;
      if (typeof record.data === 'number') {
        const msg: SyncMessage = { data: record.data };
        if (typeof record.message === 'string') msg.message = record.message;
        return msg;
      }
    }
  } catch {
    // conmon does not escape every control character; fall through to a lenient parse.
  }
  const data = /"(?:data|pid|exit_code)"\s*:\s*(-?\d+)/.exec(line);
  if (data === null) return undefined;
  const msg: SyncMessage = { data: Number(data[1]) };
  const message = /"message"\s*:\s*"([\s\S]*)"\s*\}\s*$/.exec(line);
  if (message?.[1] !== undefined) msg.message = message[1].replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1');
  return msg;
}

/**
 * Reads newline-terminated JSON messages from one of conmon's pipes.
 * `next()` resolves with the next message, or undefined at EOF.
 */
export class SyncReader {
  private buffer = '';
  private readonly queue: (SyncMessage | undefined)[] = [];
  private waiters: ((msg: SyncMessage | undefined) => void)[] = [];
  private ended = false;
  private readonly stream: Readable;

  constructor(stream: Readable) {
    this.stream = stream;
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => this.onData(chunk));
    const finish = (): void => this.onEnd();
    stream.on('end', finish);
    stream.on('close', finish);
    stream.on('error', finish);
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line === '') continue;
      const msg = parseSyncMessage(line);
      if (msg !== undefined) this.push(msg);
    }
  }

  private onEnd(): void {
    if (this.ended) return;
    this.ended = true;
    const rest = this.buffer.trim();
    this.buffer = '';
    if (rest !== '') {
      const msg = parseSyncMessage(rest);
      if (msg !== undefined) this.push(msg);
    }
    for (const waiter of this.waiters) waiter(undefined);
    this.waiters = [];
  }

  private push(msg: SyncMessage): void {
    const waiter = this.waiters.shift();
    if (waiter !== undefined) waiter(msg);
    else this.queue.push(msg);
  }

  /** The next message; undefined at EOF; rejects after `timeoutMs` if given. */
  next(timeoutMs?: number): Promise<SyncMessage | undefined> {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift());
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter = (msg: SyncMessage | undefined): void => {
        if (timer !== undefined) clearTimeout(timer);
        resolve(msg);
      };
      this.waiters.push(waiter);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(new SystemError(`conmon did not answer within ${timeoutMs} ms`));
        }, timeoutMs);
      }
    });
  }

  /** Stops reading and closes the stream. */
  destroy(): void {
    this.stream.destroy();
    this.onEnd();
  }
}

/** A spawned conmon with our ends of its pipes. */
export interface SpawnedConmon {
  child: ChildProcess;
  sync: SyncReader;
  /** The start pipe: one byte releases conmon (exec-attach: a second byte starts the exec). */
  start: Writable;
  /** `_OCI_ATTACHPIPE` (exec-attach only). */
  attach?: SyncReader;
  /** Resolves with the spawned conmon's exit code (it exits 0 right after forking). */
  exited: Promise<number | null>;
  /** What the spawned conmon wrote to stdout/stderr before it detached (errors such as bad flags). */
  output(): string;
  /** Destroys our pipe ends and unrefs the child so that the event loop can exit. */
  release(): void;
}

/** Spawns conmon with the sync and start pipes (and the attach pipe when asked). */
export function spawnConmon(
  path: string,
  args: readonly string[],
  options: { cwd: string; attachPipe?: boolean; env?: NodeJS.ProcessEnv },
): SpawnedConmon {
  const env: NodeJS.ProcessEnv = { ...(options.env ?? process.env) };
  // conmon forwards LISTEN_PID and NOTIFY_SOCKET to the container; the daemon's own must not leak.
  for (const key of ['NOTIFY_SOCKET', 'LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES', '_OCI_ATTACHPIPE']) {
    delete env[key];
  }
  env.PATH ??= '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  env._OCI_SYNCPIPE = '3';
  env._OCI_STARTPIPE = '4';
  const stdio: ('ignore' | 'pipe')[] = ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'];
  if (options.attachPipe === true) {
    stdio.push('pipe');
    env._OCI_ATTACHPIPE = '5';
  }
  const child = spawn(path, args, { cwd: options.cwd, detached: true, stdio, env });
  let output = '';
  const collect = (chunk: Buffer): void => {
    if (output.length < 64 * 1024) output += chunk.toString('utf8');
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', (err) => {
      output += errorMessage(err);
      resolve(null);
    });
    child.once('exit', (code) => resolve(code));
  });
  const syncStream = pipeAt(child, 3);
  const start = pipeAt(child, 4);
  // The start pipe may break (EPIPE) when conmon dies early; the sync EOF reports that.
  start.on('error', () => undefined);
  const sync = new SyncReader(syncStream);
  const attachStream = options.attachPipe === true ? pipeAt(child, 5) : undefined;
  const attach = attachStream === undefined ? undefined : new SyncReader(attachStream);
  let released = false;
  const spawned: SpawnedConmon = {
    child,
    sync,
    start,
    exited,
    output: () => output.trim(),
    release: () => {
      if (released) return;
      released = true;
      sync.destroy();
      attach?.destroy();
      start.destroy();
      child.stdout?.destroy();
      child.stderr?.destroy();
      child.unref();
    },
  };
  if (attach !== undefined) spawned.attach = attach;
  return spawned;
}

function pipeAt(child: ChildProcess, fd: number): Duplex {
  const stream = child.stdio[fd];
  if (!(stream instanceof Duplex)) throw new SystemError(`conmon: no pipe at fd ${fd}`);
  return stream;
}

/** Writes one byte to conmon's start pipe. */
export function writeStartByte(start: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    start.write(Buffer.from([0]), (err) => (err ? reject(err) : resolve()));
  });
}

export interface ConmonCreateOptions {
  /** The container id: `-c`, `-u` and the runtime's container id. */
  id: string;
  /** Holds config.json; conmon puts `attach` and `ctl` here. Keep it short (< 100 bytes). */
  bundleDir: string;
  runtime: OciRuntime;
  /** k8s-file log path; undefined for `-l none`. */
  logPath?: string;
  logSizeMax?: number;
  /** Must match the spec's `process.terminal`. */
  terminal: boolean;
  /** Keep the container's stdin open for attach (`-i`). */
  stdin: boolean;
  /** Created if missing. The exit file is `<exitDir>/<id>`. */
  exitDir: string;
  /** Created if missing; conmon writes `exit` and `oom` here. */
  persistDir: string;
  /** conmon's cwd (created if missing); holds `oci-log` and conmon's stray `oom` file. */
  conmonCwd: string;
  conmonPidFile: string;
  containerPidFile: string;
  logLevel?: ConmonLogLevel;
  /** `-n`; defaults to the id. */
  name?: string;
  syslog?: boolean;
  exitCommand?: { path: string; args?: readonly string[] };
  /** Where the runtime logs (JSON) during create. Default `<conmonCwd>/oci-log`. */
  ociLogPath?: string;
  /** Runs with the spawned conmon's pid before it is released (e.g. to move it into a cgroup). */
  beforeStart?: (spawnedPid: number) => Promise<void>;
  /** Called once conmon is released and the runtime's `create` is under way (work to overlap with it). */
  released?: () => void;
  /** Give up on the sync message after this long. Default 120 s. */
  timeoutMs?: number;
}

export interface ConmonCreateResult {
  /** The container's init pid on the host. */
  pid: number;
  /** The supervising conmon (the grandchild), from the conmon pid file. */
  conmonPid: number;
}

export interface ConmonOptions {
  /** The conmon binary. Default /usr/bin/conmon. */
  path?: string;
  /** Environment for conmon and the runtime it runs. Default: the daemon's. */
  env?: NodeJS.ProcessEnv;
}

/** Launches conmon for containers. Stateless: a new instance after a daemon restart works the same. */
export class Conmon {
  readonly path: string;
  readonly env: NodeJS.ProcessEnv | undefined;

  constructor(options: ConmonOptions = {}) {
    this.path = options.path ?? DEFAULT_CONMON_PATH;
    this.env = options.env;
  }

  /**
   * Creates the container under a new conmon. Resolves when the runtime's
   * `create` is done (state `created`); rejects with an {@link OciRuntimeError}
   * carrying the runtime's message when it failed.
   */
  async create(opts: ConmonCreateOptions): Promise<ConmonCreateResult> {
    checkAttachPath(opts.bundleDir);
    const ociLogPath = opts.ociLogPath ?? join(opts.conmonCwd, 'oci-log');
    await Promise.all([
      mkdir(opts.exitDir, { recursive: true }),
      mkdir(opts.persistDir, { recursive: true }),
      mkdir(opts.conmonCwd, { recursive: true }),
    ]);
    // Leftovers of a previous run of the same container would read as this run's results.
    await Promise.all(
      [
        join(opts.exitDir, opts.id),
        join(opts.persistDir, 'exit'),
        join(opts.persistDir, 'oom'),
        join(opts.conmonCwd, 'oom'),
        ociLogPath,
        opts.conmonPidFile,
        opts.containerPidFile,
      ].map((p) => rm(p, { force: true })),
    );
    const args: ConmonArgs = {
      containerId: opts.id,
      sessionId: opts.id,
      name: opts.name ?? opts.id,
      runtimePath: opts.runtime.path,
      runtimeArgs: opts.runtime.globalArgs(),
      bundleDir: opts.bundleDir,
      containerPidFile: opts.containerPidFile,
      conmonPidFile: opts.conmonPidFile,
      exitDir: opts.exitDir,
      persistDir: opts.persistDir,
      terminal: opts.terminal,
      stdin: opts.stdin,
      ociLogPath,
    };
    if (opts.logPath !== undefined) args.logPath = opts.logPath;
    if (opts.logSizeMax !== undefined) args.logSizeMax = opts.logSizeMax;
    if (opts.logLevel !== undefined) args.logLevel = opts.logLevel;
    if (opts.syslog !== undefined) args.syslog = opts.syslog;
    if (opts.exitCommand !== undefined) args.exitCommand = opts.exitCommand;

    const spawnOptions: { cwd: string; env?: NodeJS.ProcessEnv } = { cwd: opts.conmonCwd };
    if (this.env !== undefined) spawnOptions.env = this.env;
    const conmon = spawnConmon(this.path, buildConmonArgs(args), spawnOptions);
    const timeoutMs = opts.timeoutMs ?? 120_000;
    let released = false;
    try {
      if (conmon.child.pid === undefined) {
        await conmon.exited;
        throw new SystemError(`cannot run conmon (${this.path}): ${conmon.output()}`);
      }
      if (opts.beforeStart !== undefined) await opts.beforeStart(conmon.child.pid);
      await writeStartByte(conmon.start).catch(() => undefined);
      released = true;
      opts.released?.();
      let msg: SyncMessage | undefined;
      try {
        msg = await conmon.sync.next(timeoutMs);
      } catch (err) {
        if (conmon.child.exitCode === null) conmon.child.kill('SIGKILL');
        killConmonByPidFile(opts.conmonPidFile, opts.id);
        throw err;
      }
      // The spawned conmon exits right after forking, long before the sync message; bound the wait anyway.
      const exitCode = await Promise.race([conmon.exited, delay(5000, null)]);
      if (msg === undefined || msg.data < 0) {
        throw await createError(opts.runtime, 'create', msg, ociLogPath, conmon.output(), exitCode);
      }
      const conmonPid = readPidFile(opts.conmonPidFile);
      if (conmonPid === undefined) {
        throw new SystemError(`conmon did not write its pid file ${opts.conmonPidFile}`);
      }
      return { pid: msg.data, conmonPid };
    } catch (err) {
      // Before the start byte, conmon would read EOF on the start pipe and carry on: stop it.
      if (!released && conmon.child.exitCode === null) conmon.child.kill('SIGKILL');
      throw err;
    } finally {
      conmon.release();
    }
  }

  /**
   * The pid of the live conmon supervising container `id`, as recorded in
   * `conmonPidFile`, or undefined when that conmon is gone (or the pid now
   * belongs to another process).
   */
  running(conmonPidFile: string, id: string): number | undefined {
    const pid = readPidFile(conmonPidFile);
    if (pid === undefined) return undefined;
    return isConmonFor(pid, id) ? pid : undefined;
  }

  version(): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(this.path, ['--version'], { timeout: 10_000 }, (err, stdout) => {
        if (err !== null) reject(new SystemError(`conmon --version: ${err.message}`, { cause: err }));
        else resolve(/conmon version (\S+)/.exec(stdout)?.[1] ?? stdout.trim());
      });
    });
  }
}

function delay<T>(ms: number, value: T): Promise<T> {
  return new Promise((resolve) => setTimeout(() => resolve(value), ms).unref());
}

/** Kills a conmon known by its pid file, if it is still the one for `id`. */
function killConmonByPidFile(pidFile: string, id: string): void {
  const pid = readPidFile(pidFile);
  if (pid !== undefined && isConmonFor(pid, id)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * The error for a failed `create`/`exec`: the oci-log's message first (the
 * runtime wrote its error there), then the sync message (the runtime's
 * stderr), then whatever conmon itself printed.
 */
export async function createError(
  runtime: OciRuntime,
  what: 'create' | 'exec',
  msg: SyncMessage | undefined,
  ociLogPath: string | undefined,
  conmonOutput: string,
  conmonExitCode: number | null,
): Promise<OciRuntimeError> {
  let message = '';
  if (ociLogPath !== undefined) {
    try {
      message = parseRuntimeLog(await readFile(ociLogPath, 'utf8'));
    } catch {
      // no log written
    }
  }
  if (message === '' && msg?.message !== undefined) message = msg.message.trim();
  if (message === '' && conmonOutput !== '') message = `conmon: ${conmonOutput}`;
  if (message === '') {
    message =
      conmonExitCode !== null && conmonExitCode !== 0
        ? `conmon exited with status ${conmonExitCode}`
        : `${runtime.name} ${what} failed without a message`;
  }
  return new OciRuntimeError(`OCI runtime ${what} failed: ${message}`, {
    kind: 'system',
    runtimeMessage: message,
    command: [runtime.path, what],
  });
}

/** Parses an exit file's content: a decimal code, no newline. */
export function parseExitCode(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^-?\d+$/.test(trimmed)) return undefined;
  return Number(trimmed);
}

/** The exit code conmon recorded for `id` in `exitDir`, or undefined when none (yet). */
export async function readExit(exitDir: string, id: string): Promise<number | undefined> {
  try {
    return parseExitCode(await readFile(join(exitDir, id), 'utf8'));
  } catch {
    return undefined;
  }
}

/** The exit code in `<persistDir>/exit`, or undefined. */
export async function readPersistExit(persistDir: string): Promise<number | undefined> {
  return readExit(persistDir, 'exit');
}

/**
 * Docker's `OOMKilled`: conmon saw an OOM event in the container's cgroup
 * (`<persistDir>/oom`), or, when `memoryCgroupDir` is given (v1:
 * `/sys/fs/cgroup/memory/<cgroupsPath>`; v2: `/sys/fs/cgroup/<cgroupsPath>`),
 * the kernel's oom_kill counter there is non-zero. Pass the cgroup (and call
 * this before `runtime.delete` removes it): on cgroup v1 conmon 2.1.6 can miss
 * the event when the container exits right after the kill.
 */
export async function oomKilled(persistDir: string, memoryCgroupDir?: string): Promise<boolean> {
  try {
    await stat(join(persistDir, 'oom'));
    return true;
  } catch {
    // no marker: look at the cgroup
  }
  if (memoryCgroupDir === undefined) return false;
  return (await cgroupOomKills(memoryCgroupDir)) > 0;
}

/** The `oom_kill` count of a memory cgroup (v1 `memory.oom_control`, v2 `memory.events`); 0 when unreadable. */
export async function cgroupOomKills(memoryCgroupDir: string): Promise<number> {
  for (const file of ['memory.oom_control', 'memory.events']) {
    let text: string;
    try {
      text = await readFile(join(memoryCgroupDir, file), 'utf8');
    } catch {
      continue;
    }
    const m = /^oom_kill (\d+)$/m.exec(text);
    return m?.[1] === undefined ? 0 : Number(m[1]);
  }
  return 0;
}

export interface WatchExitsOptions {
  /** Rescan the dir this often, in case an inotify event is lost. Default 2000 ms. */
  intervalMs?: number;
  /** Report exit files already present when watching starts. Default true. */
  initial?: boolean;
}

/**
 * Calls `cb(id, code)` for every exit file that appears (or is replaced) in
 * `exitDir`: fs.watch for speed, plus a periodic rescan. Each distinct file
 * (by inode and mtime) is reported once. Names with a dot are ignored (conmon's
 * temp files), so container ids must not contain dots. Returns a function that stops
 * watching. Neither the watcher nor the timer keeps the process alive.
 */
export function watchExits(
  exitDir: string,
  cb: (id: string, code: number) => void,
  options: WatchExitsOptions = {},
): () => void {
  const seen = new Map<string, string>();
  let stopped = false;
  let watcher: FSWatcher | undefined;

  const check = async (name: string): Promise<void> => {
    // conmon writes `<id>.XXXXXX` (GLib's g_file_set_contents) and renames it; ids have no dots.
    if (stopped || name.includes('.') || name.endsWith('~')) return;
    const path = join(exitDir, name);
    try {
      const st = await stat(path);
      if (!st.isFile()) return;
      const key = `${st.ino}:${st.mtimeMs}:${st.size}`;
      if (seen.get(name) === key) return;
      const code = parseExitCode(await readFile(path, 'utf8'));
      if (code === undefined || stopped) return;
      if (seen.get(name) === key) return;
      seen.set(name, key);
      cb(name, code);
    } catch {
      seen.delete(name);
    }
  };

  const scan = async (): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(exitDir);
    } catch {
      return;
    }
    const present = new Set(names);
    for (const name of seen.keys()) if (!present.has(name)) seen.delete(name);
    for (const name of names) await check(name);
  };

  const initial = options.initial ?? true;
  if (initial) void scan();
  else {
    // Remember what is there so that only new exits are reported.
    void (async () => {
      try {
        for (const name of await readdir(exitDir)) {
          const st = await stat(join(exitDir, name));
          seen.set(name, `${st.ino}:${st.mtimeMs}:${st.size}`);
        }
      } catch {
        // dir missing: the rescan picks things up later
      }
    })();
  }
  try {
    watcher = watch(exitDir, { persistent: false }, (_event, filename) => {
      if (typeof filename === 'string' && filename !== '') void check(filename);
      else void scan();
    });
    watcher.on('error', () => {
      watcher?.close();
      watcher = undefined;
    });
  } catch {
    watcher = undefined;
  }
  const timer = setInterval(() => void scan(), options.intervalMs ?? 2000);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
    watcher?.close();
  };
}

/**
 * Writes one line to the `ctl` FIFO of a bundle (or exec session) dir. The
 * FIFO is opened non-blocking: when no conmon reads it any more the open fails
 * with ENXIO, reported as a ConflictError ("not running").
 */
export async function writeCtl(bundleDir: string, line: string): Promise<void> {
  const path = ctlPath(bundleDir);
  let handle;
  try {
    handle = await open(path, constants.O_WRONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENXIO' || code === 'ENOENT') {
      throw new ConflictError(`container is not running (no conmon on ${path})`, { cause: err });
    }
    throw new SystemError(`cannot open ${path}: ${errorMessage(err)}`, { cause: err });
  }
  try {
    await handle.write(line.endsWith('\n') ? line : `${line}\n`);
  } catch (err) {
    throw new SystemError(`cannot write to ${path}: ${errorMessage(err)}`, { cause: err });
  } finally {
    await handle.close();
  }
}

/**
 * Resizes the container's (or exec session's) pty. Works before `start` too,
 * but asynchronously: conmon applies it from its event loop once it holds
 * the pty master, with no acknowledgement. For the size a process sees when
 * it starts, put `process.consoleSize` in the spec (exec.ts does for execs).
 */
export async function resize(bundleDir: string, rows: number, cols: number): Promise<void> {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new InvalidParameterError(`invalid terminal size ${rows}x${cols}`);
  }
  await writeCtl(bundleDir, `1 ${rows} ${cols}\n`);
}

/** Makes conmon reopen its log file (after the daemon renamed it for rotation). */
export async function reopenLog(bundleDir: string): Promise<void> {
  await writeCtl(bundleDir, '2 0 0\n');
}
