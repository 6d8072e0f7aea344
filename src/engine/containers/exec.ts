import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { ConflictError, InvalidParameterError, NotFoundError } from '../../errors.js';
import type { AttachConnection } from './driver.js';
import { attachOutput, type OutputChunk } from './io.js';
import type { Container, ContainerService } from './service.js';
import { readUserFiles, resolveUser } from './users.js';

export interface ExecConfig {
  Cmd: string[];
  Env: string[];
  User: string;
  WorkingDir: string;
  Tty: boolean;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  Privileged: boolean;
  DetachKeys: string;
  ConsoleSize?: [number, number] | null;
}

export interface ExecRecord {
  ID: string;
  ContainerID: string;
  Config: ExecConfig;
  Running: boolean;
  ExitCode: number | null;
  Pid: number;
  started: boolean;
  sessionDir: string;
  /** Resolves when the process has exited. */
  done?: Promise<number>;
  /** Why the process never started (the runtime's message), if it did not. */
  startError?: string | undefined;
}

/**
 * `docker exec`: processes started in a running container through conmon
 * (`conmon -e`), each with its own session dir, attach socket and exit file.
 */
export class ExecService {
  private readonly containers: ContainerService;
  private readonly execs = new Map<string, ExecRecord>();

  constructor(containers: ContainerService) {
    this.containers = containers;
    containers.hooks.beforeRemove.push((c) => this.forget(c));
  }

  get(id: string): ExecRecord {
    const rec = this.execs.get(id);
    if (!rec) throw new NotFoundError(`No such exec instance: ${id}`);
    return rec;
  }

  create(ref: string, config: Partial<ExecConfig>): string {
    const c = this.containers.get(ref);
    if (c.state.Status === 'paused') {
      throw new ConflictError(`Container ${c.id} is paused, unpause the container before exec`);
    }
    if (c.state.Status !== 'running') throw new ConflictError(`Container ${c.id} is not running`);
    const cmd = config.Cmd ?? [];
    if (cmd.length === 0) throw new InvalidParameterError('No exec command specified');
    const id = randomBytes(32).toString('hex');
    const record: ExecRecord = {
      ID: id,
      ContainerID: c.id,
      Config: {
        Cmd: cmd,
        Env: config.Env ?? [],
        User: config.User ?? '',
        WorkingDir: config.WorkingDir ?? '',
        Tty: config.Tty ?? false,
        AttachStdin: config.AttachStdin ?? false,
        AttachStdout: config.AttachStdout ?? false,
        AttachStderr: config.AttachStderr ?? false,
        Privileged: config.Privileged ?? false,
        DetachKeys: config.DetachKeys ?? '',
        ConsoleSize: config.ConsoleSize ?? null,
      },
      Running: false,
      ExitCode: null,
      Pid: 0,
      started: false,
      sessionDir: join(this.containers.deps.execRoot, 'e', id.slice(0, 12)),
    };
    this.execs.set(id, record);
    c.execIds.add(id);
    this.containers.publish(c, `exec_create: ${cmd.join(' ')}`, { execID: id });
    return id;
  }

  /**
   * Starts an exec. Detached: returns once it runs. Attached: returns its
   * output and stdin connection; the process is released only after the
   * connection is up, so no output is lost.
   */
  async start(
    id: string,
    options: { detach: boolean; size?: { rows: number; cols: number } | undefined },
  ): Promise<{
    output?: AsyncIterable<OutputChunk>;
    connection?: AttachConnection;
    exitCode: Promise<number>;
  }> {
    const rec = this.get(id);
    if (rec.started) throw new ConflictError(`Exec ${id} has already been started`);
    const c = this.containers.get(rec.ContainerID);
    if (c.state.Status !== 'running') throw new ConflictError(`Container ${c.id} is not running`);
    rec.started = true;
    const process = await this.processSpec(c, rec);
    const attach = !options.detach;
    const handle = await this.containers.deps.driver.exec({
      containerId: c.id,
      runtime: c.record.Runtime,
      sessionId: id,
      sessionDir: rec.sessionDir,
      process,
      terminal: rec.Config.Tty,
      stdin: rec.Config.AttachStdin,
      attach,
      size:
        options.size ??
        (rec.Config.ConsoleSize
          ? { rows: rec.Config.ConsoleSize[0], cols: rec.Config.ConsoleSize[1] }
          : undefined),
    });
    rec.Running = true;
    this.containers.publish(c, `exec_start: ${rec.Config.Cmd.join(' ')}`, { execID: id });
    void handle.pid.then(
      (pid) => {
        rec.Pid = pid;
      },
      () => undefined,
    );
    // An exec that never started: Docker's exit codes (127 not found, 126 not runnable) and the runtime's message.
    let startFailure: string | undefined;
    const exitCode = handle.exitCode.then(
      (code) => code,
      (err: unknown) => {
        const message = (err as Error).message;
        startFailure = message.startsWith('OCI runtime') ? message : `OCI runtime exec failed: ${message}`;
        return /not found|no such file/i.test(startFailure) ? 127 : 126;
      },
    );
    rec.done = exitCode.then(async (code) => {
      rec.startError = startFailure;
      rec.Running = false;
      rec.ExitCode = code;
      this.containers.publish(c, 'exec_die', { execID: id, exitCode: String(code) });
      await rm(rec.sessionDir, { recursive: true, force: true }).catch(() => undefined);
      return code;
    });
    if (!attach || !handle.attach) return { exitCode: rec.done };
    const connection = handle.attach;
    const output = attachOutput(connection, { closeWhenDone: false });
    return { output, connection, exitCode: rec.done };
  }

  async resize(id: string, rows: number, cols: number): Promise<void> {
    const rec = this.get(id);
    if (!rec.Running) throw new ConflictError(`Exec ${id} is not running`);
    await this.containers.deps.driver.resize(rec.sessionDir, rows, cols);
  }

  /** The OCI process of an exec: the container's own process settings with the exec's command, user, env and cwd. */
  private async processSpec(c: Container, rec: ExecRecord): Promise<object> {
    const bundleConfig = JSON.parse(
      await readFile(join(this.containers.bundleDir(c), 'config.json'), 'utf8'),
    ) as {
      process: Record<string, unknown> & { env?: string[]; cwd?: string };
      root: { path: string };
    };
    const base = bundleConfig.process;
    const user = rec.Config.User
      ? await readUserFiles(bundleConfig.root.path).then((f) =>
          resolveUser(rec.Config.User, f.passwd, f.group),
        )
      : undefined;
    const env = new Map<string, string>();
    for (const e of [...(base.env ?? []), ...rec.Config.Env]) {
      const eq = e.indexOf('=');
      env.set(eq === -1 ? e : e.slice(0, eq), e);
    }
    if (rec.Config.Tty && !env.has('TERM')) env.set('TERM', 'TERM=xterm');
    // Another user gets its own HOME, unless the exec's environment sets one.
    if (user && !rec.Config.Env.some((e) => e.startsWith('HOME=')))
      env.set('HOME', `HOME=${user.home || '/'}`);
    const process: Record<string, unknown> = {
      ...base,
      terminal: rec.Config.Tty,
      args: rec.Config.Cmd,
      env: [...env.values()],
      cwd: rec.Config.WorkingDir || base.cwd || '/',
      ...(user ? { user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids } } : {}),
    };
    if (rec.Config.Privileged) {
      const caps = (base['capabilities'] as Record<string, string[]> | undefined) ?? {};
      const { ALL_CAPABILITIES } = await import('../../runtime/capabilities.js');
      const all = [...ALL_CAPABILITIES];
      process['capabilities'] = { ...caps, bounding: all, effective: all, permitted: all };
    }
    return process;
  }

  inspect(id: string): ExecRecord {
    return this.get(id);
  }

  private forget(c: Container): Promise<void> {
    for (const id of c.execIds) this.execs.delete(id);
    return Promise.resolve();
  }
}
