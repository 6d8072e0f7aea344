/**
 * Storage flags as the docker CLI reads them: `-v` (volumespec: bind
 * `host:ctr[:ro]`, named volume `name:/path`, anonymous `/path`), `--mount`
 * (`type=bind|volume|tmpfs,src=…,dst=…,readonly,tmpfs-size=…`), `--tmpfs`
 * and `--device`. Whether a kind of mount is supported is the daemon's call.
 */
import { isAbsolute, resolve } from 'node:path';
import { posix } from 'node:path';

import type { Mount } from '../../api/types/index.js';
import { parseCsvRecord } from './network.js';
import { ramInBytes } from './units.js';

/** A parsed `-v` value (docker's volumespec.VolumeConfig, the parts we use). */
export interface VolumeSpec {
  type: 'bind' | 'volume';
  source: string;
  target: string;
  readOnly: boolean;
}

const PROPAGATIONS = new Set(['rprivate', 'private', 'rshared', 'shared', 'rslave', 'slave']);

function isFilePath(source: string): boolean {
  if ('./~'.includes(source[0] ?? '')) return true;
  if ([...source].length === 1) return false;
  if (source.startsWith('\\\\')) return true;
  return /^[A-Za-z]:/.test(source);
}

/**
 * volumespec.Parse: `[source:]target[:options]`; the source decides the
 * type (a path is a bind, a name a volume, none an anonymous volume).
 * @throws Error `invalid empty volume spec`, `invalid spec: x: too many colons`…
 */
export function parseVolumeSpec(spec: string): VolumeSpec {
  const volume: VolumeSpec = { type: 'volume', source: '', target: '', readOnly: false };
  const chars = [...spec];
  if (chars.length === 0) throw new Error('invalid empty volume spec');
  if (spec.length <= 2) return { ...volume, target: spec };
  let buffer = '';
  const END = '\u0000';
  for (const char of [...chars, END]) {
    const isDrive = char === ':' && [...buffer].length === 1 && /\p{L}/u.test(buffer);
    if (isDrive) {
      buffer += char;
    } else if (char === ':' || char === END) {
      try {
        populate(char === END, buffer, volume);
      } catch (err) {
        throw new Error(`invalid spec: ${spec}: ${(err as Error).message}`, { cause: err });
      }
      buffer = '';
    } else {
      buffer += char;
    }
  }
  volume.type = volume.source !== '' && isFilePath(volume.source) ? 'bind' : 'volume';
  return volume;
}

function populate(atEnd: boolean, buffer: string, volume: VolumeSpec): void {
  if (buffer.length === 0) throw new Error('empty section between colons');
  if (volume.source === '' && atEnd) {
    volume.target = buffer;
    return;
  }
  if (volume.source === '') {
    volume.source = buffer;
    return;
  }
  if (volume.target === '') {
    volume.target = buffer;
    return;
  }
  if (!atEnd) throw new Error('too many colons');
  for (const option of buffer.split(',')) {
    if (option === 'ro') volume.readOnly = true;
    else if (option === 'rw') volume.readOnly = false;
    // nocopy, propagation and unknown options are left for the daemon
    else if (option === 'nocopy' || PROPAGATIONS.has(option)) continue;
  }
}

/**
 * docker's handling of `-v` values: specs with a source become `Binds`
 * (a relative bind source starting with `.` made absolute), the others
 * anonymous `Volumes`. Duplicates count once.
 * @throws Error from {@link parseVolumeSpec}.
 */
export function splitVolumes(
  specs: readonly string[],
  cwd: string = process.cwd(),
): { binds: string[]; volumes: Record<string, Record<string, never>> } {
  const binds: string[] = [];
  const volumes: Record<string, Record<string, never>> = {};
  for (const spec of new Set(specs)) {
    const parsed = parseVolumeSpec(spec);
    if (parsed.source === '') {
      volumes[spec] = {};
      continue;
    }
    let bind = spec;
    if (parsed.type === 'bind') {
      const colon = spec.indexOf(':');
      if (colon !== -1) {
        let hostPart = spec.slice(0, colon);
        if (!isAbsolute(hostPart) && hostPart.startsWith('.')) hostPart = resolve(cwd, hostPart);
        bind = hostPart + ':' + spec.slice(colon + 1);
      }
    }
    binds.push(bind);
  }
  return { binds, volumes };
}

/**
 * docker's `--tmpfs` values: `/path[:options]` as the `Tmpfs` map.
 */
export function parseTmpfs(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of values) {
    const colon = t.indexOf(':');
    if (colon === -1) out[t] = '';
    else out[t.slice(0, colon)] = t.slice(colon + 1);
  }
  return out;
}

function parseMountBool(key: string, val: string, hasValue: boolean): boolean {
  if (!hasValue) return true;
  if (val === '1' || val === 'true') return true;
  if (val === '0' || val === 'false') return false;
  throw new Error(
    `invalid value for '${key}': invalid boolean value (${JSON.stringify(val)}): must be one of "true", "1", "false", or "0" (default "true")`,
  );
}

type BindOptions = NonNullable<Mount['BindOptions']>;
type VolumeOptions = NonNullable<Mount['VolumeOptions']>;
type TmpfsOptions = NonNullable<Mount['TmpfsOptions']>;

/**
 * docker's MountOpt.Set (`--mount`): CSV `key=value` fields; `type`
 * defaults to `volume`; `src`/`source`, `dst`/`destination`/`target`,
 * `readonly`/`ro`, `bind-propagation`, `bind-recursive`, `volume-*`,
 * `tmpfs-size`, `tmpfs-mode`.
 * @throws Error with docker's messages (`invalid field 'x' must be a key=value pair`, …).
 */
export function parseMount(input: string, cwd: string = process.cwd()): Mount {
  const value = input.trim();
  if (value === '') throw new Error('value is empty');
  const fields = parseCsvRecord(value);
  const mount: Mount = { Type: 'volume' };
  let bind: BindOptions | undefined;
  let volume: VolumeOptions | undefined;
  let tmpfs: TmpfsOptions | undefined;
  let image = false;
  const volumeOpts = (): VolumeOptions => (volume ??= {});
  for (const field of fields) {
    const eq = field.indexOf('=');
    const hasValue = eq !== -1;
    let key = hasValue ? field.slice(0, eq) : field;
    const val = hasValue ? field.slice(eq + 1) : '';
    if (key.trim() !== key) {
      throw new Error(`invalid option '${key.trim()}' in '${field}': option should not have whitespace`);
    }
    if (hasValue) {
      const v = val.trim();
      if (v === '') throw new Error(`invalid value for '${key}': value is empty`);
      if (v !== val)
        throw new Error(`invalid value for '${key}' in '${field}': value should not have whitespace`);
    }
    key = key.toLowerCase();
    if (
      !hasValue &&
      !['readonly', 'ro', 'volume-nocopy', 'bind-nonrecursive', 'bind-create-src'].includes(key)
    ) {
      throw new Error(`invalid field '${field}' must be a key=value pair`);
    }
    switch (key) {
      case 'type':
        mount.Type = val.toLowerCase() as Mount['Type'];
        break;
      case 'source':
      case 'src':
        mount.Source = !isAbsolute(val) && val.startsWith('.') ? resolve(cwd, val) : val;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        mount.Target = val;
        break;
      case 'readonly':
      case 'ro':
        mount.ReadOnly = parseMountBool(key, val, hasValue);
        break;
      case 'consistency':
        mount.Consistency = val.toLowerCase();
        break;
      case 'bind-propagation':
        (bind ??= {}).Propagation = val.toLowerCase() as BindOptions['Propagation'];
        break;
      case 'bind-nonrecursive':
        throw new Error('bind-nonrecursive is deprecated, use bind-recursive=disabled instead');
      case 'bind-recursive':
        switch (val) {
          case 'enabled':
            break;
          case 'disabled':
            (bind ??= {}).NonRecursive = true;
            break;
          case 'writable':
            (bind ??= {}).ReadOnlyNonRecursive = true;
            break;
          case 'readonly':
            (bind ??= {}).ReadOnlyForceRecursive = true;
            break;
          default:
            throw new Error(
              `invalid value for ${key}: ${val} (must be "enabled", "disabled", "writable", or "readonly")`,
            );
        }
        break;
      case 'bind-create-src':
        (bind ??= {}).CreateMountpoint = parseMountBool(key, val, hasValue);
        break;
      case 'volume-subpath':
        volumeOpts().Subpath = val;
        break;
      case 'volume-nocopy':
        volumeOpts().NoCopy = parseMountBool(key, val, hasValue);
        break;
      case 'volume-label': {
        const e = val.indexOf('=');
        const k = e === -1 ? val : val.slice(0, e);
        if (k !== '') (volumeOpts().Labels ??= {})[k] = e === -1 ? '' : val.slice(e + 1);
        else volumeOpts();
        break;
      }
      case 'volume-driver':
        (volumeOpts().DriverConfig ??= {}).Name = val;
        break;
      case 'volume-opt': {
        const driver = (volumeOpts().DriverConfig ??= {});
        const e = val.indexOf('=');
        const k = e === -1 ? val : val.slice(0, e);
        if (k !== '') (driver.Options ??= {})[k] = e === -1 ? '' : val.slice(e + 1);
        break;
      }
      case 'image-subpath':
        image = true;
        break;
      case 'tmpfs-size': {
        let size: number;
        try {
          size = ramInBytes(val);
        } catch {
          throw new Error(`invalid value for ${key}: ${val}`);
        }
        (tmpfs ??= {}).SizeBytes = size;
        break;
      }
      case 'tmpfs-mode': {
        if (!/^[0-7]+$/.test(val) || parseInt(val, 8) > 0xffffffff)
          throw new Error(`invalid value for ${key}: ${val}`);
        (tmpfs ??= {}).Mode = parseInt(val, 8);
        break;
      }
      default:
        throw new Error(`unknown option '${key}' in '${field}'`);
    }
  }
  const type = mount.Type as string;
  if (type === '') throw new Error('type is required');
  if (!mount.Target) throw new Error('target is required');
  if (type !== 'volume' && volume) throw new Error(`cannot mix 'volume-*' options with mount type '${type}'`);
  if (type !== 'bind' && bind) throw new Error(`cannot mix 'bind-*' options with mount type '${type}'`);
  if (type !== 'tmpfs' && tmpfs) throw new Error(`cannot mix 'tmpfs-*' options with mount type '${type}'`);
  if (type !== 'image' && image) throw new Error(`cannot mix 'image-*' options with mount type '${type}'`);
  if (bind) {
    if (bind.ReadOnlyNonRecursive && !mount.ReadOnly) {
      throw new Error("option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction");
    }
    if (bind.ReadOnlyForceRecursive) {
      if (!mount.ReadOnly) {
        throw new Error(
          "option 'bind-recursive=readonly' requires 'readonly' to be specified in conjunction",
        );
      }
      if (bind.Propagation !== 'rprivate') {
        throw new Error(
          "option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction",
        );
      }
    }
    mount.BindOptions = bind;
  }
  if (volume) mount.VolumeOptions = volume;
  if (tmpfs) mount.TmpfsOptions = tmpfs;
  return mount;
}

function validDeviceMode(mode: string): boolean {
  if (mode === '') return false;
  const seen = new Set<string>();
  for (const c of mode) {
    if (!'rwm'.includes(c) || seen.has(c)) return false;
    seen.add(c);
  }
  return true;
}

/**
 * docker's validateLinuxPath + parseLinuxDevice (`--device`):
 * `host[:container][:permissions]`.
 * @throws Error `bad format for path: x`, `bad mode specified: x`, `x is not an absolute path`.
 */
export function parseDevice(value: string): {
  PathOnHost: string;
  PathInContainer: string;
  CgroupPermissions: string;
} {
  if ((value.match(/:/g) ?? []).length > 2) throw new Error(`bad format for path: ${value}`);
  const split = value.split(':');
  if (split[0] === '') throw new Error(`bad format for path: ${value}`);
  let containerPath: string;
  let validated: string;
  switch (split.length) {
    case 1:
      containerPath = split[0] ?? '';
      validated = posix.normalize(containerPath);
      break;
    case 2:
      if (validDeviceMode(split[1] ?? '')) {
        containerPath = split[0] ?? '';
        validated = `${posix.normalize(containerPath)}:${split[1]}`;
      } else {
        containerPath = split[1] ?? '';
        validated = `${split[0]}:${posix.normalize(containerPath)}`;
      }
      break;
    default:
      containerPath = split[1] ?? '';
      if (!validDeviceMode(split[2] ?? '')) throw new Error(`bad mode specified: ${split[2]}`);
      validated = value;
  }
  if (!posix.isAbsolute(containerPath)) throw new Error(`${containerPath} is not an absolute path`);
  const arr = validated.split(':');
  let src = arr[0] ?? '';
  let dst = '';
  let permissions = 'rwm';
  if (arr.length === 3) permissions = arr[2] ?? 'rwm';
  if (arr.length >= 2) {
    if (validDeviceMode(arr[1] ?? '')) permissions = arr[1] ?? 'rwm';
    else dst = arr[1] ?? '';
  }
  src = arr[0] ?? src;
  if (dst === '') dst = src;
  return { PathOnHost: src, PathInContainer: dst, CgroupPermissions: permissions };
}
