/** What the network service needs from the host (src/runtime/net), kept small so Docker semantics read apart from netlink and iptables details. */
export interface ProxyHandle {
  port: number;
  close(): Promise<void>;
}

export interface DnsHandle {
  close(): Promise<void>;
}

export interface NetDriver {
  /** Routes on the host, as CIDRs, so new subnets avoid them. */
  hostRoutes(): Promise<string[]>;
  createBridge(name: string, addressCidr: string, mtu: number): Promise<void>;
  deleteLink(name: string): Promise<void>;
  /** A new network namespace pinned by a bind mount on `path` (see runtime/net/ip.ts createNetnsFile). */
  createNetns(path: string): Promise<void>;
  /** Unmounts and deletes such a namespace file; idempotent. */
  removeNetns(path: string): Promise<void>;
  connectNetns(o: {
    hostName: string;
    bridge: string;
    /** A process in the namespace, or the namespace's file. */
    netns: { pid: number } | { path: string };
    ifname: string;
    address: string;
    gateway: string | undefined;
    mac: string;
  }): Promise<void>;
  ensureChains(): Promise<void>;
  allowBridge(bridge: string): Promise<void>;
  isolateBridges(bridges: string[]): Promise<void>;
  masquerade(subnet: string, bridge: string): Promise<void>;
  forgetBridge(bridge: string, subnet: string): Promise<void>;
  addContainerPort(
    containerId: string,
    m: { proto: 'tcp' | 'udp'; hostIp: string; hostPort: number; containerIp: string; containerPort: number },
  ): Promise<void>;
  removeContainerPorts(containerId: string): Promise<void>;
  startProxy(o: {
    proto: 'tcp' | 'udp';
    hostIp: string;
    hostPort: number;
    containerIp: string;
    containerPort: number;
  }): Promise<ProxyHandle>;
  /** `upstream` empty = the host's nameservers. */
  startDns(
    address: string,
    resolve: (name: string) => string[] | undefined,
    upstream: string[],
  ): Promise<DnsHandle>;
}
