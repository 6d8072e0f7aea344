/**
 * What the container service needs from the runtime layer (conmon + an OCI
 * runtime). The implementation (runtime-driver.ts) adapts src/runtime;
 * keeping this seam small lets the service be read without the protocol
 * details, and lets the protocol change without touching Docker semantics.
 */
export interface AttachConnection {
  on(event: 'stdout' | 'stderr', listener: (chunk: Buffer) => void): void;
  write(chunk: Buffer): Promise<void>;
  closeStdin(): void;
  close(): void;
  readonly ended: Promise<void>;
}

export interface CreateOptions {
  id: string;
  runtime: string;
  bundleDir: string;
  /** The OCI config.json content. */
  spec: object;
  logPath: string;
  terminal: boolean;
  stdin: boolean;
  persistDir: string;
  /** conmon's working directory (it drops an `oom` file there). */
  cwd: string;
  /** Called once the runtime's create is under way, for work that can overlap with it. */
  creating?: () => void;
}

export interface ExecOptions {
  containerId: string;
  runtime: string;
  sessionId: string;
  sessionDir: string;
  process: object;
  terminal: boolean;
  stdin: boolean;
  attach: boolean;
  size?: { rows: number; cols: number } | undefined;
}

export interface ExecHandle {
  pid: Promise<number>;
  exitCode: Promise<number>;
  attach?: AttachConnection | undefined;
}

export interface RuntimeDriver {
  /** Runs conmon + `runtime create`; the container is `created` afterwards. */
  create(options: CreateOptions): Promise<{ pid: number; conmonPid: number }>;
  start(runtime: string, id: string): Promise<void>;
  kill(runtime: string, id: string, signal: string): Promise<void>;
  delete(runtime: string, id: string): Promise<void>;
  state(runtime: string, id: string): Promise<{ status: string; pid: number } | undefined>;
  pause(runtime: string, id: string): Promise<void>;
  resume(runtime: string, id: string): Promise<void>;
  update(runtime: string, id: string, resources: object): Promise<void>;
  pids(runtime: string, id: string): Promise<number[]>;
  attach(bundleDir: string): Promise<AttachConnection>;
  resize(bundleDir: string, rows: number, cols: number): Promise<void>;
  reopenLog(bundleDir: string): Promise<void>;
  /** The exit code conmon recorded, if the container has exited. */
  readExit(id: string): Promise<number | undefined>;
  clearExit(id: string): Promise<void>;
  /** Whether the container was OOM-killed: conmon's marker, or the memory cgroup's oom_kill count (read before delete). */
  oomKilled(persistDir: string, memoryCgroupDir?: string): Promise<boolean>;
  /** Calls back once per exit file that appears; returns a stop function. */
  watchExits(onExit: (id: string) => void): () => void;
  conmonAlive(conmonPid: number, id: string): boolean;
  exec(options: ExecOptions): Promise<ExecHandle>;
  /** The runtimes this host can use, by name. */
  runtimes(): string[];
}
