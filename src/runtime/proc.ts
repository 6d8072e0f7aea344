/**
 * Facts about host processes, read from /proc. Used to tell whether a conmon
 * recorded in a pid file before a daemon restart is still the conmon that
 * supervises a given container.
 *
 * `kill(pid, 0)` is not enough: PID 1 on these hosts reaps orphans late, so a
 * dead conmon lingers as a zombie for seconds and `kill(pid, 0)` still
 * succeeds. A pid can also be reused by an unrelated process. So liveness
 * means "exists and is not a zombie", and identity is checked on the cmdline.
 *
 * All reads are synchronous: /proc files are generated in memory and never
 * block on disk.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

/** The fields of /proc/<pid>/stat that berth uses. */
export interface ProcStat {
  pid: number;
  /** The executable name as the kernel keeps it (at most 15 bytes). */
  comm: string;
  /** One letter: R running, S sleeping, D disk sleep, Z zombie, T stopped, X dead, ... */
  state: string;
  ppid: number;
  /** Start time in clock ticks after boot (field 22). */
  startTime: number;
}

function validPid(pid: number): boolean {
  return Number.isSafeInteger(pid) && pid > 0;
}

/** Parses /proc/<pid>/stat, or undefined when the process does not exist. */
export function processStat(pid: number): ProcStat | undefined {
  if (!validPid(pid)) return undefined;
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm is in parentheses and may itself contain spaces and ')'; the last ')' ends it.
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const rest = text
    .slice(close + 2)
    .trim()
    .split(' ');
  // rest[0] is field 3 (state), so field N is rest[N - 3].
  const state = rest[0];
  const ppid = Number(rest[1]);
  const startTime = Number(rest[19]);
  if (state === undefined || !Number.isFinite(ppid) || !Number.isFinite(startTime)) return undefined;
  return { pid, comm: text.slice(open + 1, close), state, ppid, startTime };
}

/** True when the process exists and is neither a zombie nor dead. */
export function processAlive(pid: number): boolean {
  const stat = processStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

/**
 * The argv of a process, or undefined when it does not exist. A zombie's
 * cmdline is empty, so this gives [] for one.
 */
export function processCmdline(pid: number): string[] | undefined {
  if (!validPid(pid)) return undefined;
  let raw: Buffer;
  try {
    raw = readFileSync(`/proc/${pid}/cmdline`);
  } catch {
    return undefined;
  }
  if (raw.length === 0) return [];
  const text = raw.toString('utf8');
  const args = text.split('\0');
  if (text.endsWith('\0')) args.pop();
  return args;
}

/** The start time of a process in clock ticks after boot, or undefined when it does not exist. */
export function processStartTime(pid: number): number | undefined {
  return processStat(pid)?.startTime;
}

/**
 * True when `pid` is a live conmon supervising `containerId`: its argv[0] is a
 * conmon binary and its argv holds `-c <id>` (or `--cid <id>`, `--cid=<id>`).
 * For exec sessions `-c` is also the container id; pass `sessionId` to
 * require `-u <sessionId>` as well.
 */
export function isConmonFor(pid: number, containerId: string, sessionId?: string): boolean {
  if (!processAlive(pid)) return false;
  const argv = processCmdline(pid);
  if (argv === undefined || argv.length === 0) return false;
  if (!basename(argv[0] ?? '').includes('conmon')) return false;
  if (!hasFlagValue(argv, ['-c', '--cid'], containerId)) return false;
  if (sessionId !== undefined && !hasFlagValue(argv, ['-u', '--cuuid'], sessionId)) return false;
  return true;
}

function hasFlagValue(argv: readonly string[], names: readonly string[], value: string): boolean {
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (names.includes(arg) && argv[i + 1] === value) return true;
    for (const name of names) {
      if (name.startsWith('--') && arg === `${name}=${value}`) return true;
    }
  }
  return false;
}

/** Reads a pid file (decimal, optional trailing newline); undefined when missing or malformed. */
export function readPidFile(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
  if (!/^\d+$/.test(text)) return undefined;
  const pid = Number(text);
  return validPid(pid) ? pid : undefined;
}
