import { join } from 'node:path';

import type { Container } from '../../engine/containers/service.js';
import { statusText, type ContainerConfig, type HostConfig } from '../../engine/containers/model.js';
import { InvalidParameterError } from '../../errors.js';
import type { CreateRequest } from '../../engine/containers/create.js';

/** Paths and facts the wire form needs that the record does not carry. */
export interface ContainerPaths {
  dir: string;
  lowerDirs: string[];
  execIds: string[];
  sizeRw?: number | undefined;
  sizeRootFs?: number | undefined;
}

function commandLine(c: Container): string {
  return [c.record.Path, ...c.record.Args].join(' ');
}

function ports(c: Container): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const net = c.record.Network as
    { Ports?: Record<string, { HostIp: string; HostPort: string }[] | null> } | undefined;
  for (const [spec, bindings] of Object.entries(net?.Ports ?? {})) {
    const [port = '0', type = 'tcp'] = spec.split('/');
    if (!bindings || bindings.length === 0) out.push({ PrivatePort: Number(port), Type: type });
    for (const b of bindings ?? [])
      out.push({ IP: b.HostIp, PrivatePort: Number(port), PublicPort: Number(b.HostPort), Type: type });
  }
  if (out.length === 0) {
    for (const spec of Object.keys(c.record.Config.ExposedPorts ?? {})) {
      const [port = '0', type = 'tcp'] = spec.split('/');
      out.push({ PrivatePort: Number(port), Type: type });
    }
  }
  return out;
}

function mountsOut(c: Container): Record<string, unknown>[] {
  return c.record.Mounts.filter((m) => m.Type !== 'tmpfs').map((m) => ({
    Type: m.Type,
    ...(m.Name ? { Name: m.Name } : {}),
    Source: m.Source,
    Destination: m.Destination,
    ...(m.Driver ? { Driver: m.Driver } : {}),
    Mode: m.Mode,
    RW: m.RW,
    Propagation: m.Propagation,
  }));
}

function networkSettingsSummary(c: Container): Record<string, unknown> {
  const net = c.record.Network as { Networks?: Record<string, unknown> } | undefined;
  return { Networks: net?.Networks ?? {} };
}

/** `GET /containers/json` items (ContainerSummary). */
export function toContainerSummary(c: Container, paths: ContainerPaths): Record<string, unknown> {
  return {
    Id: c.id,
    Names: [c.record.Name],
    Image: c.record.ImageName,
    ImageID: c.record.Image,
    Command: commandLine(c),
    Created: Math.floor(Date.parse(c.record.Created) / 1000),
    Ports: ports(c),
    ...(paths.sizeRw !== undefined ? { SizeRw: paths.sizeRw, SizeRootFs: paths.sizeRootFs ?? 0 } : {}),
    Labels: c.record.Config.Labels,
    State: c.state.Status,
    Status: statusText(c.state),
    HostConfig: { NetworkMode: c.record.HostConfig.NetworkMode },
    NetworkSettings: networkSettingsSummary(c),
    Mounts: mountsOut(c),
  };
}

/** `GET /containers/{id}/json` (ContainerInspectResponse). */
export function toContainerInspect(c: Container, paths: ContainerPaths): Record<string, unknown> {
  const s = c.state;
  const net = c.record.Network ?? {};
  return {
    Id: c.id,
    Created: c.record.Created,
    Path: c.record.Path,
    Args: c.record.Args,
    State: {
      Status: s.Status,
      Running: s.Status === 'running' || s.Status === 'paused',
      Paused: s.Status === 'paused',
      Restarting: s.Status === 'restarting',
      OOMKilled: s.OOMKilled,
      Dead: s.Status === 'dead',
      Pid: s.Pid,
      ExitCode: s.ExitCode,
      Error: s.Error,
      StartedAt: s.StartedAt,
      FinishedAt: s.FinishedAt,
      ...(s.Health ? { Health: s.Health } : {}),
    },
    Image: c.record.Image,
    ResolvConfPath: join(paths.dir, 'resolv.conf'),
    HostnamePath: join(paths.dir, 'hostname'),
    HostsPath: join(paths.dir, 'hosts'),
    LogPath: join(paths.dir, 'ctr.log'),
    Name: c.record.Name,
    RestartCount: s.RestartCount,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: paths.execIds.length > 0 ? paths.execIds : null,
    HostConfig: toHostConfig(c.record.HostConfig),
    GraphDriver: {
      Name: 'overlay2',
      Data: {
        LowerDir: [join(paths.dir, 'init'), ...paths.lowerDirs].join(':'),
        MergedDir: join(paths.dir, 'merged'),
        UpperDir: join(paths.dir, 'upper'),
        WorkDir: join(paths.dir, 'work'),
      },
    },
    ...(paths.sizeRw !== undefined ? { SizeRw: paths.sizeRw, SizeRootFs: paths.sizeRootFs ?? 0 } : {}),
    Mounts: mountsOut(c),
    Config: toConfig(c.record.Config),
    NetworkSettings: {
      Bridge: '',
      SandboxID: (net['SandboxID'] as string | undefined) ?? '',
      SandboxKey: (net['SandboxKey'] as string | undefined) ?? '',
      HairpinMode: false,
      LinkLocalIPv6Address: '',
      LinkLocalIPv6PrefixLen: 0,
      Ports: net['Ports'] ?? {},
      SecondaryIPAddresses: null,
      SecondaryIPv6Addresses: null,
      EndpointID: (net['EndpointID'] as string | undefined) ?? '',
      Gateway: (net['Gateway'] as string | undefined) ?? '',
      GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0,
      IPAddress: (net['IPAddress'] as string | undefined) ?? '',
      IPPrefixLen: (net['IPPrefixLen'] as number | undefined) ?? 0,
      IPv6Gateway: '',
      MacAddress: (net['MacAddress'] as string | undefined) ?? '',
      Networks: net['Networks'] ?? {},
    },
  };
}

function toConfig(c: ContainerConfig): Record<string, unknown> {
  return {
    Hostname: c.Hostname,
    Domainname: c.Domainname,
    User: c.User,
    AttachStdin: c.AttachStdin,
    AttachStdout: c.AttachStdout,
    AttachStderr: c.AttachStderr,
    ...(c.ExposedPorts && Object.keys(c.ExposedPorts).length > 0 ? { ExposedPorts: c.ExposedPorts } : {}),
    Tty: c.Tty,
    OpenStdin: c.OpenStdin,
    StdinOnce: c.StdinOnce,
    Env: c.Env,
    Cmd: c.Cmd,
    ...(c.Healthcheck ? { Healthcheck: c.Healthcheck } : {}),
    Image: c.Image,
    Volumes: c.Volumes && Object.keys(c.Volumes).length > 0 ? c.Volumes : null,
    WorkingDir: c.WorkingDir,
    Entrypoint: c.Entrypoint,
    OnBuild: c.OnBuild ?? null,
    Labels: c.Labels,
    ...(c.StopSignal ? { StopSignal: c.StopSignal } : {}),
    ...(c.StopTimeout !== undefined ? { StopTimeout: c.StopTimeout } : {}),
  };
}

function toHostConfig(hc: HostConfig): Record<string, unknown> {
  return {
    ...hc,
    ContainerIDFile: '',
    Links: null,
    OomScoreAdj: 0,
    Cgroup: '',
    CgroupnsMode: 'private',
    CgroupParent: '',
    Isolation: '',
    MaskedPaths: null,
    ReadonlyPaths: null,
    PidsLimit: hc.PidsLimit ?? null,
    VolumeDriver: '',
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

const STRING_LISTS = ['Env', 'Cmd', 'Entrypoint'] as const;

/** Checks the create body's shape (types only; meaning is the engine's business). */
export function parseCreateBody(body: unknown): CreateRequest {
  if (!isObject(body))
    throw new InvalidParameterError('config cannot be empty in order to create a container');
  const { HostConfig: hc, NetworkingConfig: nc, ...config } = body;
  for (const key of STRING_LISTS) {
    const v = config[key];
    if (typeof v === 'string') config[key] = key === 'Env' ? [v] : [v];
    else if (v !== undefined && v !== null && !(Array.isArray(v) && v.every((x) => typeof x === 'string'))) {
      throw new InvalidParameterError(
        `json: cannot unmarshal ${typeof v} into Go struct field Config.${key} of type []string`,
      );
    }
  }
  if (config['Image'] !== undefined && typeof config['Image'] !== 'string') {
    throw new InvalidParameterError(
      'json: cannot unmarshal into Go struct field Config.Image of type string',
    );
  }
  if (config['Labels'] !== undefined && config['Labels'] !== null && !isObject(config['Labels'])) {
    throw new InvalidParameterError(
      'json: cannot unmarshal into Go struct field Config.Labels of type map[string]string',
    );
  }
  if (hc !== undefined && hc !== null && !isObject(hc))
    throw new InvalidParameterError('json: cannot unmarshal into HostConfig');
  const hostConfig = hc ?? {};
  for (const key of ['Memory', 'MemorySwap', 'NanoCpus', 'CpuShares', 'CpuQuota', 'CpuPeriod', 'ShmSize']) {
    const v = hostConfig[key];
    if (v !== undefined && v !== null && (typeof v !== 'number' || !Number.isInteger(v))) {
      throw new InvalidParameterError(
        `json: cannot unmarshal ${typeof v} into Go struct field HostConfig.${key} of type int64`,
      );
    }
  }
  return {
    Config: config,
    HostConfig: hostConfig,
    NetworkingConfig: nc ?? null,
  };
}
