/**
 * The daemon's own resource limits, and clamping of container ulimits to them.
 *
 * berth runs as root but without CAP_SYS_RESOURCE, so the OCI runtime cannot
 * raise a container's rlimit above the daemon's hard limit: runc fails with
 * `error setting rlimit type 7: operation not permitted`. Every requested
 * rlimit is therefore clamped to what `/proc/self/limits` allows.
 */
import { readFileSync } from 'node:fs';

import { InvalidParameterError } from '../errors.js';

/** Docker's ulimit names (as in `--ulimit nofile=1024:2048`). */
export type UlimitName =
  | 'as'
  | 'core'
  | 'cpu'
  | 'data'
  | 'fsize'
  | 'locks'
  | 'memlock'
  | 'msgqueue'
  | 'nice'
  | 'nofile'
  | 'nproc'
  | 'rss'
  | 'rtprio'
  | 'rttime'
  | 'sigpending'
  | 'stack';

/** A soft/hard pair. Unlimited is UNLIMITED. */
export interface RlimitPair {
  soft: number;
  hard: number;
}

/** One requested or resolved ulimit, Docker style. */
export interface Ulimit {
  name: string;
  soft: number;
  hard: number;
}

/** A validated ulimit: a known name, clamped values. */
export interface ResolvedUlimit extends Ulimit {
  name: UlimitName;
}

/** The daemon's limits keyed by Docker ulimit name; a name missing from the table is absent. */
export type HostLimits = Partial<Record<UlimitName, RlimitPair>>;

/**
 * What "unlimited" becomes. RLIM_INFINITY (2^64-1) cannot be held exactly in a
 * JS number, and JSON.stringify would print a float runc and crun cannot read,
 * so the largest safe integer stands in: lowering a limit from infinity to it
 * needs no privilege, and it is unlimited for any practical purpose.
 */
export const UNLIMITED = Number.MAX_SAFE_INTEGER;

/** The row labels of /proc/<pid>/limits, mapped to Docker's ulimit names. */
const PROC_LABELS: ReadonlyMap<string, UlimitName> = new Map([
  ['Max cpu time', 'cpu'],
  ['Max file size', 'fsize'],
  ['Max data size', 'data'],
  ['Max stack size', 'stack'],
  ['Max core file size', 'core'],
  ['Max resident set', 'rss'],
  ['Max processes', 'nproc'],
  ['Max open files', 'nofile'],
  ['Max locked memory', 'memlock'],
  ['Max address space', 'as'],
  ['Max file locks', 'locks'],
  ['Max pending signals', 'sigpending'],
  ['Max msgqueue size', 'msgqueue'],
  ['Max nice priority', 'nice'],
  ['Max realtime priority', 'rtprio'],
  ['Max realtime timeout', 'rttime'],
]);

/** Every Docker ulimit name. */
export const ULIMIT_NAMES: readonly UlimitName[] = [...PROC_LABELS.values()].sort();

const NAMES: ReadonlySet<string> = new Set(ULIMIT_NAMES);

/** True for a name Docker accepts in `--ulimit`. */
export function isUlimitName(name: string): name is UlimitName {
  return NAMES.has(name);
}

/** The OCI rlimit type of a Docker ulimit name: `nofile` -> `RLIMIT_NOFILE`. */
export function rlimitType(name: UlimitName): string {
  return `RLIMIT_${name.toUpperCase()}`;
}

function parseLimitValue(text: string): number | undefined {
  if (text === 'unlimited') return UNLIMITED;
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : UNLIMITED;
}

/**
 * Parses `/proc/self/limits` (or the given text of such a table) into the
 * daemon's limits by Docker ulimit name. "unlimited" becomes UNLIMITED.
 */
export function readHostLimits(text?: string): HostLimits {
  const table = text ?? readFileSync('/proc/self/limits', 'utf8');
  const limits: HostLimits = {};
  for (const line of table.split('\n')) {
    // Columns are padded with spaces; the label itself has single spaces.
    const match = /^(\S+(?: \S+)*)\s{2,}(\S+)\s+(\S+)/.exec(line);
    if (match === null) continue;
    const [, label = '', softText = '', hardText = ''] = match;
    const name = PROC_LABELS.get(label);
    if (name === undefined) continue;
    const soft = parseLimitValue(softText);
    const hard = parseLimitValue(hardText);
    if (soft === undefined || hard === undefined) continue;
    limits[name] = { soft, hard };
  }
  return limits;
}

function limitValue(value: number, name: string): number {
  if (!Number.isInteger(value)) throw new InvalidParameterError(`invalid ulimit value for ${name}: ${value}`);
  // Docker treats -1 (RLIM_INFINITY as a signed number) as unlimited.
  if (value < 0 || value > UNLIMITED) return UNLIMITED;
  return value;
}

/**
 * Validates the requested ulimits and clamps each to the daemon's hard limit
 * (soft is then kept <= hard). Negative values mean unlimited. A later entry
 * for the same name replaces an earlier one. Names are Docker's; an unknown
 * name or soft > hard throws InvalidParameterError.
 */
export function clampRlimits(requested: readonly Ulimit[], host: HostLimits): ResolvedUlimit[] {
  const byName = new Map<UlimitName, ResolvedUlimit>();
  for (const ul of requested) {
    const name = ul.name.trim().toLowerCase();
    if (!isUlimitName(name)) throw new InvalidParameterError(`invalid ulimit type: ${ul.name}`);
    let soft = limitValue(ul.soft, name);
    let hard = limitValue(ul.hard, name);
    if (soft > hard) {
      throw new InvalidParameterError(
        `ulimit soft limit must be less than or equal to hard limit: ${ul.soft} > ${ul.hard}`,
      );
    }
    const max = host[name]?.hard;
    if (max !== undefined) hard = Math.min(hard, max);
    soft = Math.min(soft, hard);
    byName.delete(name);
    byName.set(name, { name, soft, hard });
  }
  return [...byName.values()];
}
