/**
 * Linux capabilities for container processes, resolved with Docker's rules
 * (CapAdd / CapDrop / Privileged on top of Docker's default set).
 */
import { readFileSync } from 'node:fs';

import { InvalidParameterError } from '../errors.js';

/** Every capability the Linux kernel defines, indexed by its bit number (capability.h, up to 6.x). */
export const ALL_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

/** The 14 capabilities a Docker container gets by default. */
export const DEFAULT_CAPABILITIES: readonly string[] = [
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

const KNOWN: ReadonlySet<string> = new Set(ALL_CAPABILITIES);

/**
 * Upper-cases and `CAP_`-prefixes each name, keeping the magic `ALL`.
 * Unknown names throw `unknown capability: "CAP_FOO"`; known names the daemon
 * does not hold itself (when `available` is given) throw Docker's
 * "not supported by your kernel" error.
 */
export function normalizeCapabilities(names: readonly string[], available?: readonly string[]): string[] {
  const have = available === undefined ? undefined : new Set(available);
  const out: string[] = [];
  for (const raw of names) {
    let name = raw.trim().toUpperCase();
    if (name === 'ALL') {
      out.push(name);
      continue;
    }
    if (!name.startsWith('CAP_')) name = `CAP_${name}`;
    if (!KNOWN.has(name)) throw new InvalidParameterError(`unknown capability: "${name}"`);
    if (have !== undefined && !have.has(name)) {
      throw new InvalidParameterError(
        `capability not supported by your kernel or not available in the current environment: "${name}"`,
      );
    }
    out.push(name);
  }
  return out;
}

/**
 * The container's capability list (`CAP_*` names), Docker's way:
 * - privileged: every capability available to the daemon;
 * - `ALL` in capAdd: everything available except what capDrop names;
 * - `ALL` in capDrop: only what capAdd names;
 * - otherwise the defaults minus capDrop, plus capAdd.
 *
 * `available` is what the daemon itself holds (see readAvailableCapabilities);
 * without it every known capability counts as available. Granting one the
 * daemon lacks (e.g. CAP_SYS_RESOURCE on these hosts) would make the runtime
 * fail, which is why Docker works from the current set.
 */
export function resolveCapabilities(
  capAdd: readonly string[] | undefined,
  capDrop: readonly string[] | undefined,
  privileged: boolean,
  available?: readonly string[],
): string[] {
  const all =
    available === undefined ? [...ALL_CAPABILITIES] : ALL_CAPABILITIES.filter((c) => available.includes(c));
  if (privileged) return all;
  const drop = normalizeCapabilities(capDrop ?? [], available);
  const add = normalizeCapabilities(capAdd ?? [], available);
  let caps: string[];
  if (add.includes('ALL')) {
    caps = all.filter((c) => !drop.includes(c));
  } else if (drop.includes('ALL')) {
    caps = add;
  } else {
    caps = DEFAULT_CAPABILITIES.filter((c) => !drop.includes(c));
    caps.push(...add);
  }
  return [...new Set(caps)];
}

/** Capability names set in a hex bitmap such as `000001fffeffffff` (bits beyond the known list are ignored). */
export function capabilitiesFromMask(hex: string): string[] {
  const mask = BigInt(`0x${hex.trim()}`);
  return ALL_CAPABILITIES.filter((_, bit) => ((mask >> BigInt(bit)) & 1n) === 1n);
}

/**
 * The capabilities the daemon holds, from the `CapEff` line of
 * `/proc/self/status` (or the given text of such a file).
 */
export function readAvailableCapabilities(statusText?: string): string[] {
  const text = statusText ?? readFileSync('/proc/self/status', 'utf8');
  const match = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(text);
  if (match?.[1] === undefined) return [...ALL_CAPABILITIES];
  return capabilitiesFromMask(match[1]);
}
