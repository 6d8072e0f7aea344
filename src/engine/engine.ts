import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

import type { Logger } from '../util/log.js';
import type { EngineConfig } from './config.js';
import { EventBus } from './events/bus.js';
import { EventJournal } from './events/journal.js';
import { ImageManager } from './images/manager.js';
import { ConmonDriver } from './containers/runtime-driver.js';
import { ExecService } from './containers/exec.js';
import { ContainerFiles } from './containers/fsops.js';
import { HealthChecker } from './containers/health.js';
import { ContainerIO } from './containers/io.js';
import { ContainerService } from './containers/service.js';
import { findExecutable, findInit, probeSpecContext, usableRuntimes } from './containers/setup.js';
import { ContainerStore } from './containers/store.js';
import { HostNetDriver } from './networks/host-driver.js';
import { statsForContainers } from './stats/containers.js';
import type { StatsService } from './stats/sampler.js';
import { VolumeService } from './volumes/service.js';
import { NetworkService } from './networks/service.js';
import { SystemService, type BuildInfo } from './system/system.js';

/** Settings a SIGHUP may change without a restart; the rest need one. */
export const RELOADABLE_KEYS = ['labels', 'debug', 'eventsRetentionAgeMs', 'eventsRetentionBytes'] as const;

/** How often the journal drops events past their retention. */
const PRUNE_INTERVAL_MS = 60_000;

/**
 * The composition root: builds the per-domain services and wires them
 * together. It holds no Docker semantics of its own; those live in the
 * services. Nothing here knows about HTTP.
 */
export class Engine {
  private pruneTimer: NodeJS.Timeout | undefined;

  private config: EngineConfig;
  readonly logger: Logger;
  private readonly journal: EventJournal;
  readonly events: EventBus;
  readonly system: SystemService;
  readonly images: ImageManager;
  readonly containers: ContainerService;
  readonly io: ContainerIO;
  readonly exec: ExecService;
  readonly files: ContainerFiles;
  readonly networks: NetworkService;
  readonly volumes: VolumeService;
  readonly stats: StatsService;

  private constructor(
    config: EngineConfig,
    logger: Logger,
    journal: EventJournal,
    events: EventBus,
    system: SystemService,
    images: ImageManager,
    containers: ContainerService,
    io: ContainerIO,
    exec: ExecService,
    files: ContainerFiles,
    networks: NetworkService,
    volumes: VolumeService,
  ) {
    this.config = config;
    this.logger = logger;
    this.journal = journal;
    this.events = events;
    this.system = system;
    this.images = images;
    this.containers = containers;
    this.io = io;
    this.exec = exec;
    this.files = files;
    this.networks = networks;
    this.volumes = volumes;
    this.stats = statsForContainers(containers, config.cgroupParent);
  }

  static async start(config: EngineConfig, build: BuildInfo, logger: Logger): Promise<Engine> {
    await mkdir(config.dataRoot, { recursive: true, mode: 0o711 });
    await mkdir(config.execRoot, { recursive: true, mode: 0o700 });
    const journal = await EventJournal.open({
      dir: join(config.dataRoot, 'events'),
      maxAgeMs: config.eventsRetentionAgeMs,
      maxBytes: config.eventsRetentionBytes,
    });
    if (journal.corruptLines > 0) {
      logger.warn({ lines: journal.corruptLines }, 'event journal had unreadable lines; they were skipped');
    }
    const events = new EventBus(journal, logger);
    const system = await SystemService.create(config, build);
    system.setEventListenerCount(() => events.subscriberCount);

    const images = await ImageManager.open(config.dataRoot, events, logger, {
      insecureRegistries: config.insecureRegistries,
      registryMirrors: config.registryMirrors,
      userAgent: `berth/${build.version}`,
    });
    system.addCounts(() => ({ images: images.service.count() }));

    const runtimes = await usableRuntimes(config.runtimes, config.execRoot, logger);
    const driver = new ConmonDriver({
      conmonPath: (await findExecutable(config.conmonPath)) ?? config.conmonPath,
      runtimes,
      execRoot: config.execRoot,
      logger,
      logLevel: config.logLevel === 'debug' ? 'debug' : config.logLevel === 'info' ? 'info' : 'warning',
    });
    const specContext = await probeSpecContext();
    const volumes = await VolumeService.open({ dataRoot: config.dataRoot, events, logger });
    const containers = new ContainerService({
      store: new ContainerStore(join(config.dataRoot, 'containers')),
      images: images.service,
      driver,
      events,
      logger,
      execRoot: config.execRoot,
      cgroupParent: config.cgroupParent,
      defaultRuntime: () => system.defaultRuntime(),
      initPath: await findInit(),
      specContext: () => Promise.resolve(specContext),
      volumes: {
        create: async (name, containerId) =>
          (await volumes.create(name ? { Name: name } : {}, { reference: containerId })).name,
        mount: (name, containerId, info) => volumes.mount(name, containerId, info),
        unmount: (name, containerId) => volumes.unmount(name, containerId),
        release: (name, containerId) => volumes.release(name, containerId),
        remove: (name) => volumes.remove(name),
        copyUp: (name, fromDir) => volumes.copyUp(name, fromDir),
        rebuildUsers: (pairs) => volumes.rebuildUsers(pairs),
      },
    });
    images.service.setUsers({
      running: (id) => containers.imageUsers(id, true),
      stopped: (id) => containers.imageUsers(id, false),
      settled: () => containers.settled(),
    });
    images.service.addLayerRoots(() =>
      containers.all().map((c) => images.service.meta.get(c.record.Image)?.layers.at(-1)?.chainId ?? ''),
    );
    system.addCounts(() => containers.counts());
    const io = new ContainerIO(containers);
    const exec = new ExecService(containers);
    const files = new ContainerFiles(containers);
    const health = new HealthChecker(containers, exec);
    const firewallPrefix = config.network.bridgeName
      .replace(/[^A-Za-z0-9_]/g, '_')
      .toUpperCase()
      .slice(0, 16);
    const ref: { networks?: NetworkService } = {};
    const networks = new NetworkService(config.dataRoot, {
      events,
      logger,
      containers,
      driver: new HostNetDriver(firewallPrefix, config.network.ipMasq, (ip) => ref.networks?.bridgeFor(ip)),
      settings: config.network,
    });
    ref.networks = networks;
    await containers.open();
    await networks.open();
    for (const c of containers.all()) health.resume(c);

    const engine = new Engine(
      config,
      logger,
      journal,
      events,
      system,
      images,
      containers,
      io,
      exec,
      files,
      networks,
      volumes,
    );
    engine.pruneTimer = setInterval(() => engine.pruneJournal(), PRUNE_INTERVAL_MS);
    engine.pruneTimer.unref();
    engine.stats.start();
    engine.publishDaemonEvent('start');
    return engine;
  }

  get currentConfig(): Readonly<EngineConfig> {
    return this.config;
  }

  /**
   * Applies a reloaded configuration (SIGHUP). Only the reloadable settings
   * take effect; the `daemon reload` event lists them as Docker does.
   */
  async reload(next: EngineConfig): Promise<void> {
    const merged: EngineConfig = { ...this.config };
    for (const key of RELOADABLE_KEYS) {
      Object.assign(merged, { [key]: next[key] });
    }
    this.config = merged;
    this.journal.setRetention(merged.eventsRetentionAgeMs, merged.eventsRetentionBytes);
    await this.system.refresh(merged);
    this.publishDaemonEvent('reload', {
      debug: String(merged.debug),
      labels: JSON.stringify(merged.labels),
      'events-retention-age': `${merged.eventsRetentionAgeMs / 1000}s`,
      'events-retention-size': String(merged.eventsRetentionBytes),
    });
  }

  /** Publishes `daemon stop` and closes what the engine holds open. Containers keep running. */
  async stop(): Promise<void> {
    clearInterval(this.pruneTimer);
    this.stats.close();
    this.containers.close();
    await this.containers.settled();
    await this.networks.close();
    if (!this.containers.all().some((c) => c.running))
      await removeEmptyCgroupParent(this.config.cgroupParent);
    this.publishDaemonEvent('stop');
    await this.journal.close();
  }

  private publishDaemonEvent(action: string, attributes: Record<string, string> = {}): void {
    this.events.publish({
      Type: 'daemon',
      Action: action,
      Actor: { ID: this.system.id, Attributes: { ...attributes, name: this.system.hostname } },
    });
  }

  private pruneJournal(): void {
    try {
      this.journal.prune();
    } catch (err) {
      this.logger.error({ err }, 'event journal prune failed');
    }
  }
}

/**
 * Removes the daemon's parent cgroup in every hierarchy when it is empty
 * (the runtimes remove each container's leaf but leave the parent). A
 * non-empty parent (containers still running) is left alone by rmdir itself.
 */
async function removeEmptyCgroupParent(parent: string): Promise<void> {
  const { readdir, rmdir } = await import('node:fs/promises');
  const rel = parent.replace(/^\/+|\/+$/g, '');
  if (rel === '') return;
  for (const hierarchy of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) {
    await rmdir(join('/sys/fs/cgroup', hierarchy, rel)).catch(() => undefined);
  }
}
