/** A network as berth keeps it (`<data-root>/networks/<id>.json`), in Docker's field names. */
export interface NetworkRecord {
  Id: string;
  Name: string;
  Created: string;
  Driver: 'bridge' | 'host' | 'null';
  Internal: boolean;
  Attachable: boolean;
  EnableIPv6: boolean;
  IPAM: {
    Driver: string;
    Options: Record<string, string>;
    Config: { Subnet: string; Gateway: string; IPRange?: string }[];
  };
  Options: Record<string, string>;
  Labels: Record<string, string>;
  /** The Linux bridge (bridge driver only). */
  bridge?: string;
  /** The default `bridge` network (no embedded DNS, /etc/hosts only). */
  isDefault?: boolean;
}

/** A container's endpoint on a network, as inspect's NetworkSettings.Networks shows it. */
export interface EndpointSettings {
  IPAMConfig: { IPv4Address?: string } | null;
  Links: string[] | null;
  Aliases: string[] | null;
  MacAddress: string;
  DriverOpts: Record<string, string> | null;
  NetworkID: string;
  EndpointID: string;
  Gateway: string;
  IPAddress: string;
  IPPrefixLen: number;
  IPv6Gateway: string;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
  DNSNames: string[] | null;
}

export interface PortBinding {
  HostIp: string;
  HostPort: string;
}

/** What the container record carries about networking (record.Network). */
export interface ContainerNetwork {
  Networks: Record<string, EndpointSettings>;
  Ports: Record<string, PortBinding[] | null>;
  SandboxKey: string;
  IPAddress: string;
  IPPrefixLen: number;
  Gateway: string;
  MacAddress: string;
  /** Host-side veth names by network name, for cleanup. */
  veths?: Record<string, string>;
}

export const PREDEFINED = ['bridge', 'host', 'none'];
