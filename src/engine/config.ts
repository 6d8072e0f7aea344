/**
 * The engine's settings, already merged from flags, the config file and
 * defaults by the daemon. The engine never reads flags or files itself.
 */
export interface EngineConfig {
  /** Persistent state: images, containers, volumes, the event journal. */
  dataRoot: string;
  /** Runtime state that does not survive a reboot: bundles, sockets, pid files. */
  execRoot: string;
  /** OCI runtimes by name → binary path. */
  runtimes: Record<string, string>;
  /** The runtime for containers that do not name one; undefined = pick what works on this host. */
  defaultRuntime: string | undefined;
  conmonPath: string;
  /** Parent of every container's cgroup (`<parent>/<id>`). */
  cgroupParent: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  network: {
    /** Device name of the default bridge. */
    bridgeName: string;
    /** The default bridge's gateway address and prefix (dockerd's --bip). */
    bip: string | undefined;
    /** Pools new networks take subnets from (dockerd's --default-address-pool). */
    pools: { base: string; size: number }[];
    /** Manage iptables rules (forwarding, isolation, DNAT). */
    iptables: boolean;
    /** Masquerade traffic leaving the host from bridge networks. */
    ipMasq: boolean;
    /** Turn on the host's IPv4 forwarding (needed for containers to reach other hosts). */
    ipForward: boolean;
    /** DNS servers for containers and for the embedded DNS to forward to; empty = the host's. */
    dns: string[];
  };
  labels: string[];
  experimental: boolean;
  debug: boolean;
  liveRestore: boolean;
  insecureRegistries: string[];
  registryMirrors: string[];
  /** Event journal retention. */
  eventsRetentionAgeMs: number;
  eventsRetentionBytes: number;
}
