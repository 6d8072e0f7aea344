import { hostNameservers, startDnsServer } from '../../runtime/net/dns.js';
import {
  createBridge,
  createNetnsFile,
  createVethIntoNetns,
  deleteLink,
  listRoutes,
  removeNetnsFile,
} from '../../runtime/net/ip.js';
import { Firewall, type PortMapping } from '../../runtime/net/iptables.js';
import { startProxy } from '../../runtime/net/proxy.js';
import type { DnsHandle, NetDriver, ProxyHandle } from './driver.js';

/**
 * The network driver on this host: iproute2 for bridges and veths, iptables
 * (in chains of this daemon's own prefix) for forwarding, isolation, DNAT and
 * masquerade, and in-daemon servers for the userland proxy and DNS.
 */
export class HostNetDriver implements NetDriver {
  private readonly firewall: Firewall;
  private readonly allowOutgoing: boolean;
  private readonly mappings = new Map<string, PortMapping[]>();
  private readonly bridgeOf: (containerIp: string) => string | undefined;

  constructor(prefix: string, allowOutgoing: boolean, bridgeOf: (containerIp: string) => string | undefined) {
    this.firewall = new Firewall(prefix);
    this.allowOutgoing = allowOutgoing;
    this.bridgeOf = bridgeOf;
  }

  async hostRoutes(): Promise<string[]> {
    return (await listRoutes()).map((r) => r.dst).filter((d) => d.includes('/'));
  }

  async createBridge(name: string, addressCidr: string, mtu: number): Promise<void> {
    await createBridge(name, { cidr: addressCidr, mtu });
  }

  async deleteLink(name: string): Promise<void> {
    await deleteLink(name);
  }

  createNetns(path: string): Promise<void> {
    return createNetnsFile(path);
  }

  removeNetns(path: string): Promise<void> {
    return removeNetnsFile(path);
  }

  async connectNetns(o: Parameters<NetDriver['connectNetns']>[0]): Promise<void> {
    await createVethIntoNetns({
      hostName: o.hostName,
      bridge: o.bridge,
      netns: o.netns,
      ifname: o.ifname,
      address: o.address,
      ...(o.gateway ? { gateway: o.gateway } : {}),
      mac: o.mac,
    });
  }

  /**
   * Starts the daemon's firewall from a clean slate: rules left by an earlier
   * run (a daemon killed with SIGKILL leaves its port mappings behind) are
   * removed, and the network service adds back what its records still need.
   */
  async ensureChains(): Promise<void> {
    await this.firewall.cleanup();
    await this.firewall.ensureChains();
  }

  allowBridge(bridge: string): Promise<void> {
    return this.firewall.allowBridge(bridge, { allowOutgoing: this.allowOutgoing });
  }

  isolateBridges(bridges: string[]): Promise<void> {
    return this.firewall.isolateBridges(bridges);
  }

  masquerade(subnet: string, bridge: string): Promise<void> {
    return this.firewall.enableMasquerade(subnet, bridge);
  }

  async forgetBridge(bridge: string, subnet: string): Promise<void> {
    await this.firewall.disallowBridge(bridge);
    if (subnet) await this.firewall.disableMasquerade(subnet, bridge).catch(() => undefined);
  }

  async addContainerPort(
    containerId: string,
    m: Parameters<NetDriver['addContainerPort']>[1],
  ): Promise<void> {
    const bridge = this.bridgeOf(m.containerIp);
    if (!bridge) return;
    const mapping: PortMapping = { ...m, bridge };
    await this.firewall.addPortMapping(mapping);
    this.mappings.set(containerId, [...(this.mappings.get(containerId) ?? []), mapping]);
  }

  async removeContainerPorts(containerId: string): Promise<void> {
    for (const m of this.mappings.get(containerId) ?? [])
      await this.firewall.removePortMapping(m).catch(() => undefined);
    this.mappings.delete(containerId);
  }

  async startProxy(o: Parameters<NetDriver['startProxy']>[0]): Promise<ProxyHandle> {
    const proxy = await startProxy(o);
    return { port: proxy.port, close: () => proxy.close() };
  }

  async startDns(
    address: string,
    resolve: (name: string) => string[] | undefined,
    upstream: string[],
  ): Promise<DnsHandle> {
    const servers = upstream.length > 0 ? upstream : await hostNameservers();
    const server = await startDnsServer({
      address,
      port: 53,
      resolve: (name) => resolve(name),
      upstream: servers,
    });
    return { close: () => server.close() };
  }
}
