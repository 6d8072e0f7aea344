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
