/**
 * `docker exec` through conmon: `conmon -e [--exec-attach] --exec-process-spec
 * <process.json>`, which runs `<runtime> exec --detach --process <spec>` and
 * supervises the new process the way it supervises a container.
 *
 * With attach (three pipes: sync = fd 3, start = fd 4, attach = fd 5):
 *   1. write one byte to start: conmon forks and sets up `<session>/attach`;
 *   2. read `{"data": 0}` from the attach pipe: the socket is listening;
 *   3. optionally resize through `<session>/ctl` (tty);
 *   4. connect to the attach socket;
 *   5. write a second byte to start: only now does the runtime exec run, so
 *      no output is lost;
 *   6. read `{"data": <pid>}` and later `{"data": <exit code>}` from sync.
 * Detached (no attach): one start byte, then step 6; output goes to the log
 * file given, or nowhere.
 *
 * One session dir per exec (keep it short: `<session>/attach` must fit in
 * sun_path's 108 bytes):
 *
 *   <sessionDir>/process.json      the OCI process (written here)
 *   <sessionDir>/attach, ctl, winsz   conmon's socket and FIFOs
 *   <sessionDir>/exit/<containerId>   exit code (conmon names it after -c)
 *   <sessionDir>/exec.pid          the exec process's host pid (runtime)
 *   <sessionDir>/conmon.pid        the supervising conmon
 *   <sessionDir>/oci-log           the runtime's JSON log of the exec call
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SystemError } from '../errors.js';
import { attachContainer, type ContainerAttach } from './attach.js';
import {
  attachSocketPath,
  buildConmonArgs,
  checkAttachPath,
  createError,
  readExit,
  resize,
  spawnConmon,
  writeStartByte,
  type Conmon,
  type ConmonArgs,
  type ConmonLogLevel,
  type SpawnedConmon,
} from './conmon.js';
import type { OciRuntime } from './oci-runtime.js';
import { isConmonFor, readPidFile } from './proc.js';

/** The OCI `process` object of an exec. Extra OCI fields (capabilities, rlimits, ...) pass through. */
export interface ExecProcessSpec {
  terminal: boolean;
  user: { uid: number; gid: number; additionalGids?: number[] };
  args: string[];
  env: string[];
  cwd: string;
  [field: string]: unknown;
}

export interface ExecOptions {
  conmon: Conmon;
  runtime: OciRuntime;
  /** The running container. */
  containerId: string;
  /** Unique per exec; conmon's `-u`. */
  sessionId: string;
  /** Created if missing; see the layout above. */
  sessionDir: string;
  process: ExecProcessSpec;
  /** Stream output (and stdin) through the session's attach socket. */
  attach: boolean;
  /** Give a non-tty exec a stdin pipe (`-i`). A tty always has stdin. */
  stdin?: boolean;
  /** Detached output: a k8s-file log. Without it (and without attach) output is dropped. */
  logPath?: string;
  /** Initial pty size, applied before the process starts. */
  size?: { rows: number; cols: number };
  logLevel?: ConmonLogLevel;
  exitCommand?: { path: string; args?: readonly string[] };
  /** Runs with the spawned conmon's pid before it is released (cgroup moves). */
  beforeStart?: (spawnedPid: number) => Promise<void>;
  /** Give up waiting for conmon's first answers after this long. Default 60 s. */
  timeoutMs?: number;
}

export interface ExecSession {
  sessionDir: string;
  /** The supervising conmon, once it wrote its pid file. */
  conmonPid: number | undefined;
  /** The exec process's host pid; rejects with the runtime's message when the exec failed. */
  pid: Promise<number>;
  /** The exit code (128+signal for a signal); rejects when the exec failed. */
  exitCode: Promise<number>;
  /** The attach connection (attach mode only), connected before the process started. */
  attach: ContainerAttach | undefined;
}

/** Paths inside an exec session dir. */
export function execSessionPaths(sessionDir: string): {
  processSpec: string;
  exitDir: string;
  pidFile: string;
  conmonPidFile: string;
  ociLog: string;
  attachSocket: string;
} {
  return {
    processSpec: join(sessionDir, 'process.json'),
    exitDir: join(sessionDir, 'exit'),
    pidFile: join(sessionDir, 'exec.pid'),
    conmonPidFile: join(sessionDir, 'conmon.pid'),
    ociLog: join(sessionDir, 'oci-log'),
    attachSocket: attachSocketPath(sessionDir),
  };
}

/** Starts an exec. Resolves once the process has been released to run (attach connected first). */
export async function execInContainer(opts: ExecOptions): Promise<ExecSession> {
  checkAttachPath(opts.sessionDir);
  const paths = execSessionPaths(opts.sessionDir);
  const timeoutMs = opts.timeoutMs ?? 60_000;
  await mkdir(paths.exitDir, { recursive: true });
  await Promise.all(
    [join(paths.exitDir, opts.containerId), paths.pidFile, paths.conmonPidFile, paths.ociLog].map((p) =>
      rm(p, { force: true }),
    ),
  );
  const spec: ExecProcessSpec = { ...opts.process };
  if (opts.size !== undefined && spec.terminal && spec.consoleSize === undefined) {
    // The runtime sizes the pty before the process runs. A ctl resize alone races with
    // the process: conmon applies it only after it has received the pty master.
    spec.consoleSize = { height: opts.size.rows, width: opts.size.cols };
  }
  await writeFile(paths.processSpec, JSON.stringify(spec));

  const args: ConmonArgs = {
    containerId: opts.containerId,
    sessionId: opts.sessionId,
    name: opts.containerId,
    runtimePath: opts.runtime.path,
    runtimeArgs: opts.runtime.globalArgs(),
    bundleDir: opts.sessionDir,
    containerPidFile: paths.pidFile,
    conmonPidFile: paths.conmonPidFile,
    exitDir: paths.exitDir,
    terminal: opts.process.terminal,
    stdin: opts.stdin ?? false,
    ociLogPath: paths.ociLog,
    exec: { processSpecPath: paths.processSpec, attach: opts.attach },
  };
  if (opts.logPath !== undefined) args.logPath = opts.logPath;
  if (opts.logLevel !== undefined) args.logLevel = opts.logLevel;
  if (opts.exitCommand !== undefined) args.exitCommand = opts.exitCommand;

  const spawnOptions: { cwd: string; attachPipe: boolean; env?: NodeJS.ProcessEnv } = {
    cwd: opts.sessionDir,
    attachPipe: opts.attach,
  };
  if (opts.conmon.env !== undefined) spawnOptions.env = opts.conmon.env;
  const conmon = spawnConmon(opts.conmon.path, buildConmonArgs(args), spawnOptions);

  const abort = async (err: unknown): Promise<never> => {
    if (conmon.child.exitCode === null) conmon.child.kill('SIGKILL');
    const pid = readPidFile(paths.conmonPidFile);
    if (pid !== undefined && isConmonFor(pid, opts.containerId, opts.sessionId)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    conmon.release();
    await Promise.resolve();
    throw err;
  };

  if (conmon.child.pid === undefined) {
    await conmon.exited;
    return abort(new SystemError(`cannot run conmon (${opts.conmon.path}): ${conmon.output()}`));
  }

  let attach: ContainerAttach | undefined;
  try {
    if (opts.beforeStart !== undefined) await opts.beforeStart(conmon.child.pid);
    await writeStartByte(conmon.start);
    if (opts.attach) {
      const ready = await conmon.attach?.next(timeoutMs);
      if (ready === undefined || ready.data < 0) {
        // conmon died before it listened; the sync pipe may say why.
        const msg = await conmon.sync.next(1000).catch(() => undefined);
        throw await createError(
          opts.runtime,
          'exec',
          msg ?? ready,
          paths.ociLog,
          conmon.output(),
          conmon.child.exitCode,
        );
      }
      if (opts.size !== undefined && opts.process.terminal) {
        await resize(opts.sessionDir, opts.size.rows, opts.size.cols);
      }
      attach = await attachContainer(paths.attachSocket);
      await writeStartByte(conmon.start);
    } else if (opts.size !== undefined && opts.process.terminal) {
      // Detached with a tty: best effort, the ctl FIFO appears once conmon has forked.
      await resize(opts.sessionDir, opts.size.rows, opts.size.cols).catch(() => undefined);
    }
  } catch (err) {
    attach?.close();
    return abort(err);
  }

  // The spawned conmon writes the pid file of its forked self just before it exits.
  await Promise.race([conmon.exited, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
  const session = watchSession(opts, conmon, paths, timeoutMs);
  return {
    sessionDir: opts.sessionDir,
    conmonPid: readPidFile(paths.conmonPidFile),
    pid: session.pid,
    exitCode: session.exitCode,
    attach,
  };
}

function watchSession(
  opts: ExecOptions,
  conmon: SpawnedConmon,
  paths: ReturnType<typeof execSessionPaths>,
  timeoutMs: number,
): { pid: Promise<number>; exitCode: Promise<number> } {
  const pid = (async () => {
    let msg;
    try {
      msg = await conmon.sync.next(timeoutMs);
    } catch (err) {
      conmon.release();
      throw err;
    }
    if (msg === undefined || msg.data < 0) {
      conmon.release();
      throw await createError(
        opts.runtime,
        'exec',
        msg,
        paths.ociLog,
        conmon.output(),
        conmon.child.exitCode,
      );
    }
    return msg.data;
  })();
  const exitCode = (async () => {
    await pid;
    const msg = await conmon.sync.next();
    conmon.release();
    if (msg !== undefined && msg.data >= 0) return msg.data;
    if (msg?.message !== undefined) {
      throw new SystemError(`exec ${opts.sessionId}: ${msg.message.trim()}`);
    }
    const code = await readExit(paths.exitDir, opts.containerId);
    if (code === undefined) {
      throw new SystemError(`exec ${opts.sessionId}: conmon exited without an exit code`);
    }
    return code;
  })();
  // Callers may await only one of them; neither may surface as an unhandled rejection.
  pid.catch(() => undefined);
  exitCode.catch(() => undefined);
  return { pid, exitCode };
}
