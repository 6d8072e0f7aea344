import { readFile } from 'node:fs/promises';

import { buildOciSpec, type OciSpec, type OciSpecInput } from '../../runtime/oci-spec.js';
import type { HostLimits } from '../../runtime/host-limits.js';
import { NotFoundError } from '../../errors.js';
import type { HostConfig } from './model.js';
import type { Container } from './service.js';
import { readUserFiles, resolveUser } from './users.js';

/** Host facts spec generation needs, probed once by the engine. */
export interface SpecContext {
  hostLimits: HostLimits;
  blockDevices: { major: number; minor: number }[];
  availableCapabilities: readonly string[];
}

export interface SpecInputs {
  rootfs: string;
  containerDir: string;
  cgroupParent: string;
  initPath: string | undefined;
  resolveContainer: (ref: string) => Container | undefined;
  context: SpecContext;
  /** The network namespace the networks service prepared, if any. */
  netnsPath?: string | undefined;
}

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The OCI spec for a container, from its record and the mounted rootfs:
 * resolves the user from the container's own /etc/passwd, fills Docker's
 * environment (PATH, HOSTNAME, HOME, TERM with a tty), and maps HostConfig
 * to runtime settings.
 */
export async function buildContainerSpec(
  c: Container,
  inputs: SpecInputs,
): Promise<{ oci: OciSpec; user: { uid: number; gid: number; additionalGids: number[] } }> {
  const { record } = c;
  const hc = record.HostConfig;
  const files = await readUserFiles(inputs.rootfs);
  const user = resolveUser(record.Config.User, files.passwd, files.group, hc.GroupAdd ?? []);

  const env = new Map<string, string>();
  const put = (e: string): void => {
    const eq = e.indexOf('=');
    env.set(eq === -1 ? e : e.slice(0, eq), eq === -1 ? `${e}=` : e);
  };
  put(DEFAULT_PATH);
  put(`HOSTNAME=${record.Config.Hostname}`);
  if (record.Config.Tty) put('TERM=xterm');
  for (const e of record.Config.Env) put(e);
  if (!env.has('HOME')) put(`HOME=${user.home || '/'}`);

  const input: OciSpecInput = {
    id: record.ID,
    rootfsPath: inputs.rootfs,
    readonlyRootfs: hc.ReadonlyRootfs,
    hostname: record.Config.Hostname,
    domainname: record.Config.Domainname || undefined,
    process: {
      args: [record.Path, ...record.Args],
      env: [...env.values()],
      cwd: record.Config.WorkingDir || '/',
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
      terminal: record.Config.Tty,
      noNewPrivileges: (hc.SecurityOpt ?? []).some((o) => /^no-new-privileges(:true|=true)?$/.test(o)),
    },
    capAdd: hc.CapAdd ?? [],
    capDrop: hc.CapDrop ?? [],
    privileged: hc.Privileged,
    availableCapabilities: inputs.context.availableCapabilities,
    ulimits: (hc.Ulimits ?? []).map((u) => ({ name: u.Name, soft: u.Soft, hard: u.Hard })),
    hostLimits: inputs.context.hostLimits,
    mounts: [
      ...record.Mounts.filter((m) => m.Type === 'bind' || (m.Type === 'volume' && m.Source !== '')).map(
        (m) => ({
          destination: m.Destination,
          type: 'bind' as const,
          source: m.Source,
          readonly: !m.RW,
          propagation: m.Propagation || 'rprivate',
        }),
      ),
      ...record.Mounts.filter((m) => m.Type === 'tmpfs').map((m) => ({
        destination: m.Destination,
        type: 'tmpfs' as const,
        source: 'tmpfs',
        readonly: !m.RW,
        options: (m.TmpfsOptions ?? '').split(',').filter((o) => o !== '' && o !== 'ro' && o !== 'rw'),
      })),
      ...(['hosts', 'hostname', 'resolv.conf'] as const)
        .filter((f) => !record.Mounts.some((m) => m.Destination === `/etc/${f}`))
        .map((f) => ({
          destination: `/etc/${f}`,
          type: 'bind' as const,
          source: `${inputs.containerDir}/${f}`,
          readonly: hc.ReadonlyRootfs,
          propagation: 'rprivate',
        })),
    ],
    shmSize: hc.ShmSize,
    cgroupsPath: `${inputs.cgroupParent.replace(/\/+$/, '')}/${record.ID}`,
    resources: resourcesInput(hc),
    blockDevices: inputs.context.blockDevices,
    sysctls: hc.Sysctls ?? {},
    namespaces: {
      network: networkNamespace(hc, inputs),
      pid: namespaceFrom(hc.PidMode, inputs, 'pid'),
      ipc:
        hc.IpcMode === 'host'
          ? 'host'
          : hc.IpcMode === 'none'
            ? 'none'
            : hc.IpcMode.startsWith('container:')
              ? namespaceFrom(hc.IpcMode, inputs, 'ipc')
              : 'new',
      uts: hc.UTSMode === 'host' || hc.NetworkMode === 'host' ? 'host' : 'new',
    },
    init: hc.Init && inputs.initPath ? { hostPath: inputs.initPath } : undefined,
    devices: (hc.Devices ?? []).map((d) => ({
      pathOnHost: d.PathOnHost,
      pathInContainer: d.PathInContainer || d.PathOnHost,
      permissions: d.CgroupPermissions || 'rwm',
    })),
  };
  const oci = buildOciSpec(input);
  const size = hc.ConsoleSize;
  if (record.Config.Tty && size && size[0] > 0 && size[1] > 0) {
    // The pty gets its size before the process runs (a ctl resize races with it).
    (oci.process as unknown as Record<string, unknown>)['consoleSize'] = { height: size[0], width: size[1] };
  }
  return { oci, user };
}

function resourcesInput(hc: HostConfig): NonNullable<OciSpecInput['resources']> {
  return {
    memory: hc.Memory || undefined,
    memorySwap: hc.MemorySwap || undefined,
    memoryReservation: hc.MemoryReservation || undefined,
    cpuShares: hc.CpuShares || undefined,
    cpuQuota: hc.CpuQuota || undefined,
    cpuPeriod: hc.CpuPeriod || undefined,
    nanoCpus: hc.NanoCpus || undefined,
    cpusetCpus: hc.CpusetCpus || undefined,
    cpusetMems: hc.CpusetMems || undefined,
    pidsLimit: hc.PidsLimit ?? undefined,
    blkioWeight: hc.BlkioWeight || undefined,
    oomKillDisable: hc.OomKillDisable ?? undefined,
  };
}

/** The `linux.resources` object for `runc update`, from an updated HostConfig. */
export function linuxResources(hc: HostConfig, context: SpecContext): object {
  const spec = buildOciSpec({
    id: 'update',
    rootfsPath: '/',
    readonlyRootfs: false,
    hostname: 'update',
    process: {
      args: ['true'],
      env: [],
      cwd: '/',
      user: { uid: 0, gid: 0, additionalGids: [] },
      terminal: false,
    },
    hostLimits: context.hostLimits,
    cgroupsPath: '/update',
    resources: resourcesInput(hc),
    namespaces: { network: { kind: 'new' }, pid: 'new', ipc: 'new', uts: 'new' },
  });
  const { devices: _devices, ...rest } = (spec.linux.resources ?? {}) as unknown as Record<string, unknown>;
  return rest;
}

function networkNamespace(hc: HostConfig, inputs: SpecInputs): OciSpecInput['namespaces']['network'] {
  if (hc.NetworkMode === 'host') return { kind: 'host' };
  if (hc.NetworkMode.startsWith('container:')) {
    const target = inputs.resolveContainer(hc.NetworkMode.slice('container:'.length));
    if (!target || !target.running) {
      throw new NotFoundError(
        `cannot join network of a non running container: ${hc.NetworkMode.slice('container:'.length)}`,
      );
    }
    return { kind: 'path', path: `/proc/${target.state.Pid}/ns/net`, joined: true };
  }
  if (inputs.netnsPath) return { kind: 'path', path: inputs.netnsPath };
  return { kind: 'new' };
}

function namespaceFrom(
  mode: string,
  inputs: SpecInputs,
  ns: 'pid' | 'ipc',
): 'new' | 'host' | { path: string } {
  if (mode === 'host') return 'host';
  if (mode.startsWith('container:')) {
    const target = inputs.resolveContainer(mode.slice('container:'.length));
    if (!target || !target.running)
      throw new NotFoundError(`cannot join ${ns} namespace of a non running container`);
    return { path: `/proc/${target.state.Pid}/ns/${ns}` };
  }
  return 'new';
}

/** The disks (major:minor) on this host, for the blkio-stats throttle rule. */
export async function blockDevices(): Promise<{ major: number; minor: number }[]> {
  const { readdir } = await import('node:fs/promises');
  const out: { major: number; minor: number }[] = [];
  for (const name of await readdir('/sys/block').catch(() => [] as string[])) {
    if (/^(loop|ram|zram|sr|fd)/.test(name)) continue;
    const dev = (await readFile(`/sys/block/${name}/dev`, 'utf8').catch(() => '')).trim();
    const m = /^(\d+):(\d+)$/.exec(dev);
    if (m) out.push({ major: Number(m[1]), minor: Number(m[2]) });
  }
  return out;
}
