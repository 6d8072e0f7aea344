/**
 * The remaining `run`/`create` value parsers, as the docker CLI has them:
 * `--restart`, `--ulimit` (go-units ParseUlimit), `-a`, `--link`,
 * `--device-cgroup-rule`, `--security-opt`, and the namespace modes.
 */
import { readFileSync } from 'node:fs';

import type { RestartPolicy } from '../../api/types/index.js';
import { goFsError } from './kv.js';
import { goQuoteString, parseInt64 } from './units.js';

/**
 * docker's ParseRestartPolicy: `name[:max-retries]`; only the syntax is
 * checked (the daemon judges the name). Empty is no policy.
 * @throws Error `invalid restart policy format: …`.
 */
export function parseRestartPolicy(policy: string): RestartPolicy {
  if (policy === '') return {};
  const colon = policy.indexOf(':');
  const name = colon === -1 ? policy : policy.slice(0, colon);
  const count = colon === -1 ? '' : policy.slice(colon + 1);
  if (colon !== -1 && name === '') {
    throw new Error('invalid restart policy format: no policy provided before colon');
  }
  let retries = 0;
  if (count !== '') {
    if (!/^[+-]?\d+$/.test(count)) {
      throw new Error('invalid restart policy format: maximum retry count must be an integer');
    }
    retries = Number(count);
  }
  return { Name: name as RestartPolicy['Name'], MaximumRetryCount: retries };
}

const ULIMIT_NAMES = new Set([
  'core',
  'cpu',
  'data',
  'fsize',
  'locks',
  'memlock',
  'msgqueue',
  'nice',
  'nofile',
  'nproc',
  'rss',
  'rtprio',
  'rttime',
  'sigpending',
  'stack',
]);

/** One ulimit as the API takes it. */
export interface Ulimit {
  Name: string;
  Soft: number;
  Hard: number;
}

function goParseInt10(s: string): number {
  if (!/^[+-]?\d+$/.test(s)) throw new Error(`strconv.ParseInt: parsing ${goQuoteString(s)}: invalid syntax`);
  return parseInt64(s.replace(/^([+-]?)0+(?=\d)/, '$1'));
}

/**
 * go-units ParseUlimit: `name=soft[:hard]` (hard defaults to soft; -1 is unlimited).
 * @throws Error `invalid ulimit argument: x`, `invalid ulimit type: x`, …
 */
export function parseUlimit(value: string): Ulimit {
  const eq = value.indexOf('=');
  if (eq === -1) throw new Error(`invalid ulimit argument: ${value}`);
  const name = value.slice(0, eq);
  const limits = value.slice(eq + 1);
  if (!ULIMIT_NAMES.has(name)) throw new Error(`invalid ulimit type: ${name}`);
  const parts = limits.split(':');
  if (parts.length > 2) {
    throw new Error(`too many limit value arguments - ${limits}, can only have up to two, \`soft[:hard]\``);
  }
  let hard: number | undefined;
  if (parts.length === 2) hard = goParseInt10(parts[1] ?? '');
  const soft = goParseInt10(parts[0] ?? '');
  const h = hard ?? soft;
  if (h !== -1) {
    if (soft === -1) {
      throw new Error(
        `ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: ${h}`,
      );
    }
    if (soft > h)
      throw new Error(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${h}`);
  }
  return { Name: name, Soft: soft, Hard: h };
}

/** docker's UlimitOpt: the last value per name wins, listed by name. */
export function ulimitList(values: readonly Ulimit[]): Ulimit[] {
  const byName = new Map<string, Ulimit>();
  for (const u of values) byName.set(u.Name, u);
  return [...byName.values()].sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
}

/**
 * docker's validateAttach (`-a`): stdin, stdout or stderr, any case.
 * @throws Error `valid streams are STDIN, STDOUT and STDERR`.
 */
export function validateAttach(value: string): string {
  const s = value.toLowerCase();
  if (s === 'stdin' || s === 'stdout' || s === 'stderr') return s;
  throw new Error('valid streams are STDIN, STDOUT and STDERR');
}

/**
 * docker's ValidateLink (`--link`): `name[:alias]`.
 * @throws Error `empty string specified for links` or `bad format for links: x`.
 */
export function validateLink(value: string): string {
  if (value === '') throw new Error('empty string specified for links');
  if (value.split(':').length > 2) throw new Error(`bad format for links: ${value}`);
  return value;
}

/**
 * docker's validateDeviceCgroupRule: `type major:minor mode`.
 * @throws Error `invalid device cgroup format 'x'`.
 */
export function validateDeviceCgroupRule(value: string): string {
  if (/^[acb] ([0-9]+|\*):([0-9]+|\*) [rwm]{1,3}$/.test(value)) return value;
  throw new Error(`invalid device cgroup format '${value}'`);
}

/**
 * docker's parseSecurityOpts: `key=value` (or `key:value`); a seccomp
 * profile file is read and sent as compacted JSON.
 * @throws Error `Invalid --security-opt: "x"` or a profile error.
 */
export function parseSecurityOpts(
  opts: readonly string[],
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): string[] {
  return opts.map((opt) => {
    let sep = opt.indexOf('=');
    let key = sep === -1 ? opt : opt.slice(0, sep);
    if (sep === -1 && key !== 'no-new-privileges') {
      sep = opt.indexOf(':');
      key = sep === -1 ? opt : opt.slice(0, sep);
    }
    const value = sep === -1 ? '' : opt.slice(sep + 1);
    if ((sep === -1 || value === '') && key !== 'no-new-privileges') {
      throw new Error(`Invalid --security-opt: ${goQuoteString(opt)}`);
    }
    if (key === 'seccomp' && value !== 'builtin' && value !== 'unconfined') {
      let text: string;
      try {
        text = readFile(value);
      } catch (err) {
        throw new Error(
          `opening seccomp profile (${value}) failed: ${goFsError(err, 'open', value).message}`,
          { cause: err },
        );
      }
      try {
        return 'seccomp=' + JSON.stringify(JSON.parse(text));
      } catch (err) {
        throw new Error(`compacting json for seccomp profile (${value}) failed: ${(err as Error).message}`, {
          cause: err,
        });
      }
    }
    return opt;
  });
}

/** docker's parseSystemPaths: `systempaths=unconfined` empties MaskedPaths and ReadonlyPaths. */
export function parseSystemPaths(opts: readonly string[]): {
  securityOpts: string[];
  unconfined: boolean;
} {
  const securityOpts = opts.filter((o) => o !== 'systempaths=unconfined');
  return { securityOpts, unconfined: securityOpts.length !== opts.length };
}

/** container.PidMode.Valid: ``, `host`, or `container:<id>`. */
export function validPidMode(mode: string): boolean {
  const parts = mode.split(':');
  switch (parts[0]) {
    case '':
    case 'host':
      return parts.length === 1;
    case 'container':
      return parts.length === 2 && parts[1] !== '';
    default:
      return false;
  }
}

/** container.UTSMode.Valid: `` or `host`. */
export function validUtsMode(mode: string): boolean {
  return mode === '' || mode === 'host';
}

/** container.UsernsMode.Valid: ``, `host` or `private`. */
export function validUsernsMode(mode: string): boolean {
  return mode === '' || mode === 'host' || mode === 'private';
}

/** container.CgroupnsMode.Valid: ``, `host` or `private`. */
export function validCgroupnsMode(mode: string): boolean {
  return mode === '' || mode === 'host' || mode === 'private';
}
