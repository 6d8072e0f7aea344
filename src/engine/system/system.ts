import { randomUUID } from 'node:crypto';
import { join } from 'node:path';

import { readTextFile, writeFileAtomic } from '../../storage/atomic.js';
import type { EngineConfig } from '../config.js';
import { probeHost, probeTool, type HostFacts, type ToolVersion } from './host.js';

/** berth's own build identity. */
export interface BuildInfo {
  version: string;
  gitCommit: string;
  buildTime: string;
}

/** Engine-level facts behind `GET /info`, in berth's own terms. */
export interface SystemInfo {
  id: string;
  name: string;
  host: HostFacts;
  dataRoot: string;
  execRoot: string;
  build: BuildInfo;
  runtimes: ToolVersion[];
  defaultRuntime: string;
  conmon: ToolVersion;
  labels: string[];
  experimental: boolean;
  debug: boolean;
  liveRestore: boolean;
  insecureRegistries: string[];
  registryMirrors: string[];
  counts: { containers: number; running: number; paused: number; stopped: number; images: number };
  eventListeners: number;
  openFiles: number;
  warnings: string[];
}

/** Engine-level facts behind `GET /version`. */
export interface VersionInfo {
  build: BuildInfo;
  host: HostFacts;
  runtime: ToolVersion | undefined;
  conmon: ToolVersion;
  experimental: boolean;
  nodeVersion: string;
}

/** Counts other services report into `info`; they register as they arrive. */
export type CountsProvider = () => Partial<SystemInfo['counts']>;

/**
 * Knows the host and the daemon's identity. Host facts and tool versions are
 * probed at start and on reload, not per request.
 */
export class SystemService {
  private host!: HostFacts;
  private tools!: { runtimes: ToolVersion[]; conmon: ToolVersion };
  private readonly countProviders: CountsProvider[] = [];
  private eventListenerCount: () => number = () => 0;

  private config: EngineConfig;
  readonly id: string;
  readonly build: BuildInfo;

  private constructor(config: EngineConfig, id: string, build: BuildInfo) {
    this.config = config;
    this.id = id;
    this.build = build;
  }

  static async create(config: EngineConfig, build: BuildInfo): Promise<SystemService> {
    const service = new SystemService(config, await loadOrCreateEngineId(config.dataRoot), build);
    await service.refresh(config);
    return service;
  }

  /** Re-probes the host and tools, and takes the (reloaded) config. */
  async refresh(config: EngineConfig): Promise<void> {
    this.config = config;
    const [host, conmon, ...runtimes] = await Promise.all([
      probeHost(),
      probeTool('conmon', config.conmonPath),
      ...Object.entries(config.runtimes).map(([name, path]) => probeTool(name, path)),
    ]);
    this.host = host;
    this.tools = { runtimes, conmon };
  }

  get hostname(): string {
    return this.host.hostname;
  }

  addCounts(provider: CountsProvider): void {
    this.countProviders.push(provider);
  }

  setEventListenerCount(count: () => number): void {
    this.eventListenerCount = count;
  }

  /**
   * The runtime used when a container names none: the configured one, else
   * runc where crun cannot work (hybrid cgroups), else the first installed.
   */
  defaultRuntime(): string {
    if (this.config.defaultRuntime !== undefined) return this.config.defaultRuntime;
    const installed = this.tools.runtimes.filter((r) => r.version !== undefined).map((r) => r.name);
    if (installed.includes('runc')) return 'runc';
    const usable = installed.filter((name) => !(name === 'crun' && this.host.cgroup.hybrid));
    return usable[0] ?? installed[0] ?? 'runc';
  }

  warnings(): string[] {
    const out: string[] = [];
    const crun = this.tools.runtimes.find((r) => r.name === 'crun');
    if (this.host.cgroup.hybrid && crun?.version !== undefined) {
      out.push(
        'WARNING: crun cannot run containers on this host: cgroups are in hybrid mode (cgroup2 has controllers of its own); use runc',
      );
    }
    for (const r of this.tools.runtimes) {
      if (r.version === undefined)
        out.push(`WARNING: runtime ${r.name} (${r.path}) is not installed or does not run`);
    }
    if (this.tools.conmon.version === undefined) {
      out.push(`WARNING: conmon (${this.tools.conmon.path}) is not installed or does not run`);
    }
    if (!this.host.ipv4Forwarding) out.push('WARNING: IPv4 forwarding is disabled');
    if (!this.host.cgroup.swapLimit) out.push('WARNING: No swap limit support');
    return out;
  }

  info(openFiles: number): SystemInfo {
    const counts = { containers: 0, running: 0, paused: 0, stopped: 0, images: 0 };
    for (const provider of this.countProviders) Object.assign(counts, provider());
    return {
      id: this.id,
      name: this.host.hostname,
      host: this.host,
      dataRoot: this.config.dataRoot,
      execRoot: this.config.execRoot,
      build: this.build,
      runtimes: this.tools.runtimes,
      defaultRuntime: this.defaultRuntime(),
      conmon: this.tools.conmon,
      labels: this.config.labels,
      experimental: this.config.experimental,
      debug: this.config.debug,
      liveRestore: this.config.liveRestore,
      insecureRegistries: this.config.insecureRegistries,
      registryMirrors: this.config.registryMirrors,
      counts,
      eventListeners: this.eventListenerCount(),
      openFiles,
      warnings: this.warnings(),
    };
  }

  version(): VersionInfo {
    const name = this.defaultRuntime();
    return {
      build: this.build,
      host: this.host,
      runtime: this.tools.runtimes.find((r) => r.name === name),
      conmon: this.tools.conmon,
      experimental: this.config.experimental,
      nodeVersion: process.version,
    };
  }
}

/** The daemon's stable identity, kept in `<data-root>/engine-id` as Docker does. */
async function loadOrCreateEngineId(dataRoot: string): Promise<string> {
  const path = join(dataRoot, 'engine-id');
  const existing = (await readTextFile(path))?.trim();
  if (existing) return existing;
  const id = randomUUID();
  await writeFileAtomic(path, id, 0o600);
  return id;
}
