import type { SystemInfo, VersionInfo } from '../../engine/system/system.js';
import { API_VERSION, MIN_API_VERSION } from '../version.js';

/** The product name docker clients print after "Server:". */
export const PLATFORM_NAME = 'berth Engine';

/** `GET /version` (SystemVersion in the API spec). */
export function toVersionResponse(v: VersionInfo): Record<string, unknown> {
  const goVersion = `node ${v.nodeVersion}`;
  const components: Record<string, unknown>[] = [
    {
      Name: 'Engine',
      Version: v.build.version,
      Details: {
        ApiVersion: API_VERSION,
        Arch: v.host.arch,
        BuildTime: v.build.buildTime,
        Experimental: String(v.experimental),
        GitCommit: v.build.gitCommit,
        GoVersion: goVersion,
        KernelVersion: v.host.kernelVersion,
        MinAPIVersion: MIN_API_VERSION,
        Os: 'linux',
      },
    },
  ];
  if (v.runtime) {
    components.push({
      Name: v.runtime.name,
      Version: v.runtime.version ?? 'not installed',
      Details: { GitCommit: v.runtime.commit ?? '' },
    });
  }
  components.push({
    Name: 'conmon',
    Version: v.conmon.version ?? 'not installed',
    Details: { GitCommit: v.conmon.commit ?? '' },
  });
  return {
    Platform: { Name: PLATFORM_NAME },
    Components: components,
    Version: v.build.version,
    ApiVersion: API_VERSION,
    MinAPIVersion: MIN_API_VERSION,
    GitCommit: v.build.gitCommit,
    GoVersion: goVersion,
    Os: 'linux',
    Arch: v.host.arch,
    KernelVersion: v.host.kernelVersion,
    ...(v.experimental ? { Experimental: true } : {}),
    BuildTime: v.build.buildTime,
  };
}

/** `GET /info` (SystemInfo in the API spec), with the fields docker clients read. */
export function toInfoResponse(info: SystemInfo, now: Date = new Date()): Record<string, unknown> {
  const cg = info.host.cgroup;
  const runtimes: Record<string, unknown> = {};
  for (const r of info.runtimes) runtimes[r.name] = { path: r.path };
  const runtime = info.runtimes.find((r) => r.name === info.defaultRuntime);
  return {
    ID: info.id,
    Containers: info.counts.containers,
    ContainersRunning: info.counts.running,
    ContainersPaused: info.counts.paused,
    ContainersStopped: info.counts.stopped,
    Images: info.counts.images,
    Driver: 'overlay2',
    DriverStatus: [
      ['Backing Filesystem', 'extfs'],
      ['Supports d_type', 'true'],
      ['Using metacopy', 'false'],
      ['Native Overlay Diff', 'true'],
      ['userxattr', 'false'],
    ],
    DockerRootDir: info.dataRoot,
    Plugins: {
      Volume: ['local'],
      Network: ['bridge', 'host', 'none'],
      Authorization: null,
      Log: ['json-file', 'local'],
    },
    MemoryLimit: cg.memoryLimit,
    SwapLimit: cg.swapLimit,
    KernelMemoryTCP: false,
    CpuCfsPeriod: cg.cpuCfsPeriod,
    CpuCfsQuota: cg.cpuCfsQuota,
    CPUShares: cg.cpuShares,
    CPUSet: cg.cpuSet,
    PidsLimit: cg.pidsLimit,
    OomKillDisable: cg.oomKillDisable,
    IPv4Forwarding: info.host.ipv4Forwarding,
    BridgeNfIptables: info.host.bridgeNfIptables,
    BridgeNfIp6tables: info.host.bridgeNfIp6tables,
    Debug: info.debug,
    NFd: info.openFiles,
    NGoroutines: 0,
    SystemTime: rfc3339Nano(now),
    LoggingDriver: 'json-file',
    CgroupDriver: 'cgroupfs',
    CgroupVersion: cg.version,
    NEventsListener: info.eventListeners,
    KernelVersion: info.host.kernelVersion,
    OperatingSystem: info.host.operatingSystem,
    OSVersion: info.host.osVersion,
    OSType: 'linux',
    Architecture: info.host.machine,
    NCPU: info.host.ncpu,
    MemTotal: info.host.memTotal,
    IndexServerAddress: 'https://index.docker.io/v1/',
    RegistryConfig: {
      AllowNondistributableArtifactsCIDRs: null,
      AllowNondistributableArtifactsHostnames: null,
      InsecureRegistryCIDRs: ['::1/128', '127.0.0.0/8'],
      IndexConfigs: {
        'docker.io': { Name: 'docker.io', Mirrors: info.registryMirrors, Secure: true, Official: true },
        ...Object.fromEntries(
          info.insecureRegistries
            .filter((r) => !r.includes('/'))
            .map((r) => [r, { Name: r, Mirrors: [], Secure: false, Official: false }]),
        ),
      },
      Mirrors: info.registryMirrors,
    },
    GenericResources: null,
    HttpProxy: process.env['HTTP_PROXY'] ?? process.env['http_proxy'] ?? '',
    HttpsProxy: process.env['HTTPS_PROXY'] ?? process.env['https_proxy'] ?? '',
    NoProxy: process.env['NO_PROXY'] ?? process.env['no_proxy'] ?? '',
    Name: info.name,
    Labels: info.labels,
    ExperimentalBuild: info.experimental,
    ServerVersion: info.build.version,
    Runtimes: runtimes,
    DefaultRuntime: info.defaultRuntime,
    Swarm: {
      NodeID: '',
      NodeAddr: '',
      LocalNodeState: 'inactive',
      ControlAvailable: false,
      Error: '',
      RemoteManagers: null,
    },
    LiveRestoreEnabled: info.liveRestore,
    Isolation: '',
    InitBinary: '',
    ContainerdCommit: { ID: '' },
    RuncCommit: { ID: runtime?.commit ?? '' },
    InitCommit: { ID: '' },
    SecurityOptions: [],
    DefaultAddressPools: [],
    Warnings: info.warnings,
    CDISpecDirs: [],
  };
}

/** Go's time.RFC3339Nano in the local zone (trailing fraction zeros dropped). */
export function rfc3339Nano(date: Date): string {
  const offsetMin = -date.getTimezoneOffset();
  const local = new Date(date.getTime() + offsetMin * 60_000);
  const iso = local
    .toISOString()
    .replace(/\.?0*Z$/, '')
    .replace(/(\.\d*?)0+$/, '$1');
  if (offsetMin === 0) return `${iso}Z`;
  const abs = Math.abs(offsetMin);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${iso}${offsetMin > 0 ? '+' : '-'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}
