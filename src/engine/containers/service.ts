import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

import {
  ConflictError,
  InvalidParameterError,
  NotFoundError,
  NotModifiedError,
  SystemError,
  errorMessage,
} from '../../errors.js';
import { isMounted, mountOverlay, unmount } from '../../runtime/overlay.js';
import { labelHolds, untilCutoff, type FilterArgs } from '../../util/filters.js';
import type { Logger } from '../../util/log.js';
import type { EventBus } from '../events/bus.js';
import type { ImageService } from '../images/service.js';
import { commandOf, mergeConfig, normalizeHostConfig, resolveMounts, type CreateRequest } from './create.js';
import type { RuntimeDriver } from './driver.js';
import { writeContainerFiles, writeInitLayer } from './files.js';
import { initialState, type ContainerRecord, type ContainerState, type HostConfig } from './model.js';
import { normalizeName, randomName } from './names.js';
import { nextBackoff, shouldRestart, startOnDaemonStart } from './restart.js';
import { buildContainerSpec, type SpecContext } from './spec.js';
import type { ContainerStore } from './store.js';
import { normalizeSignal, signalNumber } from './signals.js';

/** A container in memory: its two records and what is in flight for it. */
export class Container {
  record: ContainerRecord;
  state: ContainerState;
  /** Resolves waiters when the container stops running. */
  exitWaiters: ((code: number) => void)[] = [];
  removedWaiters: (() => void)[] = [];
  /** Attach requests made before start; served once conmon's socket exists. */
  pendingAttach: ((bundleDir: string) => void)[] = [];
  restartTimer: NodeJS.Timeout | undefined;
  backoffMs = 0;
  healthTimer: NodeJS.Timeout | undefined;
  rotationTimer: NodeJS.Timeout | undefined;
  execIds = new Set<string>();
  /** The network namespace a service prepared for the next start (a bind-mounted file), if any. */
  netnsPath: string | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(record: ContainerRecord, state: ContainerState) {
    this.record = record;
    this.state = state;
  }

  get id(): string {
    return this.record.ID;
  }

  get name(): string {
    return this.record.Name.slice(1);
  }

  get running(): boolean {
    return this.state.Status === 'running' || this.state.Status === 'paused';
  }

  /** Resolves once the operations queued on this container so far are done. */
  idle(): Promise<void> {
    return this.chain.then(() => undefined);
  }

  /** Runs state-changing operations on this container one at a time. */
  serialize<T>(op: () => Promise<T>): Promise<T> {
    const next = this.chain.then(op, op);
    this.chain = next.catch(() => undefined);
    return next;
  }
}

/** What containers need from the volume service (named and anonymous volumes). */
export interface VolumeBinding {
  /** Creates the volume if needed (anonymous when `name` is undefined) and records the container as a user; returns its name. */
  create(name: string | undefined, containerId: string): Promise<string>;
  /** Mounts it for a starting container; returns the host path to bind. */
  mount(
    name: string,
    containerId: string,
    info: { destination: string; readWrite: boolean; propagation: string },
  ): Promise<string>;
  unmount(name: string, containerId: string): Promise<void>;
  release(name: string, containerId: string): void;
  remove(name: string): Promise<void>;
  /** Fills an empty volume with what the image has at the mount path. */
  copyUp(name: string, fromDir: string): Promise<boolean>;
  rebuildUsers(pairs: { name: string; containerId: string; mounted: boolean }[]): void;
}

export interface ContainerServiceDeps {
  store: ContainerStore;
  images: ImageService;
  driver: RuntimeDriver;
  events: EventBus;
  logger: Logger;
  execRoot: string;
  cgroupParent: string;
  defaultRuntime: () => string;
  initPath: string | undefined;
  specContext: () => Promise<SpecContext>;
  volumes?: VolumeBinding | undefined;
}

export interface ContainerFilters {
  all: boolean;
  limit: number;
  filters: FilterArgs;
}

export const CONTAINER_LIST_FILTERS = [
  'id',
  'name',
  'label',
  'label!',
  'status',
  'exited',
  'ancestor',
  'before',
  'since',
  'health',
  'network',
  'volume',
  'publish',
  'expose',
  'is-task',
] as const;

const LOG_DRIVERS = ['json-file', 'local', 'k8s-file', 'none'];
const ROTATION_CHECK_MS = 1000;

/**
 * Docker's container semantics on conmon + an OCI runtime: create, start,
 * stop, kill, restart, pause, rename, update, wait, remove, restart
 * policies, and re-adoption of running containers when the daemon starts.
 * Each container's operations run one at a time; exits arrive from conmon's
 * exit files and are applied in the same order.
 */
export class ContainerService {
  readonly deps: ContainerServiceDeps;
  private readonly containers = new Map<string, Container>();
  private stopWatching: (() => void) | undefined;
  private shuttingDown = false;
  /** Set by the network service: the endpoints a new container starts with (throws for unknown networks). */
  networkResolver:
    ((mode: string, endpoints: Record<string, unknown> | undefined) => object | undefined) | undefined;

  /**
   * Hooks other services (networks, volumes, exec) register. A start runs
   * `beforeStart` (alongside the rootfs mount; may set `netnsPath`), then the
   * runtime's create, during which `creating` may begin work of its own
   * (which `afterCreate` then waits for), then `afterCreate`, then the
   * runtime's start; when any of it fails, `startFailed` undoes what the
   * hooks did. `afterExit` runs once the container stopped, before its
   * `removed` waiters are answered.
   */
  readonly hooks: {
    beforeStart: ((c: Container) => Promise<void>)[];
    creating: ((c: Container) => void)[];
    afterCreate: ((c: Container, pid: number) => Promise<void>)[];
    startFailed: ((c: Container) => Promise<void>)[];
    afterExit: ((c: Container) => Promise<void>)[];
    beforeRemove: ((c: Container) => Promise<void>)[];
  } = { beforeStart: [], creating: [], afterCreate: [], startFailed: [], afterExit: [], beforeRemove: [] };

  constructor(deps: ContainerServiceDeps) {
    this.deps = deps;
  }

  /** Loads every container, re-adopts running ones, records exits that happened while the daemon was down. */
  async open(): Promise<void> {
    await this.deps.store.init();
    const { containers, orphans } = await this.deps.store.loadAll();
    for (const id of orphans) {
      await unmount(join(this.deps.store.dir(id), 'merged'));
      await rm(this.deps.store.dir(id), { recursive: true, force: true });
    }
    for (const { record, state } of containers) this.containers.set(record.ID, new Container(record, state));
    this.deps.volumes?.rebuildUsers(
      [...this.containers.values()].flatMap((c) =>
        c.record.Mounts.filter((m) => m.Type === 'volume' && m.Name).map((m) => ({
          name: m.Name ?? '',
          containerId: c.id,
          mounted: c.running,
        })),
      ),
    );
    this.stopWatching = this.deps.driver.watchExits((id) => {
      const c = this.containers.get(id);
      if (c)
        void c
          .serialize(() => this.handleExit(c))
          .catch((err: unknown) => this.deps.logger.error({ err, id }, 'exit handling failed'));
    });
    for (const c of this.containers.values()) {
      await c
        .serialize(() => this.restore(c))
        .catch((err: unknown) => {
          this.deps.logger.error({ err, id: c.id }, 'restoring container failed');
        });
    }
    // Removals restore finished (or started) are done before the daemon serves anything.
    await this.settled();
  }

  /** Stops watching; containers keep running (live restore). */
  close(): void {
    this.shuttingDown = true;
    this.stopWatching?.();
    for (const c of this.containers.values()) {
      clearTimeout(c.restartTimer);
      clearTimeout(c.healthTimer);
      clearInterval(c.rotationTimer);
    }
  }

  private async restore(c: Container): Promise<void> {
    const { driver } = this.deps;
    if (c.state.Status === 'removing') {
      await this.destroy(c, { quiet: true });
      return;
    }
    if (c.state.Status === 'running' || c.state.Status === 'paused' || c.state.Status === 'restarting') {
      const alive = c.state.ConmonPid > 0 && driver.conmonAlive(c.state.ConmonPid, c.id);
      const exit = await driver.readExit(c.id);
      if (alive && exit === undefined) {
        const rt = await driver.state(c.record.Runtime, c.id).catch(() => undefined);
        if (rt && (rt.status === 'running' || rt.status === 'paused')) {
          c.state.Status = rt.status === 'paused' ? 'paused' : 'running';
          c.state.Pid = rt.pid;
          await this.save(c);
          this.startRotation(c);
          this.deps.logger.info({ id: c.id }, 're-adopted running container');
          return;
        }
      }
      await this.handleExit(c, true);
      return;
    }
    if (c.record.HostConfig.AutoRemove && c.state.HasBeenStarted) {
      // It exited while a daemon was stopping (which does not remove containers): remove it now, as dockerd does.
      await this.destroy(c);
      return;
    }
    if (startOnDaemonStart(c.record.HostConfig.RestartPolicy, c.state) && c.state.HasBeenStarted) {
      this.scheduleRestart(c, 0);
    }
  }

  // ---- lookup -------------------------------------------------------------

  /** A container by full ID, name (with or without slash), or unique ID prefix. */
  get(ref: string): Container {
    const c = this.find(ref);
    if (!c) throw new NotFoundError(`No such container: ${ref}`);
    return c;
  }

  find(ref: string): Container | undefined {
    if (ref === '') return undefined;
    const exact = this.containers.get(ref);
    if (exact) return exact;
    const name = ref.startsWith('/') ? ref : `/${ref}`;
    for (const c of this.containers.values()) if (c.record.Name === name) return c;
    if (/^[a-f0-9]+$/.test(ref)) {
      const matches = [...this.containers.values()].filter((c) => c.id.startsWith(ref));
      if (matches.length === 1) return matches[0];
      if (matches.length > 1)
        throw new InvalidParameterError(`multiple containers found with provided prefix: ${ref}`);
    }
    return undefined;
  }

  all(): Container[] {
    return [...this.containers.values()];
  }

  /** Counts for `GET /info`. */
  counts(): { containers: number; running: number; paused: number; stopped: number } {
    const all = this.all();
    const running = all.filter((c) => c.state.Status === 'running' || c.state.Status === 'restarting').length;
    const paused = all.filter((c) => c.state.Status === 'paused').length;
    return { containers: all.length, running, paused, stopped: all.length - running - paused };
  }

  /** Image IDs in use, and by which containers, for image deletion conflicts. */
  imageUsers(imageId: string, running: boolean): string[] {
    return this.all()
      .filter((c) => c.record.Image === imageId && c.running === running)
      .map((c) => c.id);
  }

  dir(c: Container): string {
    return this.deps.store.dir(c.id);
  }

  bundleDir(c: Container): string {
    return join(this.deps.execRoot, 'b', c.id.slice(0, 12));
  }

  logPath(c: Container): string {
    return join(this.dir(c), 'ctr.log');
  }

  // ---- create -------------------------------------------------------------

  async create(nameArg: string | undefined, req: CreateRequest): Promise<{ id: string; warnings: string[] }> {
    const imageName = req.Config.Image ?? '';
    if (imageName === '')
      throw new InvalidParameterError('config cannot be empty in order to create a container');
    const image = this.deps.images.resolve(imageName);
    const imageConfig = await this.deps.images.config(image.id);
    const hc = normalizeHostConfig(req.HostConfig, this.deps.defaultRuntime());
    if (!this.deps.driver.runtimes().includes(hc.Runtime)) {
      throw new InvalidParameterError(`unknown or invalid runtime name: ${hc.Runtime}`);
    }
    if (!LOG_DRIVERS.includes(hc.LogConfig.Type)) {
      throw new InvalidParameterError(
        `failed to create task for container: logger: no log driver named '${hc.LogConfig.Type}' is registered`,
      );
    }
    validateLogOptions(hc);
    if (hc.NetworkMode.startsWith('container:') || !this.networkResolver) {
      validateNetworkMode(hc.NetworkMode, (ref) => this.find(ref));
    }
    const network = this.networkResolver?.(
      hc.NetworkMode,
      req.NetworkingConfig?.EndpointsConfig ?? undefined,
    );
    const config = mergeConfig(req.Config, imageConfig.config, imageName);
    const command = commandOf(config);
    const mounts = resolveMounts(hc, config.Volumes);
    for (const spec of hc.VolumesFrom ?? []) {
      const [ref = '', mode = ''] = spec.split(':');
      const source = this.get(ref);
      for (const m of source.record.Mounts) {
        if (m.Type === 'tmpfs' || mounts.some((x) => x.Destination === m.Destination)) continue;
        mounts.push({ ...m, RW: mode === 'ro' ? false : mode === 'rw' ? true : m.RW, Anonymous: false });
      }
    }
    if (mounts.some((m) => m.Type === 'volume') && !this.deps.volumes) {
      throw new InvalidParameterError('volumes are not available in this daemon');
    }

    const id = randomBytes(32).toString('hex');
    const name = nameArg ? normalizeName(nameArg) : this.uniqueRandomName();
    const holder = this.find(name);
    if (holder) {
      throw new ConflictError(
        `Conflict. The container name "${name}" is already in use by container "${holder.id}". You have to remove (or rename) that container to be able to reuse that name.`,
      );
    }
    if (hc.NetworkMode.startsWith('container:')) {
      // A container in another's network namespace takes its hostname (and, at start, its hosts files).
      config.Hostname = this.get(hc.NetworkMode.slice('container:'.length)).record.Config.Hostname;
    }
    if (config.Hostname === '') config.Hostname = hc.NetworkMode === 'host' ? '' : id.slice(0, 12);

    const record: ContainerRecord = {
      ID: id,
      Name: name,
      Created: new Date().toISOString(),
      ImageName: imageName,
      Image: image.id,
      Path: command.path,
      Args: command.args,
      Config: config,
      HostConfig: hc,
      Mounts: mounts,
      Runtime: hc.Runtime,
      Process: { uid: 0, gid: 0, additionalGids: [] },
      ...(network ? { Network: network as Record<string, unknown> } : {}),
    };
    const c = new Container(record, initialState());
    this.containers.set(id, c);
    try {
      for (const m of mounts) {
        if (m.Type === 'volume') {
          m.Name = await (this.deps.volumes as VolumeBinding).create(m.Name || undefined, id);
          m.Source = '';
        }
      }
      const dir = this.dir(c);
      await mkdir(dir, { recursive: true, mode: 0o755 });
      await Promise.all([
        // The overlay's upper dir gives the container's / its mode: 0755 as in any image.
        ...['upper', 'merged'].map((d) => mkdir(join(dir, d), { mode: 0o755 })),
        ...['work', 'persist'].map((d) => mkdir(join(dir, d), { mode: 0o700 })),
        (async () => {
          await mkdir(join(dir, 'init'), { mode: 0o755 });
          await writeInitLayer(join(dir, 'init'));
        })(),
      ]);
      // A container exists once both are there (the store takes a directory lacking either for an orphan).
      await Promise.all([this.deps.store.saveState(id, c.state), this.deps.store.saveRecord(record)]);
    } catch (err) {
      this.containers.delete(id);
      for (const m of mounts) if (m.Type === 'volume' && m.Name) this.deps.volumes?.release(m.Name, id);
      await this.deps.store.remove(id).catch(() => undefined);
      throw err;
    }
    this.publish(c, 'create');
    return { id, warnings: [] };
  }

  private uniqueRandomName(): string {
    for (let i = 0; i < 10; i++) {
      const n = `/${randomName(i)}`;
      if (!this.find(n)) return n;
    }
    return `/${randomName(9)}_${randomBytes(2).toString('hex')}`;
  }

  // ---- start --------------------------------------------------------------

  start(ref: string): Promise<void> {
    const c = this.get(ref);
    return c.serialize(() => this.startNow(c, false));
  }

  private async startNow(c: Container, policyRestart: boolean): Promise<void> {
    if (c.state.Status === 'paused') {
      throw new ConflictError('cannot start a paused container, try unpause instead');
    }
    if (c.state.Status === 'running') throw new NotModifiedError('container already started');
    if (c.state.Status === 'removing' || c.state.Status === 'dead') {
      throw new ConflictError(`container ${c.id} is marked for removal and cannot be started`);
    }
    clearTimeout(c.restartTimer);
    c.restartTimer = undefined;
    const { driver } = this.deps;
    const dir = this.dir(c);
    const bundle = this.bundleDir(c);
    const image = this.deps.images.meta.get(c.record.Image);
    if (!image) throw new NotFoundError(`No such image: ${c.record.ImageName}`);
    try {
      const hc = c.record.HostConfig;
      // Independent preparations, side by side; all of them finish before a failure is handled.
      await allSettled([
        (async () => {
          await rm(bundle, { recursive: true, force: true });
          await mkdir(bundle, { recursive: true, mode: 0o700 });
        })(),
        (async () => {
          await driver.clearExit(c.id);
          await rm(join(dir, 'persist'), { recursive: true, force: true });
          await mkdir(join(dir, 'persist'), { recursive: true, mode: 0o700 });
        })(),
        (async () => {
          await this.mountRootfs(c);
          await this.mountVolumes(c);
        })(),
        (async () => {
          await writeContainerFiles(
            dir,
            c.record.Config.Hostname,
            c.record.Config.Domainname,
            hc.ExtraHosts ?? [],
            { dns: hc.Dns, search: hc.DnsSearch, options: hc.DnsOptions },
            hc.NetworkMode === 'host',
          );
          if (hc.NetworkMode.startsWith('container:')) {
            const peer = this.get(hc.NetworkMode.slice('container:'.length));
            for (const f of ['hosts', 'hostname', 'resolv.conf'])
              await copyFile(join(this.dir(peer), f), join(dir, f));
          }
          for (const hook of this.hooks.beforeStart) await hook(c);
        })(),
      ]);
      const spec = await buildContainerSpec(c, {
        rootfs: join(dir, 'merged'),
        containerDir: dir,
        cgroupParent: this.deps.cgroupParent,
        initPath: this.deps.initPath,
        resolveContainer: (ref) => this.find(ref),
        context: await this.deps.specContext(),
        netnsPath: c.netnsPath,
      });
      c.record.Process = spec.user;
      const { pid, conmonPid } = await driver.create({
        id: c.id,
        runtime: c.record.Runtime,
        bundleDir: bundle,
        spec: spec.oci,
        logPath: this.logPath(c),
        terminal: c.record.Config.Tty,
        stdin: c.record.Config.OpenStdin,
        persistDir: join(dir, 'persist'),
        cwd: dir,
        creating: () => {
          for (const hook of this.hooks.creating) hook(c);
        },
      });
      for (const hook of this.hooks.afterCreate) await hook(c, pid);
      const pending = c.pendingAttach.splice(0);
      for (const deliver of pending) deliver(bundle);
      await driver.start(c.record.Runtime, c.id);
      c.state = {
        ...c.state,
        Status: 'running',
        Pid: pid,
        ConmonPid: conmonPid,
        ExitCode: 0,
        Error: '',
        OOMKilled: false,
        StartedAt: new Date().toISOString(),
        FinishedAt: c.state.FinishedAt,
        HasBeenStarted: true,
        ManuallyStopped: false,
        Health:
          c.record.Config.Healthcheck?.Test?.[0] && c.record.Config.Healthcheck.Test[0] !== 'NONE'
            ? { Status: 'starting', FailingStreak: 0, Log: [] }
            : undefined,
      };
      // The record too: the spec's user, and what the afterCreate hooks added (network endpoints).
      await Promise.all([this.save(c), this.deps.store.saveRecord(c.record)]);
      this.startRotation(c);
      this.publish(c, policyRestart ? 'start' : 'start');
      for (const listener of this.startListeners) listener(c);
    } catch (err) {
      await driver.delete(c.record.Runtime, c.id).catch(() => undefined);
      for (const hook of this.hooks.startFailed)
        await hook(c).catch((e: unknown) => this.deps.logger.warn({ err: e }, 'start-failed hook failed'));
      await this.unmountVolumes(c);
      await unmount(join(dir, 'merged')).catch(() => undefined);
      const message = errorMessage(err);
      c.state = {
        ...c.state,
        Status: c.state.HasBeenStarted ? 'exited' : 'created',
        Error: message,
        ExitCode: exitCodeForStartError(message),
      };
      await this.save(c);
      for (const deliver of c.pendingAttach.splice(0)) deliver('');
      for (const resolve of c.exitWaiters.splice(0)) resolve(c.state.ExitCode);
      if (c.record.HostConfig.AutoRemove)
        await this.destroy(c, { removeVolumes: true, runtime: false }).catch(() => undefined);
      throw startError(err);
    }
  }

  /** Fills new volumes from the image (unless nocopy) and mounts them; records each one's host path. */
  private async mountVolumes(c: Container): Promise<void> {
    const volumes = this.deps.volumes;
    if (!volumes) return;
    const rootfs = join(this.dir(c), 'merged');
    for (const m of c.record.Mounts) {
      if (m.Type !== 'volume' || !m.Name) continue;
      if (!m.NoCopy) {
        const { resolveInRoot } = await import('./fsops.js');
        await volumes.copyUp(m.Name, await resolveInRoot(rootfs, m.Destination)).catch((err: unknown) => {
          this.deps.logger.warn(
            { err: errorMessage(err), volume: m.Name },
            'copying image content into the volume failed',
          );
        });
      }
      m.Source = await volumes.mount(m.Name, c.id, {
        destination: m.Destination,
        readWrite: m.RW,
        propagation: m.Propagation,
      });
    }
    if (c.record.Mounts.some((m) => m.Type === 'volume')) await this.deps.store.saveRecord(c.record);
  }

  private async unmountVolumes(c: Container): Promise<void> {
    for (const m of c.record.Mounts) {
      if (m.Type === 'volume' && m.Name)
        await this.deps.volumes?.unmount(m.Name, c.id).catch(() => undefined);
    }
  }

  /** Listeners told when a container has started (health checks, stats). */
  readonly startListeners: ((c: Container) => void)[] = [];

  private async mountRootfs(c: Container): Promise<void> {
    const dir = this.dir(c);
    const merged = join(dir, 'merged');
    if (await isMounted(merged)) return;
    const image = this.deps.images.meta.get(c.record.Image);
    const top = image?.layers.at(-1);
    const spec = top ? this.deps.images.layers.mountLowerSpec(top.chainId) : undefined;
    await rm(join(dir, 'work'), { recursive: true, force: true });
    await mkdir(join(dir, 'work'), { recursive: true, mode: 0o700 });
    await mountOverlay({
      lowerDirs: [join(dir, 'init'), ...(spec ? spec.lowerdir.split(':') : [])],
      upperDir: join(dir, 'upper'),
      workDir: join(dir, 'work'),
      target: merged,
      cwd: spec?.cwd ?? dir,
    });
  }

  /** Mounts the rootfs of a stopped container for a moment (cp, export, diff), then unmounts it. */
  async withRootfs<T>(c: Container, use: (rootfs: string) => Promise<T>): Promise<T> {
    const merged = join(this.dir(c), 'merged');
    const wasMounted = await isMounted(merged);
    if (!wasMounted) await this.mountRootfs(c);
    try {
      return await use(merged);
    } finally {
      if (!wasMounted && !c.running) await unmount(merged);
    }
  }

  // ---- exits and restarts -------------------------------------------------

  /** Applies an exit conmon recorded (or a container found dead at restore). */
  private async handleExit(c: Container, restoring = false): Promise<void> {
    const { driver } = this.deps;
    if (!c.running && c.state.Status !== 'restarting') return;
    const memoryCgroup = join('/sys/fs/cgroup/memory', this.deps.cgroupParent, c.id);
    const [recorded, oom] = await Promise.all([
      driver.readExit(c.id),
      driver.oomKilled(join(this.dir(c), 'persist'), memoryCgroup).catch(() => false),
    ]);
    const exitCode = recorded ?? 255;
    let finishedAt = new Date().toISOString();
    if (restoring) {
      finishedAt = await exitFileTime(join(this.dir(c), 'persist', 'exit')).catch(() => finishedAt);
    }
    clearTimeout(c.healthTimer);
    clearInterval(c.rotationTimer);
    c.healthTimer = undefined;
    c.rotationTimer = undefined;
    // A container that goes away at once (`--rm`) keeps its runtime state and rootfs until removal,
    // which answers the `removed` waiters first and then cleans up (see destroy).
    const autoRemove = c.record.HostConfig.AutoRemove && !this.shuttingDown;
    if (autoRemove) await this.unmountVolumes(c);
    else {
      await Promise.all([
        driver
          .delete(c.record.Runtime, c.id)
          .catch((err: unknown) => this.deps.logger.warn({ err, id: c.id }, 'runtime delete failed')),
        (async () => {
          await this.unmountVolumes(c);
          await unmount(join(this.dir(c), 'merged'));
        })(),
      ]);
    }
    const ranFor = Date.parse(finishedAt) - Date.parse(c.state.StartedAt);
    c.state = {
      ...c.state,
      Status: 'exited',
      Pid: 0,
      ConmonPid: 0,
      ExitCode: exitCode,
      OOMKilled: oom,
      FinishedAt: finishedAt,
      Error:
        recorded === undefined ? 'container exited while the daemon was down; its exit code is unknown' : '',
      Health: c.state.Health
        ? {
            ...c.state.Health,
            Status: 'unhealthy' === c.state.Health.Status ? 'unhealthy' : c.state.Health.Status,
          }
        : undefined,
    };
    // Until destroy saves `removing`, a `--rm` container stays `running` on disk: after a crash the
    // next daemon finds it exited and handles the exit (and the removal) again.
    if (!autoRemove) await this.save(c);
    if (oom) this.publish(c, 'oom');
    this.publish(c, 'die', {
      exitCode: String(exitCode),
      execDuration: String(Math.max(0, Math.floor(ranFor / 1000))),
    });
    for (const hook of this.hooks.afterExit)
      await hook(c).catch((err: unknown) => this.deps.logger.warn({ err }, 'exit hook failed'));
    // The hooks cleared what the record says about the run (network endpoints).
    if (!autoRemove) await this.deps.store.saveRecord(c.record);
    for (const resolve of c.exitWaiters.splice(0)) resolve(exitCode);

    if (autoRemove) {
      await this.destroy(c, { removeVolumes: true, runtime: true });
      return;
    }
    if (!this.shuttingDown && shouldRestart(c.record.HostConfig.RestartPolicy, c.state, exitCode)) {
      c.backoffMs = nextBackoff(c.backoffMs, ranFor);
      this.scheduleRestart(c, c.backoffMs);
    }
  }

  private scheduleRestart(c: Container, delayMs: number): void {
    clearTimeout(c.restartTimer);
    c.state.Status = 'restarting';
    void this.save(c);
    c.restartTimer = setTimeout(() => {
      c.restartTimer = undefined;
      void c
        .serialize(async () => {
          if (c.state.Status !== 'restarting') return;
          c.state.Status = 'exited';
          c.state.RestartCount += 1;
          await this.startNow(c, true);
        })
        .catch((err: unknown) => {
          this.deps.logger.warn({ id: c.id, err: errorMessage(err) }, 'restart failed');
          if (shouldRestart(c.record.HostConfig.RestartPolicy, c.state, c.state.ExitCode || 1)) {
            c.backoffMs = nextBackoff(c.backoffMs, 0);
            this.scheduleRestart(c, c.backoffMs);
          } else {
            c.state.Status = 'exited';
            void this.save(c);
          }
        });
    }, delayMs);
    c.restartTimer.unref();
  }

  // ---- stop, kill, restart, pause ----------------------------------------

  /**
   * Stop: the stop signal, up to the timeout for an exit, then SIGKILL. The
   * container's queue is held only while signalling, so the exit (handled on
   * that queue) can land while this waits.
   */
  async stop(ref: string, timeoutSeconds?: number, signal?: string): Promise<void> {
    const c = this.get(ref);
    await this.stopContainer(c, timeoutSeconds, signal);
  }

  private async stopContainer(c: Container, timeoutSeconds?: number, signal?: string): Promise<void> {
    const started = await c.serialize(async () => {
      if (c.state.Status === 'restarting') {
        clearTimeout(c.restartTimer);
        c.state.Status = 'exited';
        c.state.ManuallyStopped = true;
        await this.save(c);
        return { exited: Promise.resolve(c.state.ExitCode), waited: false };
      }
      if (!c.running) throw new NotModifiedError('container already stopped');
      c.state.ManuallyStopped = true;
      await this.save(c);
      if (c.state.Status === 'paused') await this.resumeNow(c, false);
      const exited = this.exitPromise(c);
      await this.signal(c, signal || c.record.Config.StopSignal || 'SIGTERM');
      return { exited, waited: true };
    });
    if (started.waited) {
      const timeout = timeoutSeconds ?? c.record.Config.StopTimeout ?? 10;
      const graceful =
        timeout < 0
          ? await started.exited.then(() => true)
          : await raceTimeout(started.exited, timeout * 1000);
      if (!graceful) {
        await c.serialize(async () => {
          if (c.running) await this.signal(c, 'SIGKILL');
        });
        if (!(await raceTimeout(started.exited, 30_000)))
          throw new SystemError(`container ${c.id} did not exit after SIGKILL`);
      }
    }
    this.publish(c, 'stop');
  }

  /** A promise for the container's next exit, resolved by exit handling. */
  private exitPromise(c: Container): Promise<number> {
    return new Promise<number>((resolve) => c.exitWaiters.push(resolve));
  }

  private async signal(c: Container, signal: string): Promise<void> {
    const sig = normalizeSignal(signal);
    this.publish(c, 'kill', { signal: String(signalNumber(sig)) });
    await this.deps.driver.kill(c.record.Runtime, c.id, sig);
    void this.pollExit(c);
  }

  /** Exit files are watched; this also polls for a while after a signal, in case a watch event is lost. */
  private async pollExit(c: Container): Promise<void> {
    for (let i = 0; i < 600 && c.running; i++) {
      await new Promise((r) => setTimeout(r, 100));
      if (!c.running) return;
      if ((await this.deps.driver.readExit(c.id)) !== undefined) {
        await c.serialize(() => this.handleExit(c));
        return;
      }
    }
  }

  kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    const c = this.get(ref);
    const sig = normalizeSignal(signal);
    return c.serialize(async () => {
      if (!c.running) {
        throw new ConflictError(`Cannot kill container: ${ref}: Container ${c.id} is not running`);
      }
      if (sig === 'SIGKILL' || sig === (c.record.Config.StopSignal ?? 'SIGTERM')) {
        c.state.ManuallyStopped = true;
        await this.save(c);
      }
      if (c.state.Status === 'paused' && sig !== 'SIGKILL') {
        throw new ConflictError(
          `Cannot kill container: ${ref}: Container ${c.id} is paused. Unpause the container before stopping or killing`,
        );
      }
      await this.signal(c, sig);
    });
  }

  async restart(ref: string, timeoutSeconds?: number, signal?: string): Promise<void> {
    const c = this.get(ref);
    if (c.running || c.state.Status === 'restarting') {
      try {
        await this.stopContainer(c, timeoutSeconds, signal);
      } catch (err) {
        if (!(err instanceof NotModifiedError)) throw err;
      }
    }
    await c.serialize(() => this.startNow(c, false));
    this.publish(c, 'restart');
  }

  pause(ref: string): Promise<void> {
    const c = this.get(ref);
    return c.serialize(async () => {
      if (c.state.Status === 'paused') throw new ConflictError(`Container ${c.id} is already paused`);
      if (c.state.Status !== 'running') throw new ConflictError(`Container ${c.id} is not running`);
      await this.deps.driver.pause(c.record.Runtime, c.id);
      c.state.Status = 'paused';
      await this.save(c);
      this.publish(c, 'pause');
    });
  }

  unpause(ref: string): Promise<void> {
    const c = this.get(ref);
    return c.serialize(() => this.resumeNow(c, true));
  }

  private async resumeNow(c: Container, explicit: boolean): Promise<void> {
    if (c.state.Status !== 'paused') throw new ConflictError(`Container ${c.id} is not paused`);
    await this.deps.driver.resume(c.record.Runtime, c.id);
    c.state.Status = 'running';
    await this.save(c);
    if (explicit) this.publish(c, 'unpause');
  }

  // ---- rename, update, wait, remove --------------------------------------

  rename(ref: string, newName: string): Promise<void> {
    const c = this.get(ref);
    return c.serialize(async () => {
      if (newName === '') throw new InvalidParameterError('Neither old nor new names may be empty');
      const name = normalizeName(newName);
      if (name === c.record.Name) {
        throw new InvalidParameterError(`Renaming a container with the same name as its current name`);
      }
      const holder = this.find(name);
      if (holder && holder !== c) {
        throw new ConflictError(
          `Conflict. The container name "${name}" is already in use by container "${holder.id}". You have to remove (or rename) that container to be able to reuse that name.`,
        );
      }
      const oldName = c.record.Name;
      c.record = { ...c.record, Name: name };
      await this.deps.store.saveRecord(c.record);
      this.publish(c, 'rename', { oldName });
    });
  }

  update(ref: string, changes: Partial<HostConfig>): Promise<string[]> {
    const c = this.get(ref);
    return c.serialize(async () => {
      const hc = { ...c.record.HostConfig };
      const resourceKeys = [
        'Memory',
        'MemorySwap',
        'MemoryReservation',
        'NanoCpus',
        'CpuShares',
        'CpuPeriod',
        'CpuQuota',
        'CpusetCpus',
        'CpusetMems',
        'PidsLimit',
        'BlkioWeight',
      ] as const;
      for (const key of resourceKeys) {
        const value = changes[key];
        if (
          value !== undefined &&
          value !== null &&
          !(typeof value === 'number' && value === 0 && key !== 'PidsLimit')
        ) {
          Object.assign(hc, { [key]: value });
        }
      }
      if (
        changes.RestartPolicy &&
        changes.RestartPolicy.Name !== undefined &&
        changes.RestartPolicy.Name !== ''
      ) {
        if (hc.AutoRemove && changes.RestartPolicy.Name !== 'no') {
          throw new InvalidParameterError(
            'Restart policy cannot be updated because AutoRemove is enabled for the container',
          );
        }
        hc.RestartPolicy = normalizeHostConfig(
          { RestartPolicy: changes.RestartPolicy },
          hc.Runtime,
        ).RestartPolicy;
      }
      const validated = normalizeHostConfig(hc, hc.Runtime);
      if (c.running) {
        const { linuxResources } = await import('./spec.js');
        await this.deps.driver.update(
          c.record.Runtime,
          c.id,
          linuxResources(validated, await this.deps.specContext()),
        );
      }
      c.record = { ...c.record, HostConfig: validated };
      await this.deps.store.saveRecord(c.record);
      this.publish(c, 'update');
      return [];
    });
  }

  /** `POST /containers/{id}/wait`: resolves with the exit code for the condition. */
  async wait(ref: string, condition: string, signal?: AbortSignal): Promise<number> {
    const c = this.get(ref);
    if (!['', 'not-running', 'next-exit', 'removed'].includes(condition)) {
      throw new InvalidParameterError(`invalid condition: "${condition}"`);
    }
    if (condition === 'removed') {
      return new Promise<number>((resolve, reject) => {
        c.removedWaiters.push(() => resolve(c.state.ExitCode));
        signal?.addEventListener('abort', () => reject(new Error('client gone')), { once: true });
      });
    }
    if ((condition === '' || condition === 'not-running') && !c.running && c.state.Status !== 'restarting') {
      return c.state.ExitCode;
    }
    return new Promise<number>((resolve, reject) => {
      c.exitWaiters.push(resolve);
      signal?.addEventListener('abort', () => reject(new Error('client gone')), { once: true });
    });
  }

  async remove(ref: string, options: { force: boolean; volumes: boolean }): Promise<void> {
    const c = this.get(ref);
    const exited = await c.serialize(async () => {
      if (c.state.Status === 'removing') {
        throw new ConflictError(`removal of container ${c.id.slice(0, 12)} is already in progress`);
      }
      if (!c.running && c.state.Status !== 'restarting') return undefined;
      if (!options.force) {
        const what =
          c.state.Status === 'paused' ? 'paused' : c.state.Status === 'restarting' ? 'restarting' : 'running';
        throw new ConflictError(
          `cannot remove container "${c.record.Name}": container is ${what}: stop the container before removing or force remove`,
        );
      }
      c.state.ManuallyStopped = true;
      clearTimeout(c.restartTimer);
      if (!c.running) {
        c.state.Status = 'exited';
        return undefined;
      }
      const p = this.exitPromise(c);
      await this.signal(c, 'SIGKILL');
      return { p };
    });
    if (exited && !(await raceTimeout(exited.p, 30_000))) {
      throw new SystemError(`could not kill running container ${c.id}, cannot remove`);
    }
    await c.serialize(async () => {
      if (this.containers.has(c.id)) await this.destroy(c, { removeVolumes: options.volumes });
    });
  }

  /**
   * Removes a stopped container and publishes `destroy`. What clients can
   * see goes first: the container is marked `removing` on disk, leaves the
   * table, its volumes are released (anonymous ones removed with
   * `removeVolumes`), `destroy` is published and the `removed` waiters are
   * answered. The rest (the runtime's state when `runtime`, the rootfs
   * mount, the bundle, the exit file, the container's directory) is cleaned
   * up in the background, tracked by {@link settled}; should the daemon stop
   * before that is done, the next one finds the container `removing` and
   * finishes the job (quietly, as here with `quiet`).
   */
  private async destroy(
    c: Container,
    options: { quiet?: boolean; removeVolumes?: boolean; runtime?: boolean } = {},
  ): Promise<void> {
    const quiet = options.quiet ?? false;
    // Exit handling deleted the runtime's state already, except for `--rm` containers (it leaves
    // that to this) and a container found mid-removal at restore.
    const runtime = options.runtime ?? (quiet || c.state.Pid > 0);
    c.state.Status = 'removing';
    await this.save(c).catch(() => undefined);
    for (const hook of this.hooks.beforeRemove)
      await hook(c).catch((err: unknown) => this.deps.logger.warn({ err }, 'remove hook failed'));
    clearTimeout(c.restartTimer);
    clearTimeout(c.healthTimer);
    clearInterval(c.rotationTimer);
    this.containers.delete(c.id);
    this.runInBackground(() => this.cleanUp(c, runtime), {
      container: c,
      what: 'cleaning up a removed container',
    });
    for (const m of c.record.Mounts) {
      if (m.Type !== 'volume' || !m.Name) continue;
      this.deps.volumes?.release(m.Name, c.id);
      if (options.removeVolumes && m.Anonymous) {
        await this.deps.volumes
          ?.remove(m.Name)
          .catch((err: unknown) =>
            this.deps.logger.warn(
              { err: errorMessage(err), volume: m.Name },
              'removing anonymous volume failed',
            ),
          );
      }
    }
    if (!quiet) this.publish(c, 'destroy');
    for (const resolve of c.removedWaiters.splice(0)) resolve();
    for (const resolve of c.exitWaiters.splice(0)) resolve(c.state.ExitCode);
  }

  /**
   * The on-disk part of a removal. The directory (with the record) goes
   * last and only once the rootfs is unmounted: until then a restarted
   * daemon still sees the container `removing` and runs this again.
   */
  private async cleanUp(c: Container, runtime: boolean): Promise<void> {
    const { driver } = this.deps;
    const [deleted, unmounted] = await Promise.allSettled([
      runtime ? driver.delete(c.record.Runtime, c.id) : Promise.resolve(),
      unmount(join(this.dir(c), 'merged')),
      rm(this.bundleDir(c), { recursive: true, force: true }),
      driver.clearExit(c.id),
    ]);
    if (deleted.status === 'rejected')
      this.deps.logger.warn({ err: errorMessage(deleted.reason), id: c.id }, 'runtime delete failed');
    if (unmounted.status === 'rejected') throw unmounted.reason;
    await this.deps.store.remove(c.id);
  }

  private readonly background = new Set<Promise<void>>();

  /**
   * Runs work that answers to no request (a removed container's cleanup, a
   * veth's deletion) so that {@link settled} can wait for it; failures are
   * logged. Work for a container begins once the operation in progress on it
   * (and any queued behind) is done, on a later turn of the event loop:
   * spawning a process blocks the loop for a moment, and what that operation
   * answers (the `removed` waiters of `run --rm`) goes out first.
   */
  runInBackground(work: () => Promise<unknown>, context: { container?: Container; what: string }): void {
    const id = context.container?.id;
    const tracked: Promise<void> = (context.container?.idle() ?? Promise.resolve())
      .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
      .then(work)
      .then(
        () => undefined,
        (err: unknown) => this.deps.logger.error({ err: errorMessage(err), id }, `${context.what} failed`),
      )
      .finally(() => this.background.delete(tracked));
    this.background.add(tracked);
  }

  /** Resolves once the background work (see {@link runInBackground}) is done, including work it started. */
  async settled(): Promise<void> {
    while (this.background.size > 0) await Promise.all([...this.background]);
  }

  async prune(filters: FilterArgs): Promise<{ deleted: string[]; reclaimed: number }> {
    filters.validate(['until', 'label', 'label!']);
    const deleted: string[] = [];
    let reclaimed = 0;
    const until = filters.get('until').map((u) => untilCutoff(u));
    for (const c of this.all()) {
      if (c.running || c.state.Status === 'restarting' || c.state.Status === 'removing') continue;
      if (until.some((t) => Date.parse(c.record.Created) > t)) continue;
      if (!filters.matchKVList('label', c.record.Config.Labels)) continue;
      if (filters.get('label!').some((l) => labelHolds(l, c.record.Config.Labels))) continue;
      reclaimed += await dirSize(join(this.dir(c), 'upper'));
      await c.serialize(() => this.destroy(c));
      deleted.push(c.id);
    }
    this.deps.events.publish({
      Type: 'container',
      Action: 'prune',
      Actor: { ID: '', Attributes: { reclaimed: String(reclaimed) } },
    });
    return { deleted, reclaimed };
  }

  // ---- listing --------------------------------------------------------------

  list(options: ContainerFilters): Container[] {
    const f = options.filters;
    f.validate(CONTAINER_LIST_FILTERS);
    for (const s of f.get('status')) {
      if (!['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'].includes(s)) {
        throw new InvalidParameterError(`invalid filter 'status=${s}'`);
      }
    }
    for (const h of f.get('health')) {
      if (!['starting', 'healthy', 'unhealthy', 'none'].includes(h))
        throw new InvalidParameterError(`invalid filter 'health=${h}'`);
    }
    const exited = f.get('exited').map((e) => {
      if (!/^-?\d+$/.test(e)) throw new InvalidParameterError(`invalid filter 'exited=${e}'`);
      return Number(e);
    });
    const before = f.get('before').map((r) => this.get(r).record.Created);
    const since = f.get('since').map((r) => this.get(r).record.Created);
    const ancestors = f.get('ancestor').map((a) => this.deps.images.tryResolve(a)?.id ?? `missing:${a}`);
    let all = this.all().sort(
      (a, b) => Date.parse(b.record.Created) - Date.parse(a.record.Created) || (a.id < b.id ? 1 : -1),
    );
    all = all.filter((c) => {
      const status = c.state.Status;
      if (
        !options.all &&
        !c.running &&
        status !== 'restarting' &&
        f.get('status').length === 0 &&
        exited.length === 0
      ) {
        return false;
      }
      if (!f.fuzzyMatch('id', c.id)) return false;
      if (f.get('name').length > 0 && !f.get('name').some((n) => nameMatches(n, c.record.Name))) return false;
      if (!f.matchKVList('label', c.record.Config.Labels)) return false;
      if (f.get('label!').some((l) => labelHolds(l, c.record.Config.Labels))) return false;
      if (!f.exactMatch('status', status)) return false;
      if (exited.length > 0 && (status !== 'exited' || !exited.includes(c.state.ExitCode))) return false;
      if (before.some((t) => Date.parse(c.record.Created) >= Date.parse(t))) return false;
      if (since.some((t) => Date.parse(c.record.Created) <= Date.parse(t))) return false;
      if (ancestors.length > 0 && !ancestors.includes(c.record.Image)) return false;
      if (f.get('health').length > 0 && !f.get('health').includes(c.state.Health?.Status ?? 'none'))
        return false;
      if (f.get('network').length > 0 && !f.get('network').includes(c.record.HostConfig.NetworkMode))
        return false;
      return true;
    });
    if (options.limit > 0) all = all.slice(0, options.limit);
    return all;
  }

  // ---- helpers --------------------------------------------------------------

  async save(c: Container): Promise<void> {
    if (!this.containers.has(c.id)) return;
    await this.deps.store.saveState(c.id, c.state);
  }

  publish(c: Container, action: string, extra: Record<string, string> = {}): void {
    this.deps.events.publish({
      Type: 'container',
      Action: action,
      Actor: {
        ID: c.id,
        Attributes: { ...c.record.Config.Labels, image: c.record.ImageName, name: c.name, ...extra },
      },
    });
  }

  private startRotation(c: Container): void {
    clearInterval(c.rotationTimer);
    const rotate = this.rotation;
    if (!rotate) return;
    c.rotationTimer = setInterval(() => {
      void rotate(c).catch((err: unknown) => this.deps.logger.warn({ err, id: c.id }, 'log rotation failed'));
    }, ROTATION_CHECK_MS);
    c.rotationTimer.unref();
  }

  /** Set by the logs module: rotates a container's log when it passes max-size. */
  rotation: ((c: Container) => Promise<void>) | undefined;

  /** Registers an attach before start: `deliver` gets the bundle dir once conmon's socket exists ('' if start failed). */
  awaitAttachSocket(c: Container): Promise<string> {
    if (c.running) return Promise.resolve(this.bundleDir(c));
    return new Promise((resolve) => c.pendingAttach.push(resolve));
  }
}

function validateLogOptions(hc: HostConfig): void {
  const allowed = ['max-size', 'max-file', 'compress', 'labels', 'env', 'tag', 'mode', 'max-buffer-size'];
  for (const key of Object.keys(hc.LogConfig.Config)) {
    if (!allowed.includes(key))
      throw new InvalidParameterError(`unknown log opt '${key}' for ${hc.LogConfig.Type} log driver`);
  }
}

function validateNetworkMode(mode: string, find: (ref: string) => Container | undefined): void {
  if (['bridge', 'host', 'none'].includes(mode)) return;
  if (mode.startsWith('container:')) {
    const target = mode.slice('container:'.length);
    if (!find(target)) throw new NotFoundError(`No such container: ${target}`);
    return;
  }
  throw new NotFoundError(`network ${mode} not found`);
}

/** moby matches the name filter (a regexp) against the name with and without its slash. */
function nameMatches(pattern: string, name: string): boolean {
  let re: RegExp;
  try {
    re = new RegExp(pattern);
  } catch {
    throw new InvalidParameterError(`invalid filter 'name=${pattern}'`);
  }
  return re.test(name) || re.test(name.slice(1));
}

async function dirSize(path: string): Promise<number> {
  let total = 0;
  const entries = await readdir(path, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = join(path, e.name);
    if (e.isDirectory()) total += await dirSize(p);
    else total += (await stat(p).catch(() => undefined))?.size ?? 0;
  }
  return total;
}

async function exitFileTime(path: string): Promise<string> {
  return (await stat(path)).mtime.toISOString();
}

/** Waits for every promise, then throws the first failure (so that nothing is left running behind a failure). */
async function allSettled(promises: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}

function raceTimeout<T>(promise: Promise<T>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    promise.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(false);
      },
    );
  });
}

function exitCodeForStartError(message: string): number {
  if (/executable file not found|no such file or directory|not found in \$PATH/i.test(message)) return 127;
  if (/permission denied/i.test(message)) return 126;
  return 128;
}

/** Start failures as Docker reports them: a bad command is the user's error (400), the rest are 500. */
function startError(err: unknown): Error {
  const message = errorMessage(err);
  if (err instanceof ConflictError || err instanceof NotModifiedError || err instanceof NotFoundError)
    return err;
  const text = message.startsWith('OCI runtime') ? message : `OCI runtime create failed: ${message}`;
  if (exitCodeForStartError(message) !== 128 || err instanceof InvalidParameterError) {
    return new InvalidParameterError(`failed to create task for container: ${text}`, { cause: err });
  }
  return new SystemError(`failed to create task for container: ${text}`, { cause: err });
}
