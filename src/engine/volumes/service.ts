import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

import {
  ConflictError,
  InvalidParameterError,
  NotFoundError,
  SystemError,
  errorMessage,
} from '../../errors.js';
import { fsyncDir, isErrno, readJsonFile, writeFileAtomic } from '../../storage/atomic.js';
import { FilterArgs } from '../../util/filters.js';
import type { Logger } from '../../util/log.js';
import type { EventBus } from '../events/bus.js';
import {
  copyTree,
  directorySize,
  isEmptyDir,
  isMountPoint,
  mountVolume,
  mountsUnder,
  unmountAll,
} from './fs.js';
import { mountSpecOf, validateDriverOptions, type MountSpec } from './options.js';

/**
 * Docker's volumes with the `local` driver: named and anonymous volumes
 * under the data root, their metadata, the containers that use them, and
 * the mounts their driver options ask for.
 *
 * On disk, under `<data-root>/volumes/` (mode 0701):
 *
 *   <name>/                      one directory per volume (0701)
 *   <name>/_data/                the content; what containers bind (0755),
 *                                and the mount point of tmpfs/bind volumes
 *   <name>/meta.json             { "Name", "Driver": "local", "Labels",
 *                                  "Options", "CreatedAt", "Anonymous"? },
 *                                written atomically; a volume exists once
 *                                its directory holds it
 *   .<name>.creating-<rand>/     a volume being created: built here whole,
 *                                then renamed to <name>/
 *   .<name>.removing-<rand>/     a volume being removed: renamed here, then
 *                                deleted
 *
 * Because a volume appears and disappears with one rename, a crash leaves
 * only dot-directories, which `open` deletes. Directories without a
 * meta.json are not volumes and are left alone.
 *
 * Users: containers that use a volume (from their creation to their
 * removal) are its users; a volume with users cannot be removed or pruned.
 * The registry lives in memory: at daemon start the container service
 * gives it back with `rebuildUsers`. `mount`/`unmount` count the active
 * mounts (running containers): a tmpfs or bind volume is mounted on
 * `_data` when its first user mounts it and unmounted when the last one
 * unmounts, as moby's local driver does.
 */

/** The label Docker puts on volumes created without a name. */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';
export const VOLUME_LIST_FILTERS = ['dangling', 'name', 'driver', 'label'] as const;
export const VOLUME_PRUNE_FILTERS = ['label', 'label!', 'all'] as const;
export const DEFAULT_DRIVER = 'local';

/** `POST /volumes/create` (VolumeCreateOptions), as the service takes it. */
export interface VolumeCreateRequest {
  Name?: string | undefined;
  Driver?: string | undefined;
  DriverOpts?: Record<string, string> | null | undefined;
  Labels?: Record<string, string> | null | undefined;
}

/** meta.json. */
export interface VolumeMeta {
  Name: string;
  Driver: 'local';
  Labels: Record<string, string> | null;
  Options: Record<string, string> | null;
  /** ISO 8601 (UTC) creation time. */
  CreatedAt: string;
  /** Created without a name (also marked by {@link ANONYMOUS_LABEL}). */
  Anonymous?: boolean;
}

/** A volume as the API shows it. */
export interface VolumeView {
  name: string;
  driver: string;
  /** The host path of `_data`. */
  mountpoint: string;
  /** ISO 8601 (UTC). */
  createdAt: string;
  labels: Readonly<Record<string, string>> | null;
  options: Readonly<Record<string, string>> | null;
  anonymous: boolean;
}

/** `UsageData` for `/system/df`. */
export interface VolumeUsage {
  /** Bytes under `_data`, or -1 when it cannot be read. */
  size: number;
  /** Number of containers using the volume. */
  refCount: number;
}

/** What the container service tells `mount` for the `mount` event. */
export interface VolumeMountInfo {
  /** Path in the container. */
  destination?: string;
  /** Default true. */
  readWrite?: boolean;
  /** Mount propagation (`rprivate`…), default empty. */
  propagation?: string;
}

/** A (volume, container) use, for {@link VolumeService.rebuildUsers}. */
export interface VolumeUserPair {
  name: string;
  containerId: string;
  /** The container runs (so it holds an active mount of the volume). */
  mounted?: boolean;
}

interface VolumeState {
  meta: VolumeMeta;
  dir: string;
  data: string;
  mount: MountSpec | undefined;
  /** `_data` carries the volume's tmpfs or bind mount. */
  mounted: boolean;
  /** Active mounts per container. */
  active: Map<string, number>;
  /** Containers using the volume. */
  users: Set<string>;
  /** Being removed: no new users. */
  removing: boolean;
}

/** Runs the operations on one key one after the other. */
class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(fn);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}

const NAME_CHARS = '[a-zA-Z0-9][a-zA-Z0-9_.-]';
const NAME_RE = new RegExp(`^${NAME_CHARS}+$`);

/** moby's local driver name check; the caller prefixes `create <name>: `. */
function validateName(name: string): void {
  if (name.length === 1) {
    throw new InvalidParameterError(
      'volume name is too short, names should be at least two alphanumeric characters',
    );
  }
  if (!NAME_RE.test(name)) {
    throw new InvalidParameterError(
      `${JSON.stringify(name)} includes invalid characters for a local volume name, only ${JSON.stringify(NAME_CHARS)} are allowed. If you intended to pass a host directory, use absolute path`,
    );
  }
}

/** Go's `%s` of a []string: `[a b]`. */
function goList(values: readonly string[]): string {
  return `[${values.join(' ')}]`;
}

/** Go's strconv.ParseBool. */
function parseGoBool(value: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  return undefined;
}

/** moby's GetBoolOrDefault for `dangling`: one of true/1 or false/0, not both. */
function danglingFilter(filters: FilterArgs): boolean | undefined {
  if (!filters.contains('dangling')) return undefined;
  const values = filters.get('dangling');
  if (values.length === 0) throw new InvalidParameterError(`invalid filter 'dangling'`);
  const isFalse = values.includes('0') || values.includes('false');
  const isTrue = values.includes('1') || values.includes('true');
  if (isFalse === isTrue) throw new InvalidParameterError(`invalid filter 'dangling=${goList(values)}'`);
  return isTrue;
}

/** moby's filters.Match: an exact value, or a value that is a regular expression matching `source`. */
function nameMatches(filters: FilterArgs, source: string): boolean {
  if (filters.exactMatch('name', source)) return true;
  return filters.get('name').some((pattern) => {
    try {
      return new RegExp(pattern).test(source);
    } catch {
      return false;
    }
  });
}

function copyFilters(filters: FilterArgs): FilterArgs {
  return new FilterArgs(filters.names().map((n) => [n, filters.get(n)]));
}

function hasOptions(v: VolumeState): boolean {
  return Object.keys(v.meta.Options ?? {}).length > 0;
}

function isStringMap(value: unknown): value is Record<string, string> {
  return (
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === 'string')
  );
}

export class VolumeService {
  /** `<data-root>/volumes`. */
  readonly root: string;
  private readonly events: EventBus;
  private readonly logger: Logger;
  private readonly volumes = new Map<string, VolumeState>();
  private readonly locks = new KeyedLock();
  private pruning = false;

  private constructor(root: string, events: EventBus, logger: Logger) {
    this.root = root;
    this.events = events;
    this.logger = logger;
  }

  /**
   * Opens (creating) `<data-root>/volumes`, loads every volume, deletes what
   * interrupted creations and removals left, and notes which tmpfs/bind
   * volumes are still mounted (containers may have outlived the daemon).
   */
  static async open(deps: { dataRoot: string; events: EventBus; logger: Logger }): Promise<VolumeService> {
    const service = new VolumeService(join(deps.dataRoot, 'volumes'), deps.events, deps.logger);
    await service.load();
    return service;
  }

  private async load(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o701 });
    await chmod(this.root, 0o701);
    for (const entry of await readdir(this.root, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const dir = join(this.root, entry.name);
      if (entry.name.startsWith('.')) {
        await this.deleteLeftover(dir);
        continue;
      }
      let meta: VolumeMeta | undefined;
      try {
        meta = await readJsonFile<VolumeMeta>(join(dir, 'meta.json'));
      } catch (err) {
        this.logger.warn({ err, dir }, 'volume metadata unreadable; volume skipped');
        continue;
      }
      if (!meta) {
        this.logger.warn({ dir }, 'directory in the volumes root without meta.json; not a volume, skipped');
        continue;
      }
      if (meta.Name !== entry.name) {
        this.logger.warn({ dir, name: meta.Name }, 'volume metadata names another volume; skipped');
        continue;
      }
      let mount: MountSpec | undefined;
      try {
        mount = mountSpecOf(meta.Options);
      } catch (err) {
        this.logger.warn(
          { err, volume: meta.Name },
          'volume options cannot be mounted; volume kept unmounted',
        );
      }
      const data = join(dir, '_data');
      this.volumes.set(meta.Name, {
        meta,
        dir,
        data,
        mount,
        mounted: mount !== undefined && (await isMountPoint(data)),
        active: new Map(),
        users: new Set(),
        removing: false,
      });
    }
  }

  /** Deletes an interrupted creation or removal, unmounting whatever is still mounted in it first. */
  private async deleteLeftover(dir: string): Promise<void> {
    try {
      for (const m of await mountsUnder(dir)) await unmountAll(m);
      await rm(dir, { recursive: true, force: true });
    } catch (err) {
      this.logger.warn({ err, dir }, 'could not delete a leftover volume directory');
    }
  }

  private view(v: VolumeState): VolumeView {
    return {
      name: v.meta.Name,
      driver: v.meta.Driver,
      mountpoint: v.data,
      createdAt: v.meta.CreatedAt,
      labels: v.meta.Labels,
      options: v.meta.Options,
      anonymous: v.meta.Anonymous === true,
    };
  }

  private require(name: string): VolumeState {
    const v = this.volumes.get(name);
    if (!v || v.removing) throw new NotFoundError(`get ${name}: no such volume`);
    return v;
  }

  private publish(name: string, action: string, attributes: Record<string, string>): void {
    this.events.publish({ Type: 'volume', Action: action, Actor: { ID: name, Attributes: attributes } });
  }

  /** Number of volumes. */
  count(): number {
    return this.volumes.size;
  }

  /**
   * `POST /volumes/create`. Without a name the volume is anonymous: a random
   * 64-hex name and the {@link ANONYMOUS_LABEL} label. An existing name
   * returns that volume unchanged, as Docker does. `reference` makes a
   * container a user in the same step (so no prune can take the volume in
   * between), as moby's create-with-reference.
   */
  async create(req: VolumeCreateRequest, options: { reference?: string } = {}): Promise<VolumeView> {
    const anonymous = req.Name === undefined || req.Name === '';
    const name = anonymous ? randomBytes(32).toString('hex') : (req.Name as string);
    const driver = req.Driver ?? '';
    if (driver !== '' && driver !== DEFAULT_DRIVER) {
      throw new NotFoundError(
        `create ${name}: error looking up volume plugin ${driver}: plugin ${JSON.stringify(driver)} not found`,
      );
    }
    return this.locks.run(name, async () => {
      const existing = this.volumes.get(name);
      if (existing) {
        if (options.reference !== undefined) existing.users.add(options.reference);
        return this.view(existing);
      }
      let mount: MountSpec | undefined;
      try {
        validateName(name);
        if (req.DriverOpts != null && !isStringMap(req.DriverOpts)) {
          throw new InvalidParameterError('driver options must be strings');
        }
        if (req.Labels != null && !isStringMap(req.Labels)) {
          throw new InvalidParameterError('labels must be strings');
        }
        validateDriverOptions(req.DriverOpts);
        mount = mountSpecOf(req.DriverOpts);
      } catch (err) {
        throw new InvalidParameterError(`create ${name}: ${errorMessage(err)}`, { cause: err });
      }
      const meta: VolumeMeta = {
        Name: name,
        Driver: DEFAULT_DRIVER,
        Labels: anonymous ? { ...(req.Labels ?? {}), [ANONYMOUS_LABEL]: '' } : (req.Labels ?? null),
        Options: req.DriverOpts ?? null,
        CreatedAt: new Date().toISOString(),
        ...(anonymous ? { Anonymous: true } : {}),
      };
      const dir = join(this.root, name);
      const tmp = join(this.root, `.${name}.creating-${randomBytes(6).toString('hex')}`);
      try {
        await mkdir(tmp, { mode: 0o701 });
        await chmod(tmp, 0o701);
        await mkdir(join(tmp, '_data'), { mode: 0o755 });
        await chmod(join(tmp, '_data'), 0o755);
        await writeFileAtomic(join(tmp, 'meta.json'), JSON.stringify(meta));
        await rename(tmp, dir);
        await fsyncDir(this.root);
      } catch (err) {
        await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
        if (isErrno(err, 'ENOTEMPTY') || isErrno(err, 'EEXIST')) {
          throw new SystemError(`create ${name}: ${dir} exists and is not a volume`, { cause: err });
        }
        throw new SystemError(`create ${name}: ${errorMessage(err)}`, { cause: err });
      }
      const state: VolumeState = {
        meta,
        dir,
        data: join(dir, '_data'),
        mount,
        mounted: false,
        active: new Map(),
        users: new Set(options.reference !== undefined ? [options.reference] : []),
        removing: false,
      };
      this.volumes.set(name, state);
      this.publish(name, 'create', { driver: DEFAULT_DRIVER });
      return this.view(state);
    });
  }

  /** `GET /volumes/{name}`. @throws NotFoundError `get <name>: no such volume`. */
  get(name: string): VolumeView {
    return this.view(this.require(name));
  }

  /** `GET /volumes`: filters `dangling`, `driver`, `label`, `name` (moby's), sorted by name. */
  list(filters: FilterArgs): VolumeView[] {
    filters.validate(VOLUME_LIST_FILTERS);
    const dangling = danglingFilter(filters);
    const drivers = filters.get('driver');
    const out: VolumeView[] = [];
    for (const v of this.volumes.values()) {
      if (v.removing) continue;
      if (drivers.length > 0 && !drivers.includes(v.meta.Driver)) continue;
      if (filters.contains('name') && !nameMatches(filters, v.meta.Name)) continue;
      if (!filters.matchKVList('label', v.meta.Labels ?? {})) continue;
      if (dangling !== undefined && dangling === v.users.size > 0) continue;
      out.push(this.view(v));
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * `DELETE /volumes/{name}`: deletes the volume and its content (unmounting
   * a tmpfs or bind first; a bind's host directory is never touched).
   * `force` only makes a missing volume no error, as in moby.
   * @throws ConflictError `remove <name>: volume is in use - [<container ids>]`.
   */
  async remove(name: string, force = false): Promise<void> {
    await this.locks.run(name, async () => {
      const v = this.volumes.get(name);
      if (!v) {
        if (force) return;
        throw new NotFoundError(`get ${name}: no such volume`);
      }
      if (v.users.size > 0) {
        throw new ConflictError(`remove ${name}: volume is in use - [${[...v.users].sort().join(', ')}]`);
      }
      await this.destroy(v);
    });
  }

  /** Unmounts, renames away and deletes a volume; publishes `destroy`. Call under the volume's lock. */
  private async destroy(v: VolumeState): Promise<void> {
    const name = v.meta.Name;
    v.removing = true;
    try {
      if (v.mount !== undefined || v.mounted) await unmountAll(v.data);
      v.mounted = false;
      const left = await mountsUnder(v.dir);
      if (left.length > 0) {
        throw new SystemError(`${left.join(', ')} still mounted; volume content left in place`);
      }
      const gone = join(this.root, `.${name}.removing-${randomBytes(6).toString('hex')}`);
      await rename(v.dir, gone);
      this.volumes.delete(name);
      // The volume is gone from here on; what rm leaves behind, open() deletes.
      await fsyncDir(this.root).catch(() => undefined);
      await rm(gone, { recursive: true, force: true }).catch((err: unknown) => {
        this.logger.warn({ err, volume: name, dir: gone }, 'could not delete a removed volume’s content');
      });
    } catch (err) {
      v.removing = false;
      throw new SystemError(`remove ${name}: ${errorMessage(err)}`, { cause: err });
    }
    this.publish(name, 'destroy', { driver: v.meta.Driver });
  }

  /**
   * `POST /volumes/prune`: removes unused local volumes without driver
   * options, only anonymous ones unless the `all` filter is true (API ≥
   * 1.42; the route adds `all=true` for older clients). Filters `label`,
   * `label!`, `all`. Publishes `destroy` for each, then `prune`.
   */
  async prune(filters: FilterArgs): Promise<{ deleted: string[]; reclaimed: number }> {
    if (this.pruning) throw new ConflictError('a prune operation is already running');
    this.pruning = true;
    try {
      filters.validate(VOLUME_PRUNE_FILTERS);
      const effective = copyFilters(filters);
      const all = filters.get('all');
      if (all.length > 1) {
        throw new InvalidParameterError(`invalid filter 'all=${goList(all)}': only one value is expected`);
      }
      let everything = false;
      if (all.length === 1) {
        const parsed = parseGoBool(all[0] ?? '');
        if (parsed === undefined) {
          throw new InvalidParameterError(
            `invalid filter 'all': strconv.ParseBool: parsing ${JSON.stringify(all[0])}: invalid syntax`,
          );
        }
        everything = parsed;
      }
      if (!everything) effective.add('label', ANONYMOUS_LABEL);

      const deleted: string[] = [];
      let reclaimed = 0;
      const candidates = [...this.volumes.values()].sort((a, b) => (a.meta.Name < b.meta.Name ? -1 : 1));
      for (const v of candidates) {
        if (v.meta.Driver !== DEFAULT_DRIVER || hasOptions(v)) continue;
        const labels = v.meta.Labels ?? {};
        if (!effective.matchKVList('label', labels)) continue;
        if (effective.contains('label!') && effective.matchKVList('label!', labels)) continue;
        await this.locks.run(v.meta.Name, async () => {
          if (this.volumes.get(v.meta.Name) !== v || v.users.size > 0) return;
          let size = 0;
          try {
            size = await directorySize(v.data);
          } catch (err) {
            this.logger.warn({ err, volume: v.meta.Name }, 'could not determine size of volume');
          }
          try {
            await this.destroy(v);
          } catch (err) {
            this.logger.warn({ err, volume: v.meta.Name }, 'could not remove volume');
            return;
          }
          deleted.push(v.meta.Name);
          reclaimed += size;
        });
      }
      this.events.publish({
        Type: 'volume',
        Action: 'prune',
        Actor: { ID: '', Attributes: { reclaimed: String(reclaimed) } },
      });
      return { deleted, reclaimed };
    } finally {
      this.pruning = false;
    }
  }

  /** Size and user count of one volume (`UsageData`). */
  async usage(name: string): Promise<VolumeUsage> {
    const v = this.require(name);
    let size: number;
    try {
      size = await directorySize(v.data);
    } catch (err) {
      if (!isErrno(err, 'ENOENT'))
        this.logger.warn({ err, volume: name }, 'failed to determine size of volume');
      size = -1;
    }
    return { size, refCount: v.users.size };
  }

  /**
   * The volumes `/system/df` reports, with their usage: local volumes
   * without driver options (a tmpfs or bind holds nothing of the data
   * root's), as moby's LocalVolumesSize.
   */
  async diskUsage(): Promise<{ view: VolumeView; usage: VolumeUsage }[]> {
    const out: { view: VolumeView; usage: VolumeUsage }[] = [];
    for (const view of this.list(new FilterArgs())) {
      const v = this.volumes.get(view.name);
      if (!v || v.meta.Driver !== DEFAULT_DRIVER || hasOptions(v)) continue;
      out.push({ view, usage: await this.usage(view.name) });
    }
    return out;
  }

  /**
   * A container mounts the volume (at its start): the volume's tmpfs or
   * bind is mounted on `_data` if no one holds it yet, the container becomes
   * a user, and the `mount` event is published. Returns the host path to
   * bind into the container. Each call needs one {@link unmount}.
   * @throws NotFoundError, SystemError when the mount fails.
   */
  async mount(name: string, containerId: string, info: VolumeMountInfo = {}): Promise<string> {
    return this.locks.run(name, async () => {
      const v = this.require(name);
      if (v.mount && !v.mounted) {
        if (!(await isMountPoint(v.data))) await mountVolume(v.mount, v.data);
        v.mounted = true;
      }
      v.active.set(containerId, (v.active.get(containerId) ?? 0) + 1);
      v.users.add(containerId);
      this.publish(name, 'mount', {
        container: containerId,
        destination: info.destination ?? '',
        driver: v.meta.Driver,
        propagation: info.propagation ?? '',
        'read/write': String(info.readWrite ?? true),
      });
      return v.data;
    });
  }

  /**
   * Gives back one mount of {@link mount} (at the container's stop). When
   * the last active mount goes, a tmpfs or bind is unmounted from `_data`.
   * The container stays a user until {@link release}. Publishes `unmount`.
   * @throws NotFoundError, SystemError when the unmount fails (the mount is
   *   given back all the same, as moby does).
   */
  async unmount(name: string, containerId: string): Promise<void> {
    await this.locks.run(name, async () => {
      const v = this.require(name);
      const held = v.active.get(containerId) ?? 0;
      if (held === 0) {
        this.logger.warn({ volume: name, container: containerId }, 'unmount without a mount; ignored');
        return;
      }
      if (held === 1) v.active.delete(containerId);
      else v.active.set(containerId, held - 1);
      if (v.mount && v.mounted && v.active.size === 0) {
        await unmountAll(v.data);
        v.mounted = false;
      }
      this.publish(name, 'unmount', { container: containerId, driver: v.meta.Driver });
    });
  }

  /** Makes a container a user without mounting (at container create). @throws NotFoundError */
  reference(name: string, containerId: string): void {
    this.require(name).users.add(containerId);
  }

  /** The container no longer uses the volume (at container removal). Unknown names are ignored. */
  release(name: string, containerId: string): void {
    this.volumes.get(name)?.users.delete(containerId);
  }

  /** IDs of the containers using the volume, sorted; empty for an unknown name. */
  users(name: string): string[] {
    return [...(this.volumes.get(name)?.users ?? [])].sort();
  }

  /**
   * Replaces the user registry at daemon start with what the containers
   * say: every (volume, container) pair of their mounts, `mounted` for
   * running containers (each pair one active mount). Pairs naming volumes
   * that no longer exist are skipped.
   */
  rebuildUsers(pairs: readonly VolumeUserPair[]): void {
    for (const v of this.volumes.values()) {
      v.users.clear();
      v.active.clear();
    }
    for (const { name, containerId, mounted } of pairs) {
      const v = this.volumes.get(name);
      if (!v) {
        this.logger.warn({ volume: name, container: containerId }, 'container uses a volume that is gone');
        continue;
      }
      v.users.add(containerId);
      if (mounted) v.active.set(containerId, (v.active.get(containerId) ?? 0) + 1);
    }
  }

  /**
   * Docker's copy-up: fills the volume with `fromDir` (the image's content
   * at the mount destination) when the volume is empty, keeping ownership,
   * modes, times and symlinks (`cp -a <fromDir>/. <_data>/`). A tmpfs or bind
   * volume is mounted for the copy if no one holds it. Returns whether it
   * copied: nothing is copied into a non-empty volume, nor from a
   * `fromDir` that is missing or not a directory (a symlink is not
   * followed: the caller resolves it inside the container's root).
   */
  async copyUp(name: string, fromDir: string): Promise<boolean> {
    return this.locks.run(name, async () => {
      const v = this.require(name);
      try {
        if (!(await lstat(fromDir)).isDirectory()) return false;
      } catch (err) {
        if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return false;
        throw err;
      }
      const temporary = v.mount !== undefined && !v.mounted;
      if (temporary && v.mount) await mountVolume(v.mount, v.data);
      try {
        if (!(await isEmptyDir(v.data))) return false;
        await copyTree(fromDir, v.data);
        return true;
      } finally {
        if (temporary) await unmountAll(v.data);
      }
    });
  }
}
