import { isAbsolute } from 'node:path';

import { InvalidParameterError } from '../../errors.js';
import { parseBytes } from '../../util/units.js';

/**
 * The `local` driver's options (`DriverOpts`, `docker volume create -o`), as
 * moby's local driver reads them: `type`, `device`, `o` and `size`, with
 * its rules on which need which (`type` and `device` go together, `o` needs
 * both). berth mounts two kinds of them:
 *
 *   type=tmpfs,device=tmpfs[,o=size=64m,uid=1000]   a tmpfs per volume
 *   type=none,device=/host/path,o=bind[,ro]          a bind of a host directory
 *
 * Other file system types (nfs, cifs, ext4 on a block device…) are refused
 * when the volume is created, rather than failing on first use. `size`
 * (an XFS project quota in moby) is refused as moby refuses it without quota
 * support.
 */

const VALID_OPTIONS = ['type', 'o', 'device', 'size'] as const;

/** Which options each option requires (moby's mandatoryOpts), checked in this order. */
const REQUIRED: readonly (readonly [string, readonly string[]])[] = [
  ['device', ['type']],
  ['type', ['device']],
  ['o', ['device', 'type']],
];

/** How a volume's `_data` is mounted when its first user mounts it. */
export interface MountSpec {
  kind: 'tmpfs' | 'bind';
  /** The file system type passed to mount(8): `tmpfs`, or `none` for binds. */
  fsType: string;
  /** The mount source: the host directory of a bind, any name for tmpfs. */
  device: string;
  /** The `-o` option string, possibly empty. */
  options: string;
}

function splitMountOptions(o: string): string[] {
  return o
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * Checks `DriverOpts` as moby's local driver does, plus berth's limits on
 * mount types. Messages are moby's (`invalid option: "x"`, `missing required
 * option: "device"`); the caller prefixes `create <name>: `.
 * @throws InvalidParameterError
 */
export function validateDriverOptions(opts: Readonly<Record<string, string>> | null | undefined): void {
  if (!opts) return;
  const keys = Object.keys(opts);
  if (keys.length === 0) return;
  for (const key of keys.sort()) {
    if (!(VALID_OPTIONS as readonly string[]).includes(key)) {
      throw new InvalidParameterError(`invalid option: ${JSON.stringify(key)}`);
    }
  }
  const size = opts['size'];
  if (size !== undefined) {
    const bytes = parseBytes(size);
    if (bytes === undefined) throw new InvalidParameterError(`invalid size: '${size}'`);
    if (bytes > 0) throw new InvalidParameterError('quota size requested but no quota support');
  }
  for (const [opt, needs] of REQUIRED) {
    if (opts[opt] === undefined) continue;
    for (const need of needs) {
      if (opts[need] === undefined) {
        throw new InvalidParameterError(`missing required option: ${JSON.stringify(need)}`);
      }
    }
  }
  mountSpecOf(opts);
}

/**
 * The mount a volume's options ask for, or undefined when `_data` is a plain
 * directory (no `type` and no `device`, as moby's needsMount).
 * @throws InvalidParameterError for a mount berth does not make.
 */
export function mountSpecOf(
  opts: Readonly<Record<string, string>> | null | undefined,
): MountSpec | undefined {
  const type = opts?.['type'] ?? '';
  const device = opts?.['device'] ?? '';
  if (type === '' && device === '') return undefined;
  const o = opts?.['o'] ?? '';
  const flags = splitMountOptions(o);
  const isBind = flags.includes('bind') || flags.includes('rbind');
  if (type === 'tmpfs') {
    if (isBind) {
      throw new InvalidParameterError(
        'invalid option: a tmpfs volume cannot be a bind mount (use type=none,o=bind,device=<host path>)',
      );
    }
    return { kind: 'tmpfs', fsType: 'tmpfs', device: device || 'tmpfs', options: flags.join(',') };
  }
  if (type === 'none' || type === 'bind') {
    if (!isBind) {
      throw new InvalidParameterError(
        `invalid option: type=${type} mounts only with o=bind (a bind of device=<host path> to the volume)`,
      );
    }
    if (!isAbsolute(device)) {
      throw new InvalidParameterError(
        `invalid option: device=${JSON.stringify(device)} for a bind mount must be an absolute host path`,
      );
    }
    return { kind: 'bind', fsType: 'none', device, options: flags.join(',') };
  }
  throw new InvalidParameterError(
    `volume option type=${JSON.stringify(type)} is not supported by berth's local driver: ` +
      'only type=tmpfs and bind mounts (type=none,o=bind,device=<host path>) are',
  );
}

/** The arguments of mount(8) that mount `spec` on `target`. */
export function mountArgs(spec: MountSpec, target: string): string[] {
  return ['-t', spec.fsType, ...(spec.options !== '' ? ['-o', spec.options] : []), spec.device, target];
}
