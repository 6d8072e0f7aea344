import { InvalidParameterError } from '../../errors.js';
import type { ImageConfig } from '../images/manifest.js';
import type { ContainerConfig, HostConfig, MountPointRecord, RestartPolicy } from './model.js';

/** The body of `POST /containers/create`, as the API layer hands it over (types checked, fields optional). */
export interface CreateRequest {
  Config: Partial<ContainerConfig> & { Image?: string };
  HostConfig: Partial<HostConfig>;
  NetworkingConfig?: { EndpointsConfig?: Record<string, unknown> } | null;
  Platform?: string;
}

const RESTART_NAMES = ['', 'no', 'always', 'unless-stopped', 'on-failure'];

/** Docker's defaults for a HostConfig, with the request's values over them. */
export function normalizeHostConfig(hc: Partial<HostConfig>, defaultRuntime: string): HostConfig {
  const restart: RestartPolicy = {
    Name: hc.RestartPolicy?.Name ?? 'no',
    MaximumRetryCount: hc.RestartPolicy?.MaximumRetryCount ?? 0,
  };
  if (!RESTART_NAMES.includes(restart.Name)) {
    throw new InvalidParameterError(
      `invalid restart policy: unknown policy '${restart.Name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`,
    );
  }
  if (restart.MaximumRetryCount < 0)
    throw new InvalidParameterError('invalid restart policy: maximum retry count cannot be negative');
  if (restart.MaximumRetryCount > 0 && restart.Name !== 'on-failure') {
    throw new InvalidParameterError(
      `invalid restart policy: maximum retry count can only be used with 'on-failure'`,
    );
  }
  if (hc.AutoRemove && restart.Name !== '' && restart.Name !== 'no') {
    throw new InvalidParameterError(`can't create 'AutoRemove' container with restart policy`);
  }
  if ((hc.NanoCpus ?? 0) > 0 && ((hc.CpuPeriod ?? 0) > 0 || (hc.CpuQuota ?? 0) > 0)) {
    throw new InvalidParameterError('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  }
  if ((hc.Memory ?? 0) > 0 && (hc.Memory ?? 0) < 6 * 1024 * 1024) {
    throw new InvalidParameterError('Minimum memory limit allowed is 6MB');
  }
  if ((hc.MemorySwap ?? 0) > 0 && (hc.Memory ?? 0) > 0 && (hc.MemorySwap ?? 0) < (hc.Memory ?? 0)) {
    throw new InvalidParameterError('Minimum memoryswap limit should be larger than memory limit, see usage');
  }
  if ((hc.ShmSize ?? 0) < 0) throw new InvalidParameterError('SHM size can not be less than 0');
  const log = hc.LogConfig ?? { Type: '', Config: {} };
  return {
    Binds: hc.Binds ?? null,
    Mounts: hc.Mounts ?? [],
    Tmpfs: hc.Tmpfs ?? {},
    NetworkMode: hc.NetworkMode && hc.NetworkMode !== 'default' ? hc.NetworkMode : 'bridge',
    PortBindings: hc.PortBindings ?? {},
    PublishAllPorts: hc.PublishAllPorts ?? false,
    RestartPolicy: restart,
    AutoRemove: hc.AutoRemove ?? false,
    Privileged: hc.Privileged ?? false,
    ReadonlyRootfs: hc.ReadonlyRootfs ?? false,
    CapAdd: hc.CapAdd ?? null,
    CapDrop: hc.CapDrop ?? null,
    Dns: hc.Dns ?? [],
    DnsOptions: hc.DnsOptions ?? [],
    DnsSearch: hc.DnsSearch ?? [],
    ExtraHosts: hc.ExtraHosts ?? null,
    LogConfig: { Type: log.Type || 'json-file', Config: log.Config ?? {} },
    Runtime: hc.Runtime || defaultRuntime,
    Init: hc.Init ?? null,
    ShmSize: hc.ShmSize && hc.ShmSize > 0 ? hc.ShmSize : 64 * 1024 * 1024,
    Sysctls: hc.Sysctls ?? {},
    Ulimits: hc.Ulimits ?? null,
    Memory: hc.Memory ?? 0,
    MemorySwap: hc.MemorySwap ?? 0,
    MemoryReservation: hc.MemoryReservation ?? 0,
    NanoCpus: hc.NanoCpus ?? 0,
    CpuShares: hc.CpuShares ?? 0,
    CpuPeriod: hc.CpuPeriod ?? 0,
    CpuQuota: hc.CpuQuota ?? 0,
    CpusetCpus: hc.CpusetCpus ?? '',
    CpusetMems: hc.CpusetMems ?? '',
    PidsLimit: hc.PidsLimit ?? null,
    BlkioWeight: hc.BlkioWeight ?? 0,
    OomKillDisable: hc.OomKillDisable ?? null,
    VolumesFrom: hc.VolumesFrom ?? null,
    PidMode: hc.PidMode ?? '',
    IpcMode: hc.IpcMode || 'private',
    UTSMode: hc.UTSMode ?? '',
    GroupAdd: hc.GroupAdd ?? null,
    SecurityOpt: hc.SecurityOpt ?? null,
    Devices: hc.Devices ?? [],
    ConsoleSize: hc.ConsoleSize ?? [0, 0],
  };
}

/**
 * The container's Config: the request's values over the image's, as Docker
 * merges them. An Entrypoint given at create drops the image's Cmd; Env is
 * merged by key; labels are merged; a Healthcheck `["NONE"]` disables the
 * image's.
 */
export function mergeConfig(
  req: CreateRequest['Config'],
  image: ImageConfig['config'] | undefined,
  imageName: string,
): ContainerConfig {
  const img = image ?? {};
  const env = new Map<string, string>();
  for (const e of [...(img.Env ?? []), ...(req.Env ?? [])]) {
    const eq = e.indexOf('=');
    env.set(eq === -1 ? e : e.slice(0, eq), e);
  }
  const entrypointGiven = req.Entrypoint !== undefined && req.Entrypoint !== null;
  const entrypoint = entrypointGiven ? (req.Entrypoint ?? null) : (img.Entrypoint ?? null);
  const cmd = req.Cmd && req.Cmd.length > 0 ? req.Cmd : entrypointGiven ? null : (img.Cmd ?? null);
  return {
    Hostname: req.Hostname ?? '',
    Domainname: req.Domainname ?? '',
    User: req.User ?? img.User ?? '',
    AttachStdin: req.AttachStdin ?? false,
    AttachStdout: req.AttachStdout ?? false,
    AttachStderr: req.AttachStderr ?? false,
    ExposedPorts: { ...(img.ExposedPorts ?? {}), ...(req.ExposedPorts ?? {}) },
    Tty: req.Tty ?? false,
    OpenStdin: req.OpenStdin ?? false,
    StdinOnce: req.StdinOnce ?? false,
    Env: [...env.values()],
    Cmd: cmd,
    Healthcheck: req.Healthcheck ?? img.Healthcheck,
    Image: imageName,
    Volumes: { ...(img.Volumes ?? {}), ...(req.Volumes ?? {}) },
    WorkingDir: req.WorkingDir || img.WorkingDir || '',
    Entrypoint: entrypoint && entrypoint.length > 0 ? entrypoint : null,
    OnBuild: img.OnBuild ?? null,
    Labels: { ...(img.Labels ?? {}), ...(req.Labels ?? {}) },
    StopSignal: req.StopSignal ?? img.StopSignal,
    StopTimeout: req.StopTimeout,
  };
}

/** The process to run: Entrypoint + Cmd, or Docker's error when there is none. */
export function commandOf(config: ContainerConfig): { path: string; args: string[] } {
  const argv = [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])];
  if (argv.length === 0) throw new InvalidParameterError('no command specified');
  return { path: argv[0] ?? '', args: argv.slice(1) };
}

/**
 * Bind, volume and tmpfs mounts from Binds, Mounts and Tmpfs, plus an
 * anonymous volume for each path of the image's and request's Volumes that
 * nothing else mounts; validated as Docker does. Volume names are resolved
 * (and anonymous ones named) by the container service.
 */
export function resolveMounts(hc: HostConfig, volumes?: Record<string, object> | null): MountPointRecord[] {
  const mounts: MountPointRecord[] = [];
  const seen = new Set<string>();
  const add = (m: MountPointRecord): void => {
    const dest = m.Destination.replace(/\/+$/, '') || '/';
    if (seen.has(dest)) throw new InvalidParameterError(`Duplicate mount point: ${dest}`);
    seen.add(dest);
    mounts.push({ ...m, Destination: dest });
  };
  for (const bind of hc.Binds ?? []) {
    const parts = bind.split(':');
    if (parts.length < 2 || parts.length > 3)
      throw new InvalidParameterError(`invalid volume specification: '${bind}'`);
    const [source = '', dest = '', mode = ''] = parts;
    if (!dest.startsWith('/')) {
      throw new InvalidParameterError(
        `invalid volume specification: '${bind}': invalid mount config for type "bind": invalid mount path: '${dest}' mount path must be absolute`,
      );
    }
    const opts = mode.split(',').filter(Boolean);
    for (const o of opts) {
      if (
        ![
          'ro',
          'rw',
          'z',
          'Z',
          'private',
          'rprivate',
          'shared',
          'rshared',
          'slave',
          'rslave',
          'nocopy',
        ].includes(o)
      ) {
        throw new InvalidParameterError(`invalid mode: ${o}`);
      }
    }
    if (!source.startsWith('/')) {
      if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(source)) {
        throw new InvalidParameterError(
          `create ${source}: "${source}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
        );
      }
      add({
        Type: 'volume',
        Name: source,
        Source: '',
        Destination: dest,
        Driver: 'local',
        Mode: mode,
        RW: !opts.includes('ro'),
        Propagation: '',
        NoCopy: opts.includes('nocopy'),
      });
      continue;
    }
    add({
      Type: 'bind',
      Source: source,
      Destination: dest,
      Mode: mode,
      RW: !opts.includes('ro'),
      Propagation: opts.find((o) => /private|shared|slave/.test(o)) ?? 'rprivate',
    });
  }
  for (const m of hc.Mounts ?? []) {
    if (!m.Target || !m.Target.startsWith('/')) {
      throw new InvalidParameterError(
        `invalid mount config for type "${m.Type}": invalid mount path: '${m.Target ?? ''}' mount path must be absolute`,
      );
    }
    if (m.Type === 'bind') {
      if (!m.Source || !m.Source.startsWith('/')) {
        throw new InvalidParameterError(
          `invalid mount config for type "bind": invalid mount path: '${m.Source ?? ''}' mount path must be absolute`,
        );
      }
      add({
        Type: 'bind',
        Source: m.Source,
        Destination: m.Target,
        Mode: '',
        RW: !m.ReadOnly,
        Propagation: m.BindOptions?.Propagation ?? 'rprivate',
      });
    } else if (m.Type === 'tmpfs') {
      if (m.Source)
        throw new InvalidParameterError(
          'invalid mount config for type "tmpfs": field Source must not be specified',
        );
      const opts: string[] = [];
      if (m.TmpfsOptions?.SizeBytes) opts.push(`size=${m.TmpfsOptions.SizeBytes}`);
      if (m.TmpfsOptions?.Mode) opts.push(`mode=${m.TmpfsOptions.Mode.toString(8)}`);
      add({
        Type: 'tmpfs',
        Source: '',
        Destination: m.Target,
        Mode: '',
        RW: !m.ReadOnly,
        Propagation: '',
        TmpfsOptions: opts.join(','),
      });
    } else if (m.Type === 'volume') {
      add({
        Type: 'volume',
        Name: m.Source ?? '',
        Source: '',
        Destination: m.Target,
        Driver: 'local',
        Mode: '',
        RW: !m.ReadOnly,
        Propagation: '',
        NoCopy: m.VolumeOptions?.NoCopy ?? false,
        Anonymous: !m.Source,
      });
    } else {
      throw new InvalidParameterError(`mount type unknown: "${String((m as { Type: unknown }).Type)}"`);
    }
  }
  for (const [dest, options] of Object.entries(hc.Tmpfs ?? {})) {
    if (!dest.startsWith('/')) throw new InvalidParameterError(`invalid tmpfs mount path: ${dest}`);
    add({
      Type: 'tmpfs',
      Source: '',
      Destination: dest,
      Mode: '',
      RW: !options.split(',').includes('ro'),
      Propagation: '',
      TmpfsOptions: options,
    });
  }
  for (const dest of Object.keys(volumes ?? {})) {
    const clean = dest.replace(/\/+$/, '') || '/';
    if (seen.has(clean)) continue;
    if (!clean.startsWith('/')) throw new InvalidParameterError(`invalid volume path: ${dest}`);
    add({
      Type: 'volume',
      Name: '',
      Source: '',
      Destination: clean,
      Driver: 'local',
      Mode: '',
      RW: true,
      Propagation: '',
      Anonymous: true,
    });
  }
  return mounts;
}
