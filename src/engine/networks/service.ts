import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import {
  ConflictError,
  ForbiddenError,
  InvalidParameterError,
  NotFoundError,
  errorMessage,
} from '../../errors.js';
import { readJsonFile, writeFileAtomic } from '../../storage/atomic.js';
import { labelHolds, untilCutoff, type FilterArgs } from '../../util/filters.js';
import type { Logger } from '../../util/log.js';
import type { EventBus } from '../events/bus.js';
import type { Container, ContainerService } from '../containers/service.js';
import { hostsFile, resolvConf } from '../containers/files.js';
import {
  AddressPool,
  contains,
  defaultPools,
  overlaps,
  parseSubnet,
  pickSubnet,
  type Subnet,
} from './ipam.js';
import {
  PREDEFINED,
  type ContainerNetwork,
  type EndpointSettings,
  type NetworkRecord,
  type PortBinding,
} from './model.js';
import type { NetDriver, ProxyHandle, DnsHandle } from './driver.js';

export interface NetworkSettings {
  /** Device name of the default bridge. */
  bridgeName: string;
  /** The default bridge's address and prefix, e.g. 172.17.0.1/16; undefined = first free default pool. */
  bip: string | undefined;
  /** Pools for networks created without a subnet. */
  pools: { base: string; size: number }[];
  iptables: boolean;
  ipMasq: boolean;
  ipForward: boolean;
  dns: string[];
}

/** One bridge endpoint of a sandbox: what {@link NetworkService} allocated and wires. */
interface SandboxLink {
  /** The network's name (the key in the container's endpoints). */
  name: string;
  net: NetworkRecord;
  bridge: string;
  pool: AddressPool;
  ip: string;
  prefix: number;
  mac: string;
  hostVeth: string;
  ifname: string;
  gateway: string | undefined;
}

/** A container's network namespace, pinned by a file, as a start prepares it. */
interface Sandbox {
  /** The bind-mounted namespace file the runtime joins. */
  path: string;
  /** One per bridge network, in interface order (eth0 first). */
  links: SandboxLink[];
  /** Settles once every link is wired; undefined until the wiring begins. */
  wired: Promise<void> | undefined;
}

export const NETWORK_LIST_FILTERS = ['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type'] as const;

const PORT_RANGE = { min: 32768, max: 60999 };

/** Network namespaces kept ready for the next container starts. */
const SPARE_NETNS = 1;
/** How long after taking a spare the next one is made. */
const SPARE_REFILL_DELAY_MS = 100;

/**
 * Docker's networks on one host: the predefined `bridge`, `host` and
 * `none`, user-defined bridge networks with IPAM, veth endpoints wired into
 * each container's network namespace (made by the daemon and pinned by a
 * file, so that the wiring runs while conmon and the runtime create the
 * container, and done before the runtime's start), published ports through
 * a userland proxy, and an embedded DNS server on each user network's
 * gateway address.
 *
 * On disk: `<data-root>/networks/<id>.json` per network (written
 * atomically). Endpoints live in each container's record (record.Network),
 * so a restarted daemon rebuilds address allocations from its containers.
 * Namespace files: `<exec-root>/netns/<random>`, a container's SandboxKey,
 * and one spare made ahead for the next start; a daemon removes those no
 * running container uses when it starts, and its spare when it stops.
 */
export class NetworkService {
  private readonly root: string;
  private readonly networks = new Map<string, NetworkRecord>();
  private readonly pools = new Map<string, AddressPool>();
  private readonly proxies = new Map<string, ProxyHandle[]>();
  private readonly dns = new Map<string, DnsHandle>();
  /** Namespaces prepared for starting containers, by container ID, until they exit. */
  private readonly sandboxes = new Map<string, Sandbox>();
  /** Namespace files made ahead of time for the next starts (see takeNetns). */
  private readonly spareNetns: string[] = [];
  private refill: Promise<void> | undefined;
  private refillTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly deps: {
    events: EventBus;
    logger: Logger;
    containers: ContainerService;
    driver: NetDriver;
    settings: NetworkSettings;
  };

  constructor(dataRoot: string, deps: NetworkService['deps']) {
    this.root = join(dataRoot, 'networks');
    this.deps = deps;
  }

  // ---- lifecycle --------------------------------------------------------

  async open(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    for (const name of await readdir(this.root)) {
      if (!name.endsWith('.json')) continue;
      const rec = await readJsonFile<NetworkRecord>(join(this.root, name)).catch(() => undefined);
      if (rec) this.networks.set(rec.Id, rec);
    }
    await this.ensurePredefined();
    if (this.deps.settings.iptables) await this.deps.driver.ensureChains();
    if (this.deps.settings.ipForward) {
      await writeFile('/proc/sys/net/ipv4/ip_forward', '1').catch((err: unknown) =>
        this.deps.logger.warn({ err: errorMessage(err) }, 'could not enable IPv4 forwarding'),
      );
    }
    for (const net of this.networks.values()) {
      if (net.Driver !== 'bridge') continue;
      const cfg = net.IPAM.Config[0];
      if (!cfg) continue;
      this.pools.set(net.Id, new AddressPool(parseSubnet(cfg.Subnet), cfg.Gateway, cfg.IPRange));
      await this.bringUp(net);
    }
    await this.isolate();
    // Re-claim addresses and re-open published ports of running containers.
    for (const c of this.deps.containers.all()) {
      const settings = c.record.Network as ContainerNetwork | undefined;
      if (!settings || !c.running) continue;
      for (const [name, ep] of Object.entries(settings.Networks)) {
        const net = this.findByName(name);
        if (net && ep.IPAddress) this.pools.get(net.Id)?.claim(ep.IPAddress);
      }
      await this.openPorts(c).catch((err: unknown) =>
        this.deps.logger.warn({ err: errorMessage(err), id: c.id }, 'reopening ports failed'),
      );
    }
    await this.sweepNetns();
    const hooks = this.deps.containers.hooks;
    hooks.beforeStart.push((c) => this.beforeStart(c));
    hooks.creating.push((c) => this.startWiring(c));
    hooks.afterCreate.push((c, pid) => this.wire(c, pid));
    hooks.startFailed.push((c) => this.abandon(c));
    hooks.afterExit.push((c) => this.unwire(c));
    this.deps.containers.networkResolver = (mode, endpoints) => this.initialEndpoints(mode, endpoints);
    this.refillNetns();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.refillTimer);
    await this.refill?.catch(() => undefined);
    for (const path of this.spareNetns.splice(0)) {
      await this.deps.driver
        .removeNetns(path)
        .catch((err: unknown) =>
          this.deps.logger.warn(
            { err: errorMessage(err), path },
            'removing a spare network namespace failed',
          ),
        );
    }
    for (const list of this.proxies.values()) for (const p of list) await p.close().catch(() => undefined);
    this.proxies.clear();
    for (const d of this.dns.values()) await d.close().catch(() => undefined);
    this.dns.clear();
  }

  private async ensurePredefined(): Promise<void> {
    const s = this.deps.settings;
    if (!this.findByName('bridge')) {
      const taken = await this.takenSubnets();
      const subnet = s.bip
        ? parseSubnet(s.bip)
        : pickSubnet(s.pools.length > 0 ? s.pools : defaultPools(), taken);
      const gateway = s.bip
        ? (s.bip.split('/')[0] ?? '')
        : `${subnet.cidr.split('.').slice(0, 3).join('.')}.${(subnet.network % 256) + 1}`;
      await this.save({
        ...blankNetwork('bridge', 'bridge'),
        IPAM: {
          Driver: 'default',
          Options: {},
          Config: [{ Subnet: subnet.cidr, Gateway: gatewayOf(subnet, gateway) }],
        },
        Options: {
          'com.docker.network.bridge.default_bridge': 'true',
          'com.docker.network.bridge.enable_icc': 'true',
          'com.docker.network.bridge.enable_ip_masquerade': String(s.ipMasq),
          'com.docker.network.bridge.name': s.bridgeName,
          'com.docker.network.driver.mtu': '1500',
        },
        bridge: s.bridgeName,
        isDefault: true,
      });
    }
    if (!this.findByName('host'))
      await this.save({
        ...blankNetwork('host', 'host'),
        IPAM: { Driver: 'default', Options: {}, Config: [] },
      });
    if (!this.findByName('none'))
      await this.save({
        ...blankNetwork('none', 'null'),
        IPAM: { Driver: 'default', Options: {}, Config: [] },
      });
  }

  private async takenSubnets(): Promise<Subnet[]> {
    const taken: Subnet[] = [];
    for (const n of this.networks.values()) for (const c of n.IPAM.Config) taken.push(parseSubnet(c.Subnet));
    for (const route of await this.deps.driver.hostRoutes()) {
      try {
        taken.push(parseSubnet(route));
      } catch {
        // default routes and host routes are not subnets to avoid
      }
    }
    return taken;
  }

  private async bringUp(net: NetworkRecord): Promise<void> {
    const cfg = net.IPAM.Config[0];
    if (!net.bridge || !cfg) return;
    const prefix = cfg.Subnet.split('/')[1] ?? '24';
    await this.deps.driver.createBridge(
      net.bridge,
      `${cfg.Gateway}/${prefix}`,
      Number(net.Options['com.docker.network.driver.mtu'] ?? 1500),
    );
    if (this.deps.settings.iptables) {
      await this.deps.driver.allowBridge(net.bridge);
      if (
        this.deps.settings.ipMasq &&
        !net.Internal &&
        net.Options['com.docker.network.bridge.enable_ip_masquerade'] !== 'false'
      ) {
        await this.deps.driver.masquerade(cfg.Subnet, net.bridge);
      }
    }
    if (!net.isDefault) {
      const handle = await this.deps.driver
        .startDns(cfg.Gateway, (name) => this.resolveName(net, name), this.deps.settings.dns)
        .catch((err: unknown) => {
          this.deps.logger.warn(
            { err: errorMessage(err), network: net.Name },
            'embedded DNS could not start',
          );
          return undefined;
        });
      if (handle) this.dns.set(net.Id, handle);
    }
  }

  private async isolate(): Promise<void> {
    if (!this.deps.settings.iptables) return;
    const bridges = [...this.networks.values()].flatMap((n) => (n.bridge ? [n.bridge] : []));
    await this.deps.driver.isolateBridges(bridges);
  }

  // ---- queries ------------------------------------------------------------

  /** The bridge whose subnet holds an address. */
  bridgeFor(ip: string): string | undefined {
    for (const net of this.networks.values()) {
      const pool = this.pools.get(net.Id);
      if (pool && net.bridge && contains(pool.subnet, ip)) return net.bridge;
    }
    return undefined;
  }

  private findByName(name: string): NetworkRecord | undefined {
    for (const n of this.networks.values()) if (n.Name === name) return n;
    return undefined;
  }

  /** A network by full ID, name, or ID prefix (moby's lookup order). */
  get(ref: string): NetworkRecord {
    const exact = this.networks.get(ref) ?? this.findByName(ref);
    if (exact) return exact;
    const byPrefix = [...this.networks.values()].filter((n) => n.Id.startsWith(ref));
    if (byPrefix.length === 1 && byPrefix[0]) return byPrefix[0];
    if (byPrefix.length > 1)
      throw new InvalidParameterError(
        `network ${ref} is ambiguous (${byPrefix.length} matches found based on ID prefix)`,
      );
    throw new NotFoundError(`network ${ref} not found`);
  }

  list(filters: FilterArgs): NetworkRecord[] {
    filters.validate(NETWORK_LIST_FILTERS);
    return [...this.networks.values()]
      .filter((n) => {
        if (!filters.fuzzyMatch('id', n.Id)) return false;
        if (filters.get('name').length > 0 && !filters.get('name').some((p) => n.Name.includes(p)))
          return false;
        if (!filters.exactMatch('driver', n.Driver)) return false;
        if (!filters.matchKVList('label', n.Labels)) return false;
        if (!filters.exactMatch('scope', 'local')) return false;
        const type = PREDEFINED.includes(n.Name) ? 'builtin' : 'custom';
        if (!filters.exactMatch('type', type)) return false;
        if (filters.get('dangling').length > 0) {
          const wantDangling = filters.get('dangling').some((d) => d === 'true' || d === '1');
          const dangling = !PREDEFINED.includes(n.Name) && this.endpointsOf(n).length === 0;
          if (wantDangling !== dangling) return false;
        }
        return true;
      })
      .sort((a, b) => a.Name.localeCompare(b.Name));
  }

  /** Containers on a network, with their endpoint. */
  endpointsOf(net: NetworkRecord): { container: Container; endpoint: EndpointSettings }[] {
    const out: { container: Container; endpoint: EndpointSettings }[] = [];
    for (const c of this.deps.containers.all()) {
      const ep = (c.record.Network as ContainerNetwork | undefined)?.Networks[net.Name];
      if (ep && (c.running || net.Name !== 'bridge')) out.push({ container: c, endpoint: ep });
    }
    return out;
  }

  // ---- create / remove ------------------------------------------------------

  async create(req: {
    Name?: string;
    Driver?: string;
    Internal?: boolean;
    Attachable?: boolean;
    EnableIPv6?: boolean;
    IPAM?: {
      Driver?: string;
      Config?: { Subnet?: string; Gateway?: string; IPRange?: string }[];
      Options?: Record<string, string>;
    };
    Options?: Record<string, string>;
    Labels?: Record<string, string>;
    CheckDuplicate?: boolean;
  }): Promise<{ Id: string; Warning: string }> {
    const name = req.Name ?? '';
    if (name === '') throw new InvalidParameterError('network name must not be empty');
    if (PREDEFINED.includes(name))
      throw new ForbiddenError(`${name} is a pre-defined network and cannot be created`);
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) {
      throw new InvalidParameterError(
        `invalid network name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`,
      );
    }
    if (this.findByName(name)) throw new ConflictError(`network with name ${name} already exists`);
    const driver = req.Driver || 'bridge';
    if (driver !== 'bridge') throw new NotFoundError(`plugin "${driver}" not found`);
    if (req.EnableIPv6) throw new InvalidParameterError('IPv6 networks are not supported by berth yet');
    const configs = req.IPAM?.Config ?? [];
    if (configs.length > 1) throw new InvalidParameterError('berth supports one IPv4 subnet per network');
    const taken = await this.takenSubnets();
    let subnet: Subnet;
    const requested = configs[0];
    if (requested?.Subnet) {
      subnet = parseSubnet(requested.Subnet);
      const clash = [...this.networks.values()].find((n) =>
        n.IPAM.Config.some((c) => overlaps(parseSubnet(c.Subnet), subnet)),
      );
      if (clash) throw new ForbiddenError(`Pool overlaps with other one on this address space`);
    } else {
      subnet = pickSubnet(
        this.deps.settings.pools.length > 0 ? this.deps.settings.pools : defaultPools(),
        taken,
      );
    }
    const gateway = gatewayOf(subnet, requested?.Gateway);
    const id = randomBytes(32).toString('hex');
    const bridge = req.Options?.['com.docker.network.bridge.name'] ?? `bth-${id.slice(0, 11)}`;
    if (bridge.length > 15)
      throw new InvalidParameterError(`bridge name ${bridge} is longer than 15 characters`);
    const net: NetworkRecord = {
      ...blankNetwork(name, 'bridge'),
      Id: id,
      Internal: req.Internal ?? false,
      Attachable: req.Attachable ?? false,
      IPAM: {
        Driver: req.IPAM?.Driver || 'default',
        Options: req.IPAM?.Options ?? {},
        Config: [
          {
            Subnet: subnet.cidr,
            Gateway: gateway,
            ...(requested?.IPRange ? { IPRange: requested.IPRange } : {}),
          },
        ],
      },
      Options: req.Options ?? {},
      Labels: req.Labels ?? {},
      bridge,
    };
    const pool = new AddressPool(subnet, gateway, requested?.IPRange);
    await this.save(net);
    this.pools.set(id, pool);
    try {
      await this.bringUp(net);
      await this.isolate();
    } catch (err) {
      await this.teardown(net);
      throw err;
    }
    this.publish(net, 'create');
    return { Id: id, Warning: '' };
  }

  async remove(ref: string): Promise<void> {
    const net = this.get(ref);
    if (PREDEFINED.includes(net.Name))
      throw new ForbiddenError(`${net.Name} is a pre-defined network and cannot be removed`);
    const users = this.endpointsOf(net);
    if (users.length > 0) {
      throw new ForbiddenError(
        `error while removing network: network ${net.Name} has active endpoints (${users
          .map(
            (u) =>
              `name:${JSON.stringify(u.container.name)} id:${JSON.stringify(u.endpoint.EndpointID.slice(0, 12))}`,
          )
          .join(', ')})`,
      );
    }
    await this.teardown(net);
    this.publish(net, 'destroy');
  }

  private async teardown(net: NetworkRecord): Promise<void> {
    await this.dns
      .get(net.Id)
      ?.close()
      .catch(() => undefined);
    this.dns.delete(net.Id);
    if (net.bridge) {
      if (this.deps.settings.iptables)
        await this.deps.driver
          .forgetBridge(net.bridge, net.IPAM.Config[0]?.Subnet ?? '')
          .catch(() => undefined);
      await this.deps.driver.deleteLink(net.bridge).catch(() => undefined);
    }
    this.networks.delete(net.Id);
    this.pools.delete(net.Id);
    await rm(join(this.root, `${net.Id}.json`), { force: true });
    await this.isolate().catch(() => undefined);
  }

  async prune(filters: FilterArgs): Promise<string[]> {
    filters.validate(['until', 'label', 'label!']);
    const removed: string[] = [];
    for (const net of [...this.networks.values()]) {
      if (PREDEFINED.includes(net.Name) || this.endpointsOf(net).length > 0) continue;
      if (!filters.matchKVList('label', net.Labels)) continue;
      if (filters.get('label!').some((l) => labelHolds(l, net.Labels))) continue;
      if (filters.get('until').some((u) => Date.parse(net.Created) > untilCutoff(u))) continue;
      await this.teardown(net);
      this.publish(net, 'destroy');
      removed.push(net.Name);
    }
    this.deps.events.publish({ Type: 'network', Action: 'prune', Actor: { ID: '', Attributes: {} } });
    return removed;
  }

  // ---- container endpoints ----------------------------------------------------

  /** The endpoints a new container starts with: its NetworkMode network plus NetworkingConfig entries. */
  initialEndpoints(
    mode: string,
    endpoints: Record<string, unknown> | undefined,
  ): ContainerNetwork | undefined {
    if (mode === 'host' || mode === 'none' || mode.startsWith('container:')) {
      return mode === 'none' || mode === 'host'
        ? emptySettings({ [mode]: blankEndpoint(this.findByName(mode)?.Id ?? '') })
        : undefined;
    }
    const primary = this.get(mode === 'default' ? 'bridge' : mode);
    const networks: Record<string, EndpointSettings> = {};
    const wanted: Record<string, unknown> = {
      [primary.Name]:
        endpoints?.[mode] ?? endpoints?.[primary.Name] ?? endpoints?.[primary.Id] ?? endpoints?.['default'],
    };
    for (const [ref, cfg] of Object.entries(endpoints ?? {})) {
      const net = ref === 'default' ? primary : this.get(ref);
      if (!(net.Name in wanted)) wanted[net.Name] = cfg;
    }
    for (const [name, cfg] of Object.entries(wanted)) {
      const net = this.get(name);
      const ep = blankEndpoint(net.Id);
      const given = (cfg ?? {}) as { Aliases?: string[]; IPAMConfig?: { IPv4Address?: string } | null };
      if (given.IPAMConfig?.IPv4Address) {
        if (net.isDefault)
          throw new InvalidParameterError(
            'user specified IP address is supported on user defined networks only',
          );
        ep.IPAMConfig = { IPv4Address: given.IPAMConfig.IPv4Address };
      }
      if (given.Aliases && given.Aliases.length > 0) {
        if (net.isDefault)
          throw new InvalidParameterError(
            'network-scoped alias is supported only for containers in user defined networks',
          );
        ep.Aliases = given.Aliases;
      }
      networks[net.Name] = ep;
    }
    return emptySettings(networks);
  }

  /**
   * Before the runtime runs: resolv.conf, and for a container on bridge
   * networks its network namespace (see {@link prepareSandbox}).
   */
  private async beforeStart(c: Container): Promise<void> {
    await Promise.all([this.writeResolvConf(c), this.prepareSandbox(c)]);
  }

  /** DNS for user networks goes to the embedded server on the gateway. */
  private async writeResolvConf(c: Container): Promise<void> {
    const settings = c.record.Network as ContainerNetwork | undefined;
    const names = Object.keys(settings?.Networks ?? {});
    const user = names.map((n) => this.findByName(n)).find((n) => n && n.Driver === 'bridge' && !n.isDefault);
    const gateway = user?.IPAM.Config[0]?.Gateway;
    if (!gateway || c.record.HostConfig.Dns.length > 0) {
      if (
        this.deps.settings.dns.length > 0 &&
        c.record.HostConfig.Dns.length === 0 &&
        c.record.HostConfig.NetworkMode !== 'host'
      ) {
        const hostText = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
        const text = resolvConf(
          hostText,
          {
            dns: this.deps.settings.dns,
            search: c.record.HostConfig.DnsSearch,
            options: c.record.HostConfig.DnsOptions,
          },
          false,
        );
        await writeFile(join(this.deps.containers.dir(c), 'resolv.conf'), text);
      }
      return;
    }
    const hostText = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
    const text = resolvConf(
      hostText,
      { dns: [gateway], search: c.record.HostConfig.DnsSearch, options: c.record.HostConfig.DnsOptions },
      false,
    );
    await writeFile(join(this.deps.containers.dir(c), 'resolv.conf'), text);
  }

  /** Where this daemon pins the network namespaces of its containers (`<exec-root>/netns`). */
  private get netnsDir(): string {
    return join(this.deps.containers.deps.execRoot, 'netns');
  }

  /**
   * For a container on bridge networks, while the rootfs is being mounted:
   * allocates its addresses, creates its network namespace pinned by a file
   * (the runtime joins it instead of making one); {@link startWiring} wires
   * the veths into it while conmon and the runtime create the container,
   * and {@link wire} waits for that before the container starts;
   * {@link abandon} undoes it all when the start fails.
   */
  private async prepareSandbox(c: Container): Promise<void> {
    const settings = c.record.Network as ContainerNetwork | undefined;
    const mode = c.record.HostConfig.NetworkMode;
    c.netnsPath = undefined;
    if (!settings || mode === 'host' || mode.startsWith('container:')) return;
    const links: SandboxLink[] = [];
    try {
      for (const [name, ep] of Object.entries(settings.Networks)) {
        const net = this.findByName(name);
        if (!net || net.Driver !== 'bridge' || !net.bridge) continue;
        const pool = this.pools.get(net.Id);
        if (!pool) continue;
        const ip = pool.allocate(ep.IPAMConfig?.IPv4Address);
        const index = links.length;
        links.push({
          name,
          net,
          bridge: net.bridge,
          pool,
          ip,
          prefix: Number(net.IPAM.Config[0]?.Subnet.split('/')[1] ?? 24),
          mac: macFor(ip),
          hostVeth: `bv${randomBytes(5).toString('hex')}`,
          ifname: `eth${index}`,
          gateway: index === 0 && !net.Internal ? pool.gateway : undefined,
        });
      }
    } catch (err) {
      for (const l of links) l.pool.release(l.ip);
      throw err;
    }
    if (links.length === 0) return;
    let path: string;
    try {
      path = await this.takeNetns();
    } catch (err) {
      for (const l of links) l.pool.release(l.ip);
      throw err;
    }
    this.sandboxes.set(c.id, { path, links, wired: undefined });
    c.netnsPath = path;
  }

  /**
   * Wires a prepared namespace: from the `creating` hook, once conmon runs
   * the runtime's create (the two processes per link then cost the start
   * nothing), or from {@link wire} at the latest.
   */
  private startWiring(c: Container): void {
    const sandbox = this.sandboxes.get(c.id);
    if (!sandbox || sandbox.wired) return;
    const { path, links } = sandbox;
    sandbox.wired = (async () => {
      for (const l of links) {
        await this.deps.driver.connectNetns({
          hostName: l.hostVeth,
          bridge: l.bridge,
          netns: { path },
          ifname: l.ifname,
          address: `${l.ip}/${l.prefix}`,
          gateway: l.gateway,
          mac: l.mac,
        });
      }
    })();
    sandbox.wired.catch(() => undefined); // awaited by wire, or abandoned
  }

  /**
   * Between create and start: waits for the namespace's wiring, then records
   * the endpoints (`network connect`), /etc/hosts and published ports. The
   * container service saves the record once the container runs.
   */
  private async wire(c: Container, pid: number): Promise<void> {
    const settings = c.record.Network as ContainerNetwork | undefined;
    if (
      !settings ||
      c.record.HostConfig.NetworkMode === 'host' ||
      c.record.HostConfig.NetworkMode.startsWith('container:')
    )
      return;
    const sandbox = this.sandboxes.get(c.id);
    settings.SandboxKey = sandbox?.path ?? `/proc/${pid}/ns/net`;
    settings.veths = {};
    if (sandbox) {
      this.startWiring(c);
      await sandbox.wired;
    }
    for (const l of sandbox?.links ?? []) {
      const ep = settings.Networks[l.name];
      if (!ep) continue;
      settings.veths[l.name] = l.hostVeth;
      Object.assign(ep, {
        NetworkID: l.net.Id,
        EndpointID: randomBytes(32).toString('hex'),
        Gateway: l.pool.gateway,
        IPAddress: l.ip,
        IPPrefixLen: l.prefix,
        MacAddress: l.mac,
        DNSNames: l.net.isDefault ? null : [c.name, c.id.slice(0, 12), ...(ep.Aliases ?? [])],
      });
      this.publishEndpoint(l.net, c, 'connect');
    }
    const defaultEp = settings.Networks['bridge'];
    settings.IPAddress = defaultEp?.IPAddress ?? '';
    settings.IPPrefixLen = defaultEp?.IPPrefixLen ?? 0;
    settings.Gateway = defaultEp?.Gateway ?? '';
    settings.MacAddress = defaultEp?.MacAddress ?? '';
    const first = sandbox?.links[0];
    if (first) {
      const names = [
        c.record.Config.Hostname,
        ...(c.record.Config.Domainname ? [`${c.record.Config.Hostname}.${c.record.Config.Domainname}`] : []),
      ];
      await writeFile(
        join(this.deps.containers.dir(c), 'hosts'),
        hostsFile(c.record.HostConfig.ExtraHosts ?? [], { ip: first.ip, names }),
      );
      await this.openPorts(c);
    }
  }

  /**
   * After exit: addresses back to the pools, proxies closed, `network
   * disconnect`. The veths and the namespace file go in the background:
   * nothing waits for them (the next start of the container makes new ones),
   * and a daemon that stops first removes a leftover file at its next start.
   * The container service saves the record afterwards.
   */
  private async unwire(c: Container): Promise<void> {
    const settings = c.record.Network as ContainerNetwork | undefined;
    const sandbox = this.sandboxes.get(c.id);
    this.sandboxes.delete(c.id);
    c.netnsPath = undefined;
    if (!settings) {
      if (sandbox) this.dropSandbox(c, sandbox);
      return;
    }
    for (const p of this.proxies.get(c.id) ?? []) await p.close().catch(() => undefined);
    this.proxies.delete(c.id);
    if (this.deps.settings.iptables) await this.deps.driver.removeContainerPorts(c.id).catch(() => undefined);
    // From here on nothing awaits, so no other start can take an address released below before
    // everything of this container is accounted for.
    const veths = Object.values(settings.veths ?? {});
    const netnsFile =
      sandbox?.path ??
      (settings.SandboxKey.startsWith(`${this.netnsDir}/`) ? settings.SandboxKey : undefined);
    const sandboxIps = new Map((sandbox?.links ?? []).map((l) => [l.name, l]));
    for (const [name, ep] of Object.entries(settings.Networks)) {
      const net = this.findByName(name);
      if (!net) continue;
      const link = sandboxIps.get(name);
      sandboxIps.delete(name);
      if (link) link.pool.release(link.ip);
      else if (ep.IPAddress) this.pools.get(net.Id)?.release(ep.IPAddress);
      if (ep.IPAddress || net.Driver !== 'bridge') this.publishEndpoint(net, c, 'disconnect');
      Object.assign(ep, {
        EndpointID: '',
        Gateway: '',
        IPAddress: '',
        IPPrefixLen: 0,
        MacAddress: '',
        DNSNames: null,
      });
    }
    for (const l of sandboxIps.values()) l.pool.release(l.ip); // networks the container left meanwhile
    settings.SandboxKey = '';
    settings.IPAddress = '';
    settings.Gateway = '';
    settings.IPPrefixLen = 0;
    settings.MacAddress = '';
    settings.Ports = {};
    settings.veths = {};
    // Unpinned, a namespace no process is in goes away with its veths. A container that joined
    // it (container:<id>) keeps it alive, so then the veths are deleted explicitly, as they are
    // for a namespace the runtime made.
    const shared = this.deps.containers.all().some((o) => {
      const mode = o.record.HostConfig.NetworkMode;
      if (o === c || !o.running || !mode.startsWith('container:')) return false;
      try {
        return this.deps.containers.find(mode.slice('container:'.length)) === c;
      } catch {
        return true; // an ambiguous reference: delete the veths to be safe
      }
    });
    const deleteVeths = !netnsFile || shared ? veths : [];
    if (deleteVeths.length > 0 || netnsFile) {
      this.deps.containers.runInBackground(
        async () => {
          await sandbox?.wired?.catch(() => undefined);
          const deleted = await Promise.allSettled(deleteVeths.map((v) => this.deps.driver.deleteLink(v)));
          if (netnsFile) await this.deps.driver.removeNetns(netnsFile);
          for (const r of deleted) if (r.status === 'rejected') throw r.reason;
        },
        { container: c, what: 'removing the network namespace' },
      );
    }
  }

  /** A failed start: undoes {@link prepareSandbox} and, if it got that far, {@link wire}. */
  private async abandon(c: Container): Promise<void> {
    const settings = c.record.Network as ContainerNetwork | undefined;
    const wired = Object.keys(settings?.veths ?? {}).length > 0;
    const sandbox = this.sandboxes.get(c.id);
    if (wired || (settings && sandbox)) {
      await this.unwire(c);
      return;
    }
    this.sandboxes.delete(c.id);
    c.netnsPath = undefined;
    if (sandbox) this.dropSandbox(c, sandbox);
  }

  /** Releases a sandbox's addresses and removes its namespace file in the background. */
  private dropSandbox(c: Container, sandbox: Sandbox): void {
    for (const l of sandbox.links) l.pool.release(l.ip);
    this.deps.containers.runInBackground(
      async () => {
        await sandbox.wired?.catch(() => undefined);
        await this.deps.driver.removeNetns(sandbox.path);
      },
      { container: c, what: 'removing the network namespace' },
    );
  }

  /**
   * A new network namespace for a starting container: a spare made ahead
   * of time when there is one (making one costs a process), else one made
   * now. Either way another spare is made in the background. Names are
   * random, so a file still going away in the background never clashes.
   */
  private async takeNetns(): Promise<string> {
    const spare = this.spareNetns.shift();
    this.scheduleRefill();
    if (spare !== undefined) return spare;
    const path = join(this.netnsDir, randomBytes(6).toString('hex'));
    await this.deps.driver.createNetns(path);
    return path;
  }

  /**
   * Refills the spares a little later: spawning a process stalls the event
   * loop for a moment, which the start that took the spare (and, for a
   * short-lived container, its exit and removal) should not pay for.
   */
  private scheduleRefill(): void {
    if (this.refillTimer !== undefined || this.closed) return;
    this.refillTimer = setTimeout(() => {
      this.refillTimer = undefined;
      this.refillNetns();
    }, SPARE_REFILL_DELAY_MS);
    this.refillTimer.unref();
  }

  /** Makes spare namespaces in the background until there are {@link SPARE_NETNS}. */
  private refillNetns(): void {
    if (this.refill !== undefined || this.closed || this.spareNetns.length >= SPARE_NETNS) return;
    const refill = (async () => {
      try {
        while (!this.closed && this.spareNetns.length < SPARE_NETNS) {
          const path = join(this.netnsDir, randomBytes(6).toString('hex'));
          await this.deps.driver.createNetns(path);
          if (this.closed) {
            await this.deps.driver.removeNetns(path);
            return;
          }
          this.spareNetns.push(path);
        }
      } finally {
        this.refill = undefined;
      }
    })();
    this.refill = refill;
    this.deps.containers.runInBackground(() => refill, { what: 'making a spare network namespace' });
  }

  /** Namespace files no running container uses: left by a daemon that stopped or crashed mid-way. */
  private async sweepNetns(): Promise<void> {
    const inUse = new Set(
      this.deps.containers
        .all()
        .filter((c) => c.running)
        .map((c) => (c.record.Network as ContainerNetwork | undefined)?.SandboxKey ?? ''),
    );
    for (const name of await readdir(this.netnsDir).catch(() => [] as string[])) {
      const path = join(this.netnsDir, name);
      if (inUse.has(path)) continue;
      await this.deps.driver
        .removeNetns(path)
        .catch((err: unknown) =>
          this.deps.logger.warn(
            { err: errorMessage(err), path },
            'removing a stale network namespace failed',
          ),
        );
    }
  }

  /** Published ports: a userland proxy per binding (and DNAT where iptables is on). */
  private async openPorts(c: Container): Promise<void> {
    const settings = c.record.Network as ContainerNetwork | undefined;
    const target = settings
      ? Object.values(settings.Networks).find((e) => e.IPAddress)?.IPAddress
      : undefined;
    if (!settings || !target) return;
    const hc = c.record.HostConfig;
    const bindings: Record<string, { HostIp?: string; HostPort?: string }[]> = {};
    for (const [spec, list] of Object.entries(hc.PortBindings ?? {})) bindings[spec] = list ?? [];
    if (hc.PublishAllPorts) {
      for (const spec of Object.keys(c.record.Config.ExposedPorts ?? {}))
        if (!bindings[spec]) bindings[spec] = [{ HostIp: '', HostPort: '' }];
    }
    const handles: ProxyHandle[] = [];
    const ports: Record<string, PortBinding[] | null> = {};
    for (const spec of Object.keys(c.record.Config.ExposedPorts ?? {})) ports[spec] = null;
    try {
      for (const [spec, list] of Object.entries(bindings)) {
        const [portText = '', proto = 'tcp'] = spec.split('/');
        const containerPort = Number(portText);
        if (!Number.isInteger(containerPort) || containerPort <= 0 || containerPort > 65535) {
          throw new InvalidParameterError(`invalid port specification: "${spec}"`);
        }
        if (proto !== 'tcp' && proto !== 'udp')
          throw new InvalidParameterError(`unsupported protocol ${proto} for published port ${spec}`);
        const out: PortBinding[] = [];
        for (const b of list.length > 0 ? list : [{ HostIp: '', HostPort: '' }]) {
          const hostIp = b.HostIp || '0.0.0.0';
          const wantedPort = b.HostPort ? Number(b.HostPort.split('-')[0]) : 0;
          const handle = await this.bindPort(proto, hostIp, wantedPort, target, containerPort);
          handles.push(handle);
          if (this.deps.settings.iptables) {
            await this.deps.driver
              .addContainerPort(c.id, {
                proto,
                hostIp,
                hostPort: handle.port,
                containerIp: target,
                containerPort,
              })
              .catch((err: unknown) =>
                this.deps.logger.warn(
                  { err: errorMessage(err) },
                  'DNAT rule failed; the proxy still serves the port',
                ),
              );
          }
          out.push({ HostIp: hostIp, HostPort: String(handle.port) });
        }
        ports[spec] = out;
      }
    } catch (err) {
      for (const h of handles) await h.close().catch(() => undefined);
      throw err;
    }
    this.proxies.set(c.id, handles);
    settings.Ports = ports;
  }

  private async bindPort(
    proto: 'tcp' | 'udp',
    hostIp: string,
    hostPort: number,
    containerIp: string,
    containerPort: number,
  ): Promise<ProxyHandle> {
    if (hostPort > 0) {
      try {
        return await this.deps.driver.startProxy({ proto, hostIp, hostPort, containerIp, containerPort });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE' || /EADDRINUSE/.test(errorMessage(err))) {
          throw new ConflictError(`Bind for ${hostIp}:${hostPort} failed: port is already allocated`);
        }
        throw err;
      }
    }
    for (let attempt = 0; attempt < 50; attempt++) {
      const port = PORT_RANGE.min + Math.floor(Math.random() * (PORT_RANGE.max - PORT_RANGE.min));
      try {
        return await this.deps.driver.startProxy({
          proto,
          hostIp,
          hostPort: port,
          containerIp,
          containerPort,
        });
      } catch {
        // taken: try another
      }
    }
    throw new ConflictError('no free host port for a published port');
  }

  /** `POST /networks/{id}/connect` (running containers are wired at once; stopped ones at their next start). */
  async connect(
    ref: string,
    containerRef: string,
    config: { Aliases?: string[]; IPAMConfig?: { IPv4Address?: string } },
  ): Promise<void> {
    const net = this.get(ref);
    const c = this.deps.containers.get(containerRef);
    if (net.Driver !== 'bridge')
      throw new ForbiddenError(
        `container cannot be disconnected from host network or connected to host network`,
      );
    const mode = c.record.HostConfig.NetworkMode;
    if (mode === 'host' || mode === 'none' || mode.startsWith('container:')) {
      throw new ForbiddenError(
        `container sharing network namespace with another container or host cannot be connected to any other network`,
      );
    }
    const settings = (c.record.Network as ContainerNetwork | undefined) ?? emptySettings({});
    if (settings.Networks[net.Name]) {
      throw new ForbiddenError(`endpoint with name ${c.name} already exists in network ${net.Name}`);
    }
    const ep = blankEndpoint(net.Id);
    if (config.Aliases?.length) ep.Aliases = config.Aliases;
    if (config.IPAMConfig?.IPv4Address) ep.IPAMConfig = { IPv4Address: config.IPAMConfig.IPv4Address };
    settings.Networks[net.Name] = ep;
    c.record.Network = settings as unknown as Record<string, unknown>;
    if (c.state.Status === 'running' && net.bridge) {
      const pool = this.pools.get(net.Id);
      if (!pool) throw new NotFoundError(`network ${net.Name} has no address pool`);
      const ip = pool.allocate(ep.IPAMConfig?.IPv4Address);
      const prefix = Number(net.IPAM.Config[0]?.Subnet.split('/')[1] ?? 24);
      const hostVeth = `bv${randomBytes(5).toString('hex')}`;
      const ifIndex = Object.keys(settings.veths ?? {}).length;
      try {
        await this.deps.driver.connectNetns({
          hostName: hostVeth,
          bridge: net.bridge,
          netns: { pid: c.state.Pid },
          ifname: `eth${ifIndex}`,
          address: `${ip}/${prefix}`,
          gateway: undefined,
          mac: macFor(ip),
        });
      } catch (err) {
        pool.release(ip);
        delete settings.Networks[net.Name];
        throw err;
      }
      settings.veths = { ...(settings.veths ?? {}), [net.Name]: hostVeth };
      Object.assign(ep, {
        EndpointID: randomBytes(32).toString('hex'),
        Gateway: pool.gateway,
        IPAddress: ip,
        IPPrefixLen: prefix,
        MacAddress: macFor(ip),
        DNSNames: [c.name, c.id.slice(0, 12), ...(ep.Aliases ?? [])],
      });
      this.publishEndpoint(net, c, 'connect');
    }
    await this.deps.containers.deps.store.saveRecord(c.record);
  }

  async disconnect(ref: string, containerRef: string, force: boolean): Promise<void> {
    const net = this.get(ref);
    const c = this.deps.containers.find(containerRef);
    if (!c) {
      if (force) return;
      throw new NotFoundError(`No such container: ${containerRef}`);
    }
    const settings = c.record.Network as ContainerNetwork | undefined;
    const ep = settings?.Networks[net.Name];
    if (!settings || !ep)
      throw new ForbiddenError(`container ${c.id} is not connected to network ${net.Name}`);
    if (ep.IPAddress) this.pools.get(net.Id)?.release(ep.IPAddress);
    const veth = settings.veths?.[net.Name];
    if (veth) await this.deps.driver.deleteLink(veth).catch(() => undefined);
    delete settings.Networks[net.Name];
    if (settings.veths) delete settings.veths[net.Name];
    if (c.running || ep.IPAddress) this.publishEndpoint(net, c, 'disconnect');
    await this.deps.containers.deps.store.saveRecord(c.record);
  }

  // ---- DNS ----------------------------------------------------------------

  /** A records for a name on a network: container names, aliases and short IDs of containers on it. */
  private resolveName(net: NetworkRecord, name: string): string[] | undefined {
    const wanted = name.replace(/\.$/, '').toLowerCase();
    const out: string[] = [];
    for (const { container, endpoint } of this.endpointsOf(net)) {
      if (!endpoint.IPAddress) continue;
      const names = [
        container.name,
        container.id.slice(0, 12),
        container.record.Config.Hostname,
        ...(endpoint.Aliases ?? []),
      ];
      if (names.some((n) => n.toLowerCase() === wanted)) out.push(endpoint.IPAddress);
    }
    return out.length > 0 ? out : undefined;
  }

  // ---- helpers ------------------------------------------------------------

  private async save(net: NetworkRecord): Promise<void> {
    await writeFileAtomic(join(this.root, `${net.Id}.json`), JSON.stringify(net));
    this.networks.set(net.Id, net);
  }

  private publish(net: NetworkRecord, action: string): void {
    this.deps.events.publish({
      Type: 'network',
      Action: action,
      Actor: { ID: net.Id, Attributes: { name: net.Name, type: net.Driver } },
    });
  }

  private publishEndpoint(net: NetworkRecord, c: Container, action: 'connect' | 'disconnect'): void {
    this.deps.events.publish({
      Type: 'network',
      Action: action,
      Actor: { ID: net.Id, Attributes: { container: c.id, name: net.Name, type: net.Driver } },
    });
  }
}

function blankNetwork(name: string, driver: NetworkRecord['Driver']): NetworkRecord {
  return {
    Id: randomBytes(32).toString('hex'),
    Name: name,
    Created: new Date().toISOString(),
    Driver: driver,
    Internal: false,
    Attachable: false,
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: {}, Config: [] },
    Options: {},
    Labels: {},
  };
}

function blankEndpoint(networkId: string): EndpointSettings {
  return {
    IPAMConfig: null,
    Links: null,
    Aliases: null,
    MacAddress: '',
    DriverOpts: null,
    NetworkID: networkId,
    EndpointID: '',
    Gateway: '',
    IPAddress: '',
    IPPrefixLen: 0,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    DNSNames: null,
  };
}

function emptySettings(networks: Record<string, EndpointSettings>): ContainerNetwork {
  return {
    Networks: networks,
    Ports: {},
    SandboxKey: '',
    IPAddress: '',
    IPPrefixLen: 0,
    Gateway: '',
    MacAddress: '',
  };
}

function gatewayOf(subnet: Subnet, requested: string | undefined): string {
  if (requested) return requested;
  const n = subnet.network + 1;
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/** Docker's MAC for an address: 02:42 followed by the IPv4 bytes. */
export function macFor(ip: string): string {
  return ['02', '42', ...ip.split('.').map((p) => Number(p).toString(16).padStart(2, '0'))].join(':');
}
