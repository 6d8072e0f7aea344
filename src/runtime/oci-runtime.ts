/**
 * A thin driver for an OCI runtime binary (runc, or crun through the wrapper
 * of crun-wrapper.ts), with a private state root so that berth's containers
 * are kept apart from those of other engines on the same host.
 *
 * Lifecycle of a container as the runtime sees it:
 *
 *   (conmon runs `create`) -> created --start--> running <--pause/resume--> paused
 *                                                 |
 *                                       exit or kill
 *                                                 v
 *                                              stopped --delete--> (unknown)
 *
 * berth never runs `create` itself: conmon does, so that conmon becomes the
 * container's parent and survives the daemon (see conmon.ts). Everything else
 * goes through this class.
 *
 * Every command runs with `--log-format=json`, so the runtime's stderr is a
 * sequence of `{"level","msg","time"}` objects; the `msg` of the error lines
 * becomes the message of the thrown {@link OciRuntimeError}.
 */
import { execFile } from 'node:child_process';
import { basename } from 'node:path';
import { BerthError, type ErrorKind } from '../errors.js';

/** The statuses of the OCI runtime spec. */
export type OciStatus = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

/** The output of `<runtime> state <id>` (the OCI state plus runc/crun extras). */
export interface OciState {
  ociVersion: string;
  id: string;
  status: OciStatus;
  /** The container's init pid on the host; 0 once stopped. */
  pid: number;
  bundle: string;
  rootfs?: string;
  created?: string;
  annotations?: Record<string, string>;
}

export interface OciRuntimeVersion {
  /** e.g. `runc`, `crun` */
  name: string;
  /** e.g. `1.1.5+ds1` */
  version: string;
  /** The OCI runtime-spec version the runtime implements, when it says. */
  spec?: string;
  /** The full `--version` output. */
  text: string;
}

export interface OciRuntimeOptions {
  /** Absolute path of the runtime binary (or of the crun wrapper script). */
  path: string;
  /** The runtime's state dir (`--root`). Private to berth; created by the runtime on demand. */
  root: string;
  /** Name used in error messages; defaults to the binary's basename. */
  name?: string;
  /** Kill a runtime command that takes longer than this. Default 60 s. */
  timeoutMs?: number;
}

/**
 * A failed runtime command. `kind` is chosen from the runtime's message:
 * 'not-found' when the container does not exist, 'conflict' when it is in the
 * wrong state for the command, 'system' otherwise.
 */
export class OciRuntimeError extends BerthError {
  override readonly kind: ErrorKind;
  /** The runtime's own message (the `msg` of its error log lines, or its raw stderr). */
  readonly runtimeMessage: string;
  /** argv of the failed command, binary first. */
  readonly command: readonly string[];
  /** The exit code, or undefined when the command was killed or could not be run. */
  readonly exitCode: number | undefined;
  readonly stderr: string;

  constructor(
    message: string,
    details: {
      kind?: ErrorKind;
      runtimeMessage: string;
      command: readonly string[];
      exitCode?: number | undefined;
      stderr?: string;
      cause?: unknown;
    },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.kind = details.kind ?? 'system';
    this.runtimeMessage = details.runtimeMessage;
    this.command = details.command;
    this.exitCode = details.exitCode;
    this.stderr = details.stderr ?? '';
  }
}

/**
 * Extracts the error messages from a runtime's stderr. Handles the JSON log
 * format (one object per line, and runc sometimes omits the newline between
 * objects), logrus text (`level=error msg="..."`) and plain text.
 */
export function parseRuntimeStderr(stderr: string): string {
  const text = stderr.trim();
  if (text === '') return '';
  const messages: string[] = [];
  const fallback: string[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '') continue;
    if (trimmed.startsWith('{')) {
      const parts = trimmed.split(/(?<=\})\s*(?=\{)/);
      let parsedAll = true;
      for (const part of parts) {
        const entry = parseLogObject(part);
        if (entry === undefined) {
          parsedAll = false;
          break;
        }
        if (entry.level === 'error' || entry.level === 'fatal' || entry.level === undefined) {
          messages.push(entry.msg);
        } else {
          fallback.push(entry.msg);
        }
      }
      if (parsedAll) continue;
    }
    const logrus = /\blevel=(\w+)\s+msg="((?:[^"\\]|\\.)*)"/.exec(trimmed);
    if (logrus !== null) {
      const msg = unquoteGo(logrus[2] ?? '');
      if (logrus[1] === 'error' || logrus[1] === 'fatal') messages.push(msg);
      else fallback.push(msg);
      continue;
    }
    messages.push(trimmed);
  }
  const chosen = messages.length > 0 ? messages : fallback;
  // runc logs the same error twice when --log is a file (once to the log, once plain).
  return [...new Set(chosen)].join('\n');
}

function parseLogObject(text: string): { level: string | undefined; msg: string } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const record = value as Record<string, unknown>;
  if (typeof record.msg !== 'string') return undefined;
  return { level: typeof record.level === 'string' ? record.level : undefined, msg: record.msg };
}

function unquoteGo(text: string): string {
  try {
    return JSON.parse(`"${text}"`) as string;
  } catch {
    return text;
  }
}

/** Reads the JSON-format runtime log written with `--log-format=json --log=<path>`; '' when absent. */
export function parseRuntimeLog(text: string): string {
  return parseRuntimeStderr(text);
}

const NOT_FOUND = [
  /does not exist/i,
  /no such container/i,
  // crun: the container's dir under --root is missing
  /error opening file .*\/status.*no such file/i,
  /cannot open directory .*no such file/i,
];
const CONFLICT = [
  /not running/i,
  /not paused/i,
  /is paused/i,
  /is not stopped/i,
  /that is not stopped/i,
  /has stopped/i,
  /stopped container/i,
  /not in .* state/i,
  /already (?:exists|running|paused|stopped)/i,
  /cannot (?:start|pause|resume|kill)/i,
  // crun: `start` of a started container, `kill` of an exited one
  /exec\.fifo/i,
  /no such process/i,
];

/** Chooses an error kind from a runtime message. */
export function classifyRuntimeMessage(message: string): ErrorKind {
  if (NOT_FOUND.some((re) => re.test(message))) return 'not-found';
  if (CONFLICT.some((re) => re.test(message))) return 'conflict';
  return 'system';
}

interface RunResult {
  stdout: string;
  stderr: string;
}

export class OciRuntime {
  readonly path: string;
  readonly root: string;
  readonly name: string;
  readonly timeoutMs: number;

  constructor(options: OciRuntimeOptions) {
    this.path = options.path;
    this.root = options.root;
    this.name = options.name ?? basename(options.path);
    this.timeoutMs = options.timeoutMs ?? 60_000;
  }

  /**
   * The global options every invocation needs, in the form conmon passes
   * them on (`--runtime-arg <each>`): conmon puts them before the subcommand.
   */
  globalArgs(): string[] {
    return [`--root=${this.root}`];
  }

  /** The container's state, or undefined when the runtime does not know it. */
  async state(id: string): Promise<OciState | undefined> {
    let result: RunResult;
    try {
      result = await this.run(['state', id]);
    } catch (err) {
      if (err instanceof OciRuntimeError && err.kind === 'not-found') return undefined;
      throw err;
    }
    return parseState(result.stdout, this.name);
  }

  /** All containers under this runtime root. */
  async list(): Promise<OciState[]> {
    const { stdout } = await this.run(['list', '--format=json']);
    const text = stdout.trim();
    if (text === '' || text === 'null') return [];
    const value = JSON.parse(text) as unknown;
    if (!Array.isArray(value)) return [];
    return value.map((entry) => normaliseState(entry as Record<string, unknown>));
  }

  /** Starts a `created` container (runs the user process). */
  async start(id: string): Promise<void> {
    await this.run(['start', id]);
  }

  /**
   * Sends a signal to the container's init process, or with `all` to every
   * process in it. `signal` is a name (`KILL`, `SIGTERM`) or a number.
   */
  async kill(id: string, signal: string | number = 'KILL', all = false): Promise<void> {
    const args = ['kill'];
    if (all) args.push('--all');
    args.push(id, String(signal));
    await this.run(args);
  }

  /** Deletes the container's runtime state; `force` also kills a running one. */
  async delete(id: string, force = false): Promise<void> {
    const args = ['delete'];
    if (force) args.push('--force');
    args.push(id);
    await this.run(args);
  }

  async pause(id: string): Promise<void> {
    await this.run(['pause', id]);
  }

  async resume(id: string): Promise<void> {
    await this.run(['resume', id]);
  }

  /** Applies new limits from a file holding an OCI `linux.resources` object (for `docker update`). */
  async update(id: string, resourcesJsonPath: string): Promise<void> {
    await this.run(['update', `--resources=${resourcesJsonPath}`, id]);
  }

  /** The host pids of all processes in the container (for `docker top`). */
  async ps(id: string): Promise<number[]> {
    const { stdout } = await this.run(['ps', '--format=json', id]);
    const text = stdout.trim();
    if (text === '' || text === 'null') return [];
    const value = JSON.parse(text) as unknown;
    if (!Array.isArray(value)) {
      throw this.error(['ps', id], `unexpected ps output: ${text.slice(0, 200)}`, undefined, '');
    }
    return value.filter((pid): pid is number => typeof pid === 'number');
  }

  async version(): Promise<OciRuntimeVersion> {
    const { stdout } = await this.exec(['--version']);
    const text = stdout.trim();
    const head = /^(\S+)\s+version\s+(\S+)/m.exec(text);
    const spec = /^spec:\s*(\S+)/m.exec(text);
    const result: OciRuntimeVersion = {
      name: head?.[1] ?? this.name,
      version: head?.[2] ?? 'unknown',
      text,
    };
    if (spec?.[1] !== undefined) result.spec = spec[1];
    return result;
  }

  /** Runs `<runtime> --root=<root> --log-format=json <args>`. */
  private run(args: string[]): Promise<RunResult> {
    return this.exec([...this.globalArgs(), '--log-format=json', ...args]);
  }

  private exec(args: string[]): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      execFile(
        this.path,
        args,
        { timeout: this.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
        (err, stdout, stderr) => {
          if (err === null) {
            resolve({ stdout, stderr });
            return;
          }
          const code = typeof err.code === 'number' ? err.code : undefined;
          let message = parseRuntimeStderr(stderr);
          if (message === '') {
            if (err.killed === true) message = `timed out after ${this.timeoutMs} ms`;
            else if (typeof err.code === 'string') message = err.message;
            else message = `exited with status ${code ?? err.signal ?? 'unknown'}`;
          }
          reject(this.error(args, message, code, stderr, err));
        },
      );
    });
  }

  private error(
    args: readonly string[],
    runtimeMessage: string,
    exitCode: number | undefined,
    stderr: string,
    cause?: unknown,
  ): OciRuntimeError {
    const visible = args.filter((a) => !a.startsWith('--root=') && a !== '--log-format=json');
    return new OciRuntimeError(`${this.name} ${visible.join(' ')}: ${runtimeMessage}`, {
      kind: classifyRuntimeMessage(runtimeMessage),
      runtimeMessage,
      command: [this.path, ...args],
      exitCode,
      stderr,
      cause,
    });
  }
}

function parseState(stdout: string, name: string): OciState {
  let value: unknown;
  try {
    value = JSON.parse(stdout);
  } catch (err) {
    throw new OciRuntimeError(`${name} state: unparsable output`, {
      runtimeMessage: stdout.slice(0, 200),
      command: [name, 'state'],
      cause: err,
    });
  }
  return normaliseState(value as Record<string, unknown>);
}

const STATUSES: ReadonlySet<string> = new Set<OciStatus>([
  'creating',
  'created',
  'running',
  'paused',
  'stopped',
]);

function normaliseState(record: Record<string, unknown>): OciState {
  const status = typeof record.status === 'string' && STATUSES.has(record.status) ? record.status : 'stopped';
  const state: OciState = {
    ociVersion: typeof record.ociVersion === 'string' ? record.ociVersion : '',
    id: typeof record.id === 'string' ? record.id : '',
    status: status as OciStatus,
    pid: typeof record.pid === 'number' ? record.pid : 0,
    bundle:
      typeof record.bundle === 'string'
        ? record.bundle
        : typeof record.bundlePath === 'string'
          ? record.bundlePath
          : '',
  };
  if (typeof record.rootfs === 'string') state.rootfs = record.rootfs;
  if (typeof record.created === 'string') state.created = record.created;
  if (record.annotations !== null && typeof record.annotations === 'object') {
    state.annotations = record.annotations as Record<string, string>;
  }
  return state;
}
