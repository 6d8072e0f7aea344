/**
 * The container domain model. A container is two records, kept apart as
 * containerd and Podman keep them (style.md §9):
 *
 * - ContainerRecord: what the user asked for (Docker's Config and
 *   HostConfig fields, as given at create and changed only by rename and
 *   update) plus what the engine resolved from them (image ID, command,
 *   user, mounts). Written at create, rename and update.
 * - ContainerState: what is happening now (status, pids, exit code,
 *   times, health). Written on every transition.
 *
 * Field names follow Docker's where they are Docker's, so the API layer can
 * serve them with little conversion.
 */

export interface HealthcheckConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  Retries?: number;
  StartPeriod?: number;
  StartInterval?: number;
}

/** Docker's container Config, as far as berth uses it. */
export interface ContainerConfig {
  Hostname: string;
  Domainname: string;
  User: string;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  ExposedPorts?: Record<string, object> | null;
  Tty: boolean;
  OpenStdin: boolean;
  StdinOnce: boolean;
  Env: string[];
  Cmd: string[] | null;
  Healthcheck?: HealthcheckConfig | undefined;
  ArgsEscaped?: boolean;
  Image: string;
  Volumes: Record<string, object> | null;
  WorkingDir: string;
  Entrypoint: string[] | null;
  OnBuild?: string[] | null;
  Labels: Record<string, string>;
  StopSignal?: string | undefined;
  StopTimeout?: number | undefined;
}

export interface RestartPolicy {
  Name: '' | 'no' | 'always' | 'unless-stopped' | 'on-failure';
  MaximumRetryCount: number;
}

export interface Ulimit {
  Name: string;
  Soft: number;
  Hard: number;
}

export interface MountSpec {
  Type: 'bind' | 'tmpfs' | 'volume';
  Source?: string;
  Target: string;
  ReadOnly?: boolean;
  BindOptions?: { Propagation?: string; CreateMountpoint?: boolean };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string> };
}

/** Docker's HostConfig, as far as berth uses it. */
export interface HostConfig {
  Binds: string[] | null;
  Mounts?: MountSpec[];
  Tmpfs?: Record<string, string>;
  NetworkMode: string;
  PortBindings?: Record<string, { HostIp?: string; HostPort?: string }[] | null>;
  PublishAllPorts?: boolean;
  RestartPolicy: RestartPolicy;
  AutoRemove: boolean;
  Privileged: boolean;
  ReadonlyRootfs: boolean;
  CapAdd: string[] | null;
  CapDrop: string[] | null;
  Dns: string[];
  DnsOptions: string[];
  DnsSearch: string[];
  ExtraHosts: string[] | null;
  LogConfig: { Type: string; Config: Record<string, string> };
  Runtime: string;
  Init?: boolean | null;
  ShmSize: number;
  Sysctls?: Record<string, string>;
  Ulimits: Ulimit[] | null;
  Memory: number;
  MemorySwap: number;
  MemoryReservation: number;
  NanoCpus: number;
  CpuShares: number;
  CpuPeriod: number;
  CpuQuota: number;
  CpusetCpus: string;
  CpusetMems: string;
  PidsLimit?: number | null;
  BlkioWeight: number;
  OomKillDisable?: boolean | null;
  VolumesFrom?: string[] | null;
  PidMode: string;
  IpcMode: string;
  UTSMode: string;
  GroupAdd?: string[] | null;
  /** Initial tty size [height, width] (API 1.42+). */
  ConsoleSize?: [number, number] | null;
  SecurityOpt?: string[] | null;
  Devices?: { PathOnHost: string; PathInContainer: string; CgroupPermissions: string }[] | null;
}

/** A mount as resolved for the runtime and reported in inspect's Mounts. */
export interface MountPointRecord {
  Type: 'bind' | 'tmpfs' | 'volume';
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
  /** tmpfs options string, for Type tmpfs. */
  TmpfsOptions?: string;
  /** Anonymous volumes are removed with `rm -v`. */
  Anonymous?: boolean;
  /** Do not fill an empty volume with the image's content. */
  NoCopy?: boolean;
}

export interface ContainerRecord {
  ID: string;
  /** With Docker's leading slash. */
  Name: string;
  Created: string;
  /** The image as the user named it. */
  ImageName: string;
  /** `sha256:<hex>` of the image. */
  Image: string;
  Path: string;
  Args: string[];
  Config: ContainerConfig;
  HostConfig: HostConfig;
  Mounts: MountPointRecord[];
  /** The runtime in use (`runc`, `crun`). */
  Runtime: string;
  /** Resolved process identity. */
  Process: { uid: number; gid: number; additionalGids: number[] };
  /** Network settings other services fill in (networks issue). */
  Network?: Record<string, unknown>;
}

export type ContainerStatus =
  'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface HealthLogEntry {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

export interface HealthState {
  Status: 'starting' | 'healthy' | 'unhealthy' | 'none';
  FailingStreak: number;
  Log: HealthLogEntry[];
}

export interface ContainerState {
  Status: ContainerStatus;
  Pid: number;
  ConmonPid: number;
  ExitCode: number;
  Error: string;
  OOMKilled: boolean;
  StartedAt: string;
  FinishedAt: string;
  RestartCount: number;
  /** Set by an explicit stop, so unless-stopped and always know not to restart. */
  ManuallyStopped: boolean;
  /** The container has been started at least once. */
  HasBeenStarted: boolean;
  Health?: HealthState | undefined;
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';

export function initialState(): ContainerState {
  return {
    Status: 'created',
    Pid: 0,
    ConmonPid: 0,
    ExitCode: 0,
    Error: '',
    OOMKilled: false,
    StartedAt: ZERO_TIME,
    FinishedAt: ZERO_TIME,
    RestartCount: 0,
    ManuallyStopped: false,
    HasBeenStarted: false,
  };
}

/**
 * Docker's human status text for `docker ps` (`Up 2 minutes`, `Exited (0) 3
 * seconds ago`, `Created`, `Up 1 second (Paused)`, `Restarting (1) 2 seconds
 * ago`), with go-units HumanDuration wording.
 */
export function statusText(state: ContainerState, now: number = Date.now()): string {
  const since = (iso: string): string => humanDuration(now - Date.parse(iso));
  switch (state.Status) {
    case 'running': {
      const health =
        state.Health && state.Health.Status !== 'none'
          ? ` (${state.Health.Status === 'starting' ? 'health: starting' : state.Health.Status})`
          : '';
      return `Up ${since(state.StartedAt)}${health}`;
    }
    case 'paused':
      return `Up ${since(state.StartedAt)} (Paused)`;
    case 'restarting':
      return `Restarting (${state.ExitCode}) ${since(state.FinishedAt)} ago`;
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    case 'exited':
      return state.FinishedAt === ZERO_TIME
        ? 'Created'
        : `Exited (${state.ExitCode}) ${since(state.FinishedAt)} ago`;
    default:
      return 'Created';
  }
}

/** go-units HumanDuration. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(seconds / 60);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(seconds / 3600);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(hours / 24 / 365)} years`;
}
