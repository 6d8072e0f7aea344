import { mkdirSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { InvalidParameterError } from '../../errors.js';
import { attachContainer, type ContainerAttach } from '../../runtime/attach.js';
import { execInContainer, type ExecProcessSpec } from '../../runtime/exec.js';
import { Conmon, oomKilled, readExit, reopenLog, resize, watchExits } from '../../runtime/conmon.js';
import { OciRuntime } from '../../runtime/oci-runtime.js';
import { isConmonFor } from '../../runtime/proc.js';
import type { Logger } from '../../util/log.js';
import type { AttachConnection, CreateOptions, ExecHandle, ExecOptions, RuntimeDriver } from './driver.js';

export interface ConmonDriverOptions {
  conmonPath: string;
  /** Runtime name → binary (or wrapper) path, for runtimes that work on this host. */
  runtimes: Record<string, string>;
  /** `<exec-root>`: runtime state dirs and exit files live below it. */
  execRoot: string;
  logger: Logger;
  logLevel: 'debug' | 'info' | 'warning' | 'error';
}

/**
 * The runtime driver on conmon + runc/crun: one conmon per container,
 * exit files in `<exec-root>/exits`, each runtime's state under
 * `<exec-root>/runtime/<name>` (apart from other engines on the host).
 */
export class ConmonDriver implements RuntimeDriver {
  private readonly conmon: Conmon;
  private readonly ociRuntimes = new Map<string, OciRuntime>();
  private readonly exitDir: string;
  private readonly options: ConmonDriverOptions;

  constructor(options: ConmonDriverOptions) {
    this.options = options;
    this.conmon = new Conmon({ path: options.conmonPath });
    this.exitDir = join(options.execRoot, 'exits');
    for (const [name, path] of Object.entries(options.runtimes)) {
      this.ociRuntimes.set(
        name,
        new OciRuntime({ path, root: join(options.execRoot, 'runtime', name), name }),
      );
    }
  }

  runtimes(): string[] {
    return [...this.ociRuntimes.keys()];
  }

  runtime(name: string): OciRuntime {
    const rt = this.ociRuntimes.get(name);
    if (!rt) throw new InvalidParameterError(`unknown or invalid runtime name: ${name}`);
    return rt;
  }

  async create(o: CreateOptions): Promise<{ pid: number; conmonPid: number }> {
    await mkdir(o.bundleDir, { recursive: true, mode: 0o700 });
    await writeFile(join(o.bundleDir, 'config.json'), JSON.stringify(o.spec));
    await mkdir(this.exitDir, { recursive: true });
    return this.conmon.create({
      id: o.id,
      bundleDir: o.bundleDir,
      runtime: this.runtime(o.runtime),
      logPath: o.logPath,
      terminal: o.terminal,
      stdin: o.stdin,
      exitDir: this.exitDir,
      persistDir: o.persistDir,
      conmonCwd: o.cwd,
      conmonPidFile: join(o.bundleDir, 'conmon.pid'),
      containerPidFile: join(o.bundleDir, 'pidfile'),
      logLevel: this.options.logLevel,
      ...(o.creating ? { released: o.creating } : {}),
    });
  }

  start(runtime: string, id: string): Promise<void> {
    return this.runtime(runtime).start(id);
  }

  kill(runtime: string, id: string, signal: string): Promise<void> {
    return this.runtime(runtime).kill(id, signal.replace(/^SIG/, ''));
  }

  /** `delete --force`; a container the runtime does not know is already gone (no `state` round trip first). */
  async delete(runtime: string, id: string): Promise<void> {
    try {
      await this.runtime(runtime).delete(id, true);
    } catch (err) {
      if ((err as { kind?: string }).kind === 'not-found') return;
      throw err;
    }
  }

  async state(runtime: string, id: string): Promise<{ status: string; pid: number } | undefined> {
    const s = await this.runtime(runtime).state(id);
    return s ? { status: s.status, pid: s.pid } : undefined;
  }

  pause(runtime: string, id: string): Promise<void> {
    return this.runtime(runtime).pause(id);
  }

  resume(runtime: string, id: string): Promise<void> {
    return this.runtime(runtime).resume(id);
  }

  async update(runtime: string, id: string, resources: object): Promise<void> {
    const dir = join(this.options.execRoot, 'tmp');
    await mkdir(dir, { recursive: true });
    const file = join(dir, `update-${id}.json`);
    await writeFile(file, JSON.stringify(resources));
    try {
      await this.runtime(runtime).update(id, file);
    } finally {
      await rm(file, { force: true });
    }
  }

  pids(runtime: string, id: string): Promise<number[]> {
    return this.runtime(runtime).ps(id);
  }

  async attach(bundleDir: string): Promise<AttachConnection> {
    return wrapAttach(await attachContainer(join(bundleDir, 'attach')));
  }

  resize(bundleDir: string, rows: number, cols: number): Promise<void> {
    return resize(bundleDir, rows, cols);
  }

  reopenLog(bundleDir: string): Promise<void> {
    return reopenLog(bundleDir);
  }

  readExit(id: string): Promise<number | undefined> {
    return readExit(this.exitDir, id);
  }

  async clearExit(id: string): Promise<void> {
    await rm(join(this.exitDir, id), { force: true });
  }

  oomKilled(persistDir: string, memoryCgroupDir?: string): Promise<boolean> {
    return oomKilled(persistDir, memoryCgroupDir);
  }

  watchExits(onExit: (id: string) => void): () => void {
    mkdirSync(this.exitDir, { recursive: true });
    return watchExits(this.exitDir, (id) => onExit(id), { initial: false });
  }

  conmonAlive(conmonPid: number, id: string): boolean {
    return isConmonFor(conmonPid, id);
  }

  async exec(o: ExecOptions): Promise<ExecHandle> {
    const session = await execInContainer({
      conmon: this.conmon,
      runtime: this.runtime(o.runtime),
      containerId: o.containerId,
      sessionId: o.sessionId,
      sessionDir: o.sessionDir,
      process: o.process as ExecProcessSpec,
      attach: o.attach,
      stdin: o.stdin,
      size: o.size,
      // conmon's debug lines would end up in the exec's own output.
      logLevel: 'warning',
    });
    return {
      pid: session.pid,
      exitCode: session.exitCode,
      attach: session.attach ? wrapAttach(session.attach) : undefined,
    };
  }
}

function wrapAttach(conn: ContainerAttach): AttachConnection {
  return {
    on: (event, listener) => {
      conn.on(event, listener);
    },
    write: (chunk) => conn.write(chunk).catch(() => undefined),
    closeStdin: () => {
      void conn.closeStdin().catch(() => undefined);
    },
    close: () => conn.close(),
    ended: conn.ended,
  };
}
