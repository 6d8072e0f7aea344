/**
 * The flags of `run` and `create` and their mapping to the API's
 * ContainerCreateRequest, as docker/cli's cli/command/container/opts.go
 * (addFlags and parse) does it, with its validations and error messages.
 *
 * Values that pflag validates as it reads them (`-e`, `--dns`, `-m`…) are
 * checked by the commander parsers here and fail with `invalid argument "x"
 * for "-m, --memory" flag: …` (status 125); the rest is checked by
 * {@link parseContainerFlags}, whose errors the commands print as docker
 * does (`berth: …\n\nRun 'berth run --help' for more information`, 125).
 */
import { Option, type Command } from 'commander';

import type {
  ContainerCreateRequest,
  EndpointSettings,
  HealthConfig,
  HostConfig,
  Mount,
} from '../../api/types/index.js';
import { parseGoDuration } from './duration.js';
import { ContainerFlagError } from './flag-error.js';
import { listFlag, listOfFlag, valueFlag } from './flags.js';
import {
  kvStringsToMap,
  parseLoggingOpts,
  parseStorageOpts,
  processEnv,
  readFileBytes,
  readKVEnvStrings,
  readKVStrings,
  validateEnv,
  validateLabel,
  validateSysctl,
  type LookupEnv,
  type ReadFile,
} from './kv.js';
import {
  parseRestartPolicy,
  parseSecurityOpts,
  parseSystemPaths,
  parseUlimit,
  ulimitList,
  validCgroupnsMode,
  validPidMode,
  validUsernsMode,
  validUtsMode,
  validateAttach,
  validateDeviceCgroupRule,
  validateLink,
  type Ulimit,
} from './misc.js';
import { parseDevice, parseMount, parseTmpfs, splitVolumes } from './mounts.js';
import {
  convertToStandardNotation,
  isMacAddress,
  isUserDefinedNetwork,
  parseExposeRange,
  parseNetworkOpt,
  parsePortSpecs,
  validateDnsSearch,
  validateExtraHost,
  validateIpAddress,
  type NetworkAttachment,
} from './network.js';
import { memSwapBytes, parseCpus, parseInt64, parseUint16, ramInBytes } from './units.js';
export { ContainerFlagError };

/** The values of the container flags as commander collects them. */
export interface ContainerFlags {
  attach?: string[];
  addHost?: string[];
  annotation?: string[];
  blkioWeight?: number;
  capAdd?: string[];
  capDrop?: string[];
  cgroupParent?: string;
  cgroupns?: string;
  cidfile?: string;
  cpuPeriod?: number;
  cpuQuota?: number;
  cpuRtPeriod?: number;
  cpuRtRuntime?: number;
  cpuShares?: number;
  cpus?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
  device?: string[];
  deviceCgroupRule?: string[];
  dns?: string[];
  dnsOption?: string[];
  dnsOpt?: string[];
  dnsSearch?: string[];
  domainname?: string;
  entrypoint?: string;
  env?: string[];
  envFile?: string[];
  expose?: string[];
  groupAdd?: string[];
  healthCmd?: string;
  healthInterval?: number;
  healthRetries?: number;
  healthStartInterval?: number;
  healthStartPeriod?: number;
  healthTimeout?: number;
  /** false with `--no-healthcheck`. */
  healthcheck?: boolean;
  hostname?: string;
  init?: boolean;
  interactive?: boolean;
  ip?: string;
  ip6?: string;
  ipc?: string;
  isolation?: string;
  label?: string[];
  labelFile?: string[];
  link?: string[];
  logDriver?: string;
  logOpt?: string[];
  macAddress?: string;
  memory?: number;
  memoryReservation?: number;
  memorySwap?: number;
  memorySwappiness?: number;
  mount?: Mount[];
  net?: NetworkAttachment[];
  netAlias?: string[];
  network?: NetworkAttachment[];
  networkAlias?: string[];
  oomKillDisable?: boolean;
  oomScoreAdj?: number;
  pid?: string;
  pidsLimit?: number;
  privileged?: boolean;
  publish?: string[];
  publishAll?: boolean;
  readOnly?: boolean;
  restart?: string;
  rm?: boolean;
  runtime?: string;
  securityOpt?: string[];
  shmSize?: number;
  stopSignal?: string;
  stopTimeout?: number;
  storageOpt?: string[];
  sysctl?: string[];
  tmpfs?: string[];
  tty?: boolean;
  ulimit?: Ulimit[];
  user?: string;
  userns?: string;
  uts?: string;
  volume?: string[];
  volumeDriver?: string;
  volumesFrom?: string[];
  workdir?: string;
}

/** Where parsing reads the environment and files (replaceable in tests). */
export interface ParseEnvironment {
  lookupEnv?: LookupEnv;
  cwd?: string;
  readFile?: ReadFile;
  readText?: (path: string) => string;
}

/**
 * Adds docker's container flags (addFlags) to `run` or `create`. The
 * command keeps `--help` without `-h`, which is `--hostname` here.
 */
export function addContainerFlags(cmd: Command): Command {
  const list = (flags: string, description: string, validate?: (v: string) => string): void => {
    cmd.option(flags, description, listFlag(flags, validate));
  };
  const hidden = (flags: string, parse: (value: string, previous?: never) => unknown): void => {
    cmd.addOption(
      new Option(flags).hideHelp().argParser(parse as (value: string, previous: unknown) => unknown),
    );
  };
  const int = (flags: string, description: string, defaultValue?: number): void => {
    cmd.option(flags, description, valueFlag(flags, parseInt64), defaultValue);
  };
  const size = (flags: string, description: string): void => {
    cmd.option(flags, description, valueFlag(flags, ramInBytes));
  };
  const duration = (flags: string, description: string): void => {
    cmd.option(flags, description, valueFlag(flags, parseGoDuration));
  };

  // General purpose
  list('-a, --attach <stream>', 'attach to STDIN, STDOUT or STDERR', validateAttach);
  list('--device <device>', 'add a host device to the container');
  list(
    '--device-cgroup-rule <rule>',
    'add a rule to the cgroup allowed devices list',
    validateDeviceCgroupRule,
  );
  list('-e, --env <env>', 'set environment variables', (v) => validateEnv(v));
  list('--env-file <file>', 'read in a file of environment variables');
  cmd.option('--entrypoint <command>', 'overwrite the default ENTRYPOINT of the image');
  list('--group-add <group>', 'add additional groups to join');
  cmd.option('-h, --hostname <name>', 'container host name');
  cmd.option('--domainname <name>', 'container NIS domain name');
  cmd.option('-i, --interactive', 'keep STDIN open even if not attached');
  list('-l, --label <label>', 'set meta data on a container', validateLabel);
  list('--label-file <file>', 'read in a line delimited file of labels');
  cmd.option('--read-only', "mount the container's root filesystem as read only");
  cmd.option('--restart <policy>', 'restart policy to apply when a container exits', 'no');
  cmd.option('--stop-signal <signal>', 'signal to stop the container');
  int('--stop-timeout <seconds>', 'timeout (in seconds) to stop a container');
  list('--sysctl <map>', 'sysctl options', validateSysctl);
  cmd.option('-t, --tty', 'allocate a pseudo-TTY');
  cmd.option('--ulimit <ulimit>', 'ulimit options', listOfFlag('--ulimit <ulimit>', parseUlimit));
  cmd.option('-u, --user <user>', 'username or UID (format: <name|uid>[:<group|gid>])');
  cmd.option('-w, --workdir <dir>', 'working directory inside the container');
  cmd.option('--rm', 'automatically remove the container and its associated anonymous volumes when it exits');

  // Security
  list('--cap-add <cap>', 'add Linux capabilities');
  list('--cap-drop <cap>', 'drop Linux capabilities');
  cmd.option('--privileged', 'give extended privileges to this container');
  list('--security-opt <opt>', 'security options');
  cmd.option('--userns <mode>', 'user namespace to use');
  cmd.option('--cgroupns <mode>', 'cgroup namespace to use (host|private)');

  // Network and ports
  list('--add-host <host:ip>', 'add a custom host-to-IP mapping (host:ip)', validateExtraHost);
  list('--dns <ip>', 'set custom DNS servers', validateIpAddress);
  list('--dns-option <option>', 'set DNS options');
  hidden('--dns-opt <option>', listFlag('--dns-opt'));
  list('--dns-search <domain>', 'set custom DNS search domains', validateDnsSearch);
  list('--expose <port>', 'expose a port or a range of ports');
  cmd.option('--ip <address>', 'IPv4 address (e.g., 172.30.100.104)');
  cmd.option('--ip6 <address>', 'IPv6 address (e.g., 2001:db8::33)');
  list('--link <name:alias>', 'add link to another container', validateLink);
  cmd.option('--mac-address <mac>', 'container MAC address (e.g., 92:d0:c6:0a:29:33)');
  list('-p, --publish <port>', "publish a container's port(s) to the host");
  cmd.option('-P, --publish-all', 'publish all exposed ports to random ports');
  cmd.option(
    '--network <network>',
    'connect a container to a network',
    listOfFlag('--network', parseNetworkOpt),
  );
  hidden('--net <network>', listOfFlag('--net', parseNetworkOpt));
  list('--network-alias <alias>', 'add network-scoped alias for the container');
  hidden('--net-alias <alias>', listFlag('--net-alias'));

  // Logging and storage
  cmd.option('--log-driver <driver>', 'logging driver for the container');
  cmd.option('--volume-driver <driver>', 'optional volume driver for the container');
  list('--log-opt <opt>', 'log driver options');
  list('--storage-opt <opt>', 'storage driver options for the container');
  list('--tmpfs <path>', 'mount a tmpfs directory');
  list('--volumes-from <container>', 'mount volumes from the specified container(s)');
  list('-v, --volume <volume>', 'bind mount a volume');
  cmd.option(
    '--mount <mount>',
    'attach a filesystem mount to the container',
    listOfFlag('--mount', (v) => parseMount(v)),
  );

  // Health-checking
  cmd.option('--health-cmd <command>', 'command to run to check health');
  duration('--health-interval <duration>', 'time between running the check (ms|s|m|h) (default 0s)');
  int('--health-retries <n>', 'consecutive failures needed to report unhealthy');
  duration('--health-timeout <duration>', 'maximum time to allow one check to run (ms|s|m|h) (default 0s)');
  duration(
    '--health-start-period <duration>',
    'start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)',
  );
  duration(
    '--health-start-interval <duration>',
    'time between running the check during the start period (ms|s|m|h) (default 0s)',
  );
  cmd.option('--no-healthcheck', 'disable any container-specified HEALTHCHECK');

  // Resources
  cmd.option(
    '--blkio-weight <weight>',
    'block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)',
    valueFlag('--blkio-weight', parseUint16),
  );
  cmd.option('--cidfile <file>', 'write the container ID to the file');
  cmd.option('--cpuset-cpus <cpus>', 'CPUs in which to allow execution (0-3, 0,1)');
  cmd.option('--cpuset-mems <mems>', 'MEMs in which to allow execution (0-3, 0,1)');
  int('--cpu-period <n>', 'limit CPU CFS (Completely Fair Scheduler) period');
  int('--cpu-quota <n>', 'limit CPU CFS (Completely Fair Scheduler) quota');
  int('--cpu-rt-period <n>', 'limit CPU real-time period in microseconds');
  int('--cpu-rt-runtime <n>', 'limit CPU real-time runtime in microseconds');
  int('-c, --cpu-shares <n>', 'CPU shares (relative weight)');
  cmd.option('--cpus <decimal>', 'number of CPUs', valueFlag('--cpus', parseCpus));
  size('-m, --memory <bytes>', 'memory limit');
  size('--memory-reservation <bytes>', 'memory soft limit');
  cmd.option(
    '--memory-swap <bytes>',
    "swap limit equal to memory plus swap: '-1' to enable unlimited swap",
    valueFlag('--memory-swap', memSwapBytes),
  );
  int('--memory-swappiness <n>', 'tune container memory swappiness (0 to 100)', -1);
  cmd.option('--oom-kill-disable', 'disable OOM Killer');
  int('--oom-score-adj <n>', "tune host's OOM preferences (-1000 to 1000)");
  int('--pids-limit <n>', 'tune container pids limit (set -1 for unlimited)');

  // Low-level execution
  cmd.option('--cgroup-parent <parent>', 'optional parent cgroup for the container');
  cmd.option('--ipc <mode>', 'IPC mode to use');
  cmd.option('--isolation <technology>', 'container isolation technology');
  cmd.option('--pid <mode>', 'PID namespace to use');
  size('--shm-size <bytes>', 'size of /dev/shm');
  cmd.option('--uts <mode>', 'UTS namespace to use');
  cmd.option('--runtime <runtime>', 'runtime to use for this container');
  cmd.option('--init', 'run an init inside the container that forwards signals and reaps processes');
  list('--annotation <annotation>', 'add an annotation to the container (passed through to the OCI runtime)');
  hidden('--kernel-memory <bytes>', valueFlag('--kernel-memory', ramInBytes));
  return cmd;
}

const nonEmpty = <T>(values: readonly T[] | undefined): values is readonly T[] =>
  values !== undefined && values.length > 0;

function endpointFor(
  attachment: NetworkAttachment,
  flags: ContainerFlags,
  first: boolean,
): EndpointSettings | undefined {
  const n: NetworkAttachment = { ...attachment, aliases: [...attachment.aliases] };
  const aliases = [...(flags.networkAlias ?? []), ...(flags.netAlias ?? [])];
  if (first) {
    if (n.aliases.length > 0 && aliases.length > 0) {
      throw new ContainerFlagError(
        'conflicting options: cannot specify both --network-alias and per-network alias',
      );
    }
    if (n.ipv4Address !== undefined && flags.ip) {
      throw new ContainerFlagError(
        'conflicting options: cannot specify both --ip and per-network IPv4 address',
      );
    }
    if (n.ipv6Address !== undefined && flags.ip6) {
      throw new ContainerFlagError(
        'conflicting options: cannot specify both --ip6 and per-network IPv6 address',
      );
    }
    if (n.macAddress !== undefined && flags.macAddress) {
      throw new ContainerFlagError(
        'conflicting options: cannot specify both --mac-address and per-network MAC address',
      );
    }
    if (aliases.length > 0) n.aliases = aliases;
    if (isUserDefinedNetwork(n.target) && nonEmpty(flags.link)) n.links = [...flags.link];
    if (flags.ip) n.ipv4Address = flags.ip;
    if (flags.ip6) n.ipv6Address = flags.ip6;
    if (flags.macAddress) n.macAddress = flags.macAddress;
  }
  if (n.target.trim() === '') throw new ContainerFlagError('no name set for network');
  if (!isUserDefinedNetwork(n.target)) {
    if (n.aliases.length > 0) {
      throw new ContainerFlagError('network-scoped aliases are only supported for user-defined networks');
    }
    if (nonEmpty(n.links)) throw new ContainerFlagError('links are only supported for user-defined networks');
  }
  const ep: EndpointSettings = {};
  if (n.aliases.length > 0) ep.Aliases = n.aliases;
  if (n.driverOpts !== undefined) ep.DriverOpts = n.driverOpts;
  if (nonEmpty(n.links)) ep.Links = [...n.links];
  if (n.ipv4Address !== undefined || n.ipv6Address !== undefined || nonEmpty(n.linkLocalIps)) {
    ep.IPAMConfig = {
      ...(n.ipv4Address !== undefined ? { IPv4Address: n.ipv4Address } : {}),
      ...(n.ipv6Address !== undefined ? { IPv6Address: n.ipv6Address } : {}),
      ...(nonEmpty(n.linkLocalIps) ? { LinkLocalIPs: [...n.linkLocalIps] } : {}),
    };
  }
  if (n.macAddress !== undefined) {
    if (!isMacAddress(n.macAddress))
      throw new ContainerFlagError(`${n.macAddress} is not a valid mac address`);
    ep.MacAddress = n.macAddress.trim();
  }
  return Object.keys(ep).length === 0 ? undefined : ep;
}

/**
 * docker's parseNetworkOpts: the network mode (the first `--network`) and
 * the endpoint settings. With no `--network`, the other network flags
 * (`--ip`, `--network-alias`…) apply to the default network; with one
 * network and no options, no endpoint settings are sent.
 */
export function parseNetworkFlags(flags: ContainerFlags): {
  networkMode: string | undefined;
  endpoints: Record<string, EndpointSettings>;
} {
  const networks = [...(flags.network ?? []), ...(flags.net ?? [])];
  const endpoints: Record<string, EndpointSettings> = {};
  if (networks.length === 0) {
    const ep = endpointFor({ target: 'default', aliases: [] }, flags, true);
    if (ep) endpoints['default'] = ep;
    return { networkMode: undefined, endpoints };
  }
  let userDefined = false;
  let builtin = false;
  const seen = new Set<string>();
  networks.forEach((n, i) => {
    if (isUserDefinedNetwork(n.target)) userDefined = true;
    else builtin = true;
    const ep = endpointFor(n, flags, i === 0);
    if (seen.has(n.target)) {
      throw new ContainerFlagError(`network ${JSON.stringify(n.target)} is specified multiple times`);
    }
    seen.add(n.target);
    if (i === 0 && networks.length === 1 && ep === undefined) return;
    endpoints[n.target] = ep ?? {};
  });
  if (userDefined && builtin) {
    throw new ContainerFlagError(
      'conflicting options: cannot attach both user-defined and non-user-defined network-modes',
    );
  }
  return { networkMode: networks[0]?.target, endpoints };
}

function wrap<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ContainerFlagError) throw err;
    throw new ContainerFlagError((err as Error).message, { cause: err });
  }
}

/**
 * docker's parse(): the create request for `image` and its arguments.
 * @throws ContainerFlagError with docker's message.
 */
export function parseContainerFlags(
  flags: ContainerFlags,
  image: string,
  args: readonly string[],
  env: ParseEnvironment = {},
): ContainerCreateRequest {
  const lookupEnv = env.lookupEnv ?? processEnv;
  const readFile = env.readFile ?? readFileBytes;
  return wrap(() => {
    if (flags.macAddress && !isMacAddress(flags.macAddress)) {
      throw new ContainerFlagError(`${flags.macAddress} is not a valid mac address`);
    }
    const attach = flags.attach ?? [];
    let attachStdin = attach.includes('stdin');
    let attachStdout = attach.includes('stdout');
    let attachStderr = attach.includes('stderr');
    if (flags.interactive) attachStdin = true;
    if (attach.length === 0) {
      attachStdout = true;
      attachStderr = true;
    }
    const swappiness = flags.memorySwappiness ?? -1;
    if (swappiness !== -1 && (swappiness < 0 || swappiness > 100)) {
      throw new ContainerFlagError(`invalid value: ${swappiness}. Valid memory swappiness range is 0-100`);
    }
    const { binds, volumes } = splitVolumes(flags.volume ?? [], env.cwd);
    const tmpfs = parseTmpfs(flags.tmpfs ?? []);

    let entrypoint: string[] | undefined;
    if (flags.entrypoint !== undefined) entrypoint = [flags.entrypoint];

    const { exposed, bindings } = parsePortSpecs(convertToStandardNotation(flags.publish ?? []));
    const exposedPorts: Record<string, Record<string, never>> = {};
    for (const p of exposed) exposedPorts[p] = {};
    for (const e of flags.expose ?? []) {
      let ports: string[];
      if (e.includes(':')) throw new ContainerFlagError(`invalid port format for --expose: ${e}`);
      try {
        ports = parseExposeRange(e);
      } catch (err) {
        throw new ContainerFlagError(
          `invalid range format for --expose: ${e}, error: ${(err as Error).message}`,
        );
      }
      for (const p of ports) exposedPorts[p] = {};
    }
    const devices = (flags.device ?? []).map((d) => parseDevice(d));

    let envVars: string[];
    try {
      envVars = readKVEnvStrings(flags.envFile ?? [], flags.env ?? [], lookupEnv, readFile);
    } catch (err) {
      throw new ContainerFlagError((err as Error).message);
    }
    let labels: string[];
    try {
      labels = readKVStrings(flags.labelFile ?? [], flags.label ?? [], readFile);
    } catch (err) {
      throw new ContainerFlagError((err as Error).message);
    }
    if (!validPidMode(flags.pid ?? '')) throw new ContainerFlagError('--pid: invalid PID mode');
    if (!validUtsMode(flags.uts ?? '')) throw new ContainerFlagError('--uts: invalid UTS mode');
    if (!validUsernsMode(flags.userns ?? '')) throw new ContainerFlagError('--userns: invalid USER mode');
    if (!validCgroupnsMode(flags.cgroupns ?? '')) {
      throw new ContainerFlagError('--cgroupns: invalid CGROUP mode');
    }
    const restartPolicy = parseRestartPolicy(flags.restart ?? '');
    const logConfig = parseLoggingOpts(flags.logDriver ?? '', flags.logOpt ?? []);
    const system = parseSystemPaths(parseSecurityOpts(flags.securityOpt ?? [], env.readText));
    const storageOpts = parseStorageOpts(flags.storageOpt ?? []);

    let healthcheck: HealthConfig | undefined;
    const haveHealth =
      (flags.healthCmd ?? '') !== '' ||
      (flags.healthInterval ?? 0) !== 0 ||
      (flags.healthTimeout ?? 0) !== 0 ||
      (flags.healthStartPeriod ?? 0) !== 0 ||
      (flags.healthRetries ?? 0) !== 0 ||
      (flags.healthStartInterval ?? 0) !== 0;
    if (flags.healthcheck === false) {
      if (haveHealth) throw new ContainerFlagError('--no-healthcheck conflicts with --health-* options');
      healthcheck = { Test: ['NONE'] };
    } else if (haveHealth) {
      if ((flags.healthInterval ?? 0) < 0)
        throw new ContainerFlagError('--health-interval cannot be negative');
      if ((flags.healthTimeout ?? 0) < 0) throw new ContainerFlagError('--health-timeout cannot be negative');
      if ((flags.healthRetries ?? 0) < 0) throw new ContainerFlagError('--health-retries cannot be negative');
      if ((flags.healthStartPeriod ?? 0) < 0) {
        throw new ContainerFlagError('--health-start-period cannot be negative');
      }
      if ((flags.healthStartInterval ?? 0) < 0) {
        throw new ContainerFlagError('--health-start-interval cannot be negative');
      }
      // The API's HealthConfig leaves out zero values (Go's omitempty).
      healthcheck = {};
      if (flags.healthCmd) healthcheck.Test = ['CMD-SHELL', flags.healthCmd];
      if (flags.healthInterval) healthcheck.Interval = flags.healthInterval;
      if (flags.healthTimeout) healthcheck.Timeout = flags.healthTimeout;
      if (flags.healthStartPeriod) healthcheck.StartPeriod = flags.healthStartPeriod;
      if (flags.healthStartInterval) healthcheck.StartInterval = flags.healthStartInterval;
      if (flags.healthRetries) healthcheck.Retries = flags.healthRetries;
    }

    const config: ContainerCreateRequest = {
      Hostname: flags.hostname ?? '',
      Domainname: flags.domainname ?? '',
      User: flags.user ?? '',
      AttachStdin: attachStdin,
      AttachStdout: attachStdout,
      AttachStderr: attachStderr,
      Tty: flags.tty === true,
      OpenStdin: flags.interactive === true,
      StdinOnce: false,
      Image: image,
    };
    if (Object.keys(exposedPorts).length > 0) config.ExposedPorts = exposedPorts;
    if (envVars.length > 0) config.Env = envVars;
    if (args.length > 0) config.Cmd = [...args];
    if (Object.keys(volumes).length > 0) config.Volumes = volumes;
    if (entrypoint) config.Entrypoint = entrypoint;
    if (flags.workdir) config.WorkingDir = flags.workdir;
    if (labels.length > 0) config.Labels = kvStringsToMap(labels);
    if (flags.stopSignal) config.StopSignal = flags.stopSignal;
    if (flags.stopTimeout !== undefined) config.StopTimeout = flags.stopTimeout;
    if (healthcheck) config.Healthcheck = healthcheck;
    if (config.OpenStdin && config.AttachStdin) config.StdinOnce = true;

    const host: HostConfig = {};
    if (binds.length > 0) host.Binds = binds;
    if (flags.cidfile) host.ContainerIDFile = flags.cidfile;
    if (flags.oomScoreAdj) host.OomScoreAdj = flags.oomScoreAdj;
    if (flags.rm) host.AutoRemove = true;
    if (flags.privileged) host.Privileged = true;
    if (Object.keys(bindings).length > 0) host.PortBindings = bindings;
    if (nonEmpty(flags.link)) host.Links = [...flags.link];
    if (flags.publishAll) host.PublishAllPorts = true;
    if (nonEmpty(flags.dns)) host.Dns = [...flags.dns];
    if (nonEmpty(flags.dnsSearch)) host.DnsSearch = [...flags.dnsSearch];
    const dnsOptions = [...(flags.dnsOption ?? []), ...(flags.dnsOpt ?? [])];
    if (dnsOptions.length > 0) host.DnsOptions = dnsOptions;
    if (nonEmpty(flags.addHost)) host.ExtraHosts = [...flags.addHost];
    if (nonEmpty(flags.volumesFrom)) host.VolumesFrom = [...flags.volumesFrom];
    if (flags.ipc) host.IpcMode = flags.ipc;
    if (flags.pid) host.PidMode = flags.pid;
    if (flags.uts) host.UTSMode = flags.uts;
    if (flags.userns) host.UsernsMode = flags.userns;
    if (flags.cgroupns) host.CgroupnsMode = flags.cgroupns as HostConfig['CgroupnsMode'];
    if (nonEmpty(flags.capAdd)) host.CapAdd = [...flags.capAdd];
    if (nonEmpty(flags.capDrop)) host.CapDrop = [...flags.capDrop];
    if (nonEmpty(flags.groupAdd)) host.GroupAdd = [...flags.groupAdd];
    host.RestartPolicy = restartPolicy;
    if (system.securityOpts.length > 0) host.SecurityOpt = system.securityOpts;
    if (Object.keys(storageOpts).length > 0) host.StorageOpt = storageOpts;
    if (flags.readOnly) host.ReadonlyRootfs = true;
    if (flags.logDriver || Object.keys(logConfig).length > 0) {
      host.LogConfig = {
        Type: (flags.logDriver ?? '') as NonNullable<HostConfig['LogConfig']>['Type'],
        Config: logConfig,
      };
    }
    if (flags.volumeDriver) host.VolumeDriver = flags.volumeDriver;
    if (flags.isolation) host.Isolation = flags.isolation as HostConfig['Isolation'];
    if (flags.shmSize) host.ShmSize = flags.shmSize;
    if (Object.keys(tmpfs).length > 0) host.Tmpfs = tmpfs;
    if (nonEmpty(flags.sysctl)) host.Sysctls = kvStringsToMap(flags.sysctl);
    if (flags.runtime) host.Runtime = flags.runtime;
    if (nonEmpty(flags.mount)) host.Mounts = [...flags.mount];
    if (system.unconfined) {
      host.MaskedPaths = [];
      host.ReadonlyPaths = [];
    }
    if (nonEmpty(flags.annotation)) host.Annotations = kvStringsToMap(flags.annotation);
    // Resources
    if (flags.cgroupParent) host.CgroupParent = flags.cgroupParent;
    if (flags.memory) host.Memory = flags.memory;
    if (flags.memoryReservation) host.MemoryReservation = flags.memoryReservation;
    if (flags.memorySwap) host.MemorySwap = flags.memorySwap;
    if (swappiness !== -1) host.MemorySwappiness = swappiness;
    host.OomKillDisable = flags.oomKillDisable === true;
    if (flags.cpus) host.NanoCpus = flags.cpus;
    if (flags.cpuShares) host.CpuShares = flags.cpuShares;
    if (flags.cpuPeriod) host.CpuPeriod = flags.cpuPeriod;
    if (flags.cpusetCpus) host.CpusetCpus = flags.cpusetCpus;
    if (flags.cpusetMems) host.CpusetMems = flags.cpusetMems;
    if (flags.cpuQuota) host.CpuQuota = flags.cpuQuota;
    if (flags.cpuRtPeriod) host.CpuRealtimePeriod = flags.cpuRtPeriod;
    if (flags.cpuRtRuntime) host.CpuRealtimeRuntime = flags.cpuRtRuntime;
    host.PidsLimit = flags.pidsLimit ?? 0;
    if (flags.blkioWeight) host.BlkioWeight = flags.blkioWeight;
    host.Ulimits = ulimitList(flags.ulimit ?? []);
    if (nonEmpty(flags.deviceCgroupRule)) host.DeviceCgroupRules = [...flags.deviceCgroupRule];
    if (devices.length > 0) host.Devices = devices;

    const policyName = restartPolicy.Name ?? '';
    if (flags.rm && policyName !== '' && policyName !== 'no') {
      throw new ContainerFlagError('conflicting options: cannot specify both --restart and --rm');
    }
    if (flags.init !== undefined) host.Init = flags.init;

    const { networkMode, endpoints } = parseNetworkFlags(flags);
    if (networkMode !== undefined) host.NetworkMode = networkMode;
    config.HostConfig = host;
    if (Object.keys(endpoints).length > 0) config.NetworkingConfig = { EndpointsConfig: endpoints };
    return config;
  });
}
