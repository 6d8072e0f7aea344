import { Command, Option } from 'commander';

import { buildStamp } from '../build-info.js';
import { errorMessage } from '../errors.js';
import { createLogger, LOG_LEVELS, type Logger } from '../util/log.js';
import {
  DEFAULT_CONFIG_FILE,
  DEFAULT_SOCKET,
  mergeSettings,
  readConfigFile,
  type DaemonConfig,
  type RawSettings,
} from './config.js';
import { Daemon } from './daemon.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

interface Flags {
  host?: string[];
  dataRoot?: string;
  execRoot?: string;
  pidfile?: string;
  logLevel?: string;
  debug?: boolean;
  configFile?: string;
  group?: string;
  shutdownTimeout?: string;
  defaultRuntime?: string;
  addRuntime?: string[];
  conmon?: string;
  cgroupParent?: string;
  bridge?: string;
  bip?: string;
  defaultAddressPool?: string[];
  iptables?: boolean;
  ipMasq?: boolean;
  ipForward?: boolean;
  dns?: string[];
  label?: string[];
  experimental?: boolean;
  liveRestore?: boolean;
  insecureRegistry?: string[];
  registryMirror?: string[];
  eventsRetentionAge?: string;
  eventsRetentionSize?: string;
}

function program(): Command {
  return new Command('berthd')
    .description(
      'berth daemon: serves the Docker Engine API and runs containers on conmon and an OCI runtime',
    )
    .version(buildStamp().version, '-v, --version', 'print version information and quit')
    .helpOption('-h, --help', 'print usage')
    .option(
      '-H, --host <address>',
      `daemon socket to listen on (repeatable; default unix://${DEFAULT_SOCKET})`,
      collect,
    )
    .option('--data-root <dir>', 'root of persistent state (default /var/lib/berth)')
    .option('--exec-root <dir>', 'root of runtime state (default /run/berth)')
    .option('-p, --pidfile <path>', 'path of the daemon pid file (default /run/berth/berthd.pid)')
    .addOption(new Option('-l, --log-level <level>', 'log level (default info)').choices(LOG_LEVELS))
    .option('-D, --debug', 'enable debug mode')
    .option('--config-file <path>', `daemon configuration file (default ${DEFAULT_CONFIG_FILE})`)
    .option('-G, --group <group>', 'group owning the unix sockets (default docker)')
    .option('--shutdown-timeout <seconds>', 'seconds in-flight requests get on shutdown (default 15)')
    .option('--default-runtime <name>', 'OCI runtime for containers (default: runc where crun cannot run)')
    .option('--add-runtime <name=path>', 'register an OCI runtime (repeatable)', collect)
    .option('--conmon <path>', 'conmon binary (default conmon on PATH)')
    .option('--cgroup-parent <path>', 'parent cgroup of all containers (default /berth)')
    .option('-b, --bridge <name>', 'device name of the default bridge network (default berth0)')
    .option('--bip <cidr>', 'address and prefix of the default bridge, e.g. 172.17.0.1/16')
    .option('--default-address-pool <base=cidr,size=n>', 'pool for new networks (repeatable)', collect)
    .option('--iptables', 'manage iptables rules (default true)')
    .option('--no-iptables', 'do not manage iptables rules')
    .option('--ip-masq', 'masquerade outbound traffic of bridge networks (default true)')
    .option('--no-ip-masq', 'do not masquerade outbound traffic')
    .option(
      '--ip-forward',
      'enable the host IPv4 forwarding containers need to reach other hosts (default true)',
    )
    .option('--no-ip-forward', 'leave the host IPv4 forwarding setting alone')
    .option(
      '--dns <address>',
      'DNS server for containers and for the embedded DNS to forward to (repeatable)',
      collect,
    )
    .option('--label <key=value>', 'daemon label (repeatable)', collect)
    .option('--experimental', 'enable experimental features')
    .option('--live-restore', 'keep containers running while the daemon is down (always on in berth)')
    .option('--insecure-registry <host>', 'registry reached over plain HTTP (repeatable)', collect)
    .option('--registry-mirror <url>', 'mirror for docker.io (repeatable)', collect)
    .option('--events-retention-age <duration>', 'keep events this long, e.g. 168h (default 168h)')
    .option(
      '--events-retention-size <size>',
      'keep at most this much event journal, e.g. 128MiB (default 128MiB)',
    )
    .showHelpAfterError();
}

/** Flag values in daemon.json terms; only flags the user gave. */
function flagSettings(flags: Flags): RawSettings {
  const out: RawSettings = {};
  const set = (key: keyof RawSettings, value: unknown): void => {
    if (value !== undefined) out[key] = value;
  };
  set('hosts', flags.host);
  set('data-root', flags.dataRoot);
  set('exec-root', flags.execRoot);
  set('pidfile', flags.pidfile);
  set('log-level', flags.logLevel);
  set('debug', flags.debug);
  set('group', flags.group);
  if (flags.shutdownTimeout !== undefined) {
    const seconds = Number(flags.shutdownTimeout);
    if (!Number.isFinite(seconds)) throw new Error(`invalid --shutdown-timeout: ${flags.shutdownTimeout}`);
    set('shutdown-timeout', seconds);
  }
  set('default-runtime', flags.defaultRuntime);
  if (flags.addRuntime) {
    const runtimes: Record<string, { path: string }> = {};
    for (const spec of flags.addRuntime) {
      const eq = spec.indexOf('=');
      if (eq <= 0) throw new Error(`invalid --add-runtime ${spec}: expected name=path`);
      runtimes[spec.slice(0, eq)] = { path: spec.slice(eq + 1) };
    }
    set('runtimes', runtimes);
  }
  set('conmon', flags.conmon);
  set('cgroup-parent', flags.cgroupParent);
  set('bridge', flags.bridge);
  set('bip', flags.bip);
  if (flags.defaultAddressPool) {
    set(
      'default-address-pools',
      flags.defaultAddressPool.map((spec) => {
        const fields = Object.fromEntries(spec.split(',').map((kv) => kv.split('=') as [string, string]));
        if (!fields['base'] || !fields['size'])
          throw new Error(`invalid --default-address-pool ${spec}: expected base=<cidr>,size=<n>`);
        return { base: fields['base'], size: Number(fields['size']) };
      }),
    );
  }
  if (process.argv.some((a) => a === '--iptables' || a === '--no-iptables')) set('iptables', flags.iptables);
  if (process.argv.some((a) => a === '--ip-masq' || a === '--no-ip-masq')) set('ip-masq', flags.ipMasq);
  if (process.argv.some((a) => a === '--ip-forward' || a === '--no-ip-forward'))
    set('ip-forward', flags.ipForward);
  set('dns', flags.dns);
  set('labels', flags.label);
  set('experimental', flags.experimental);
  set('live-restore', flags.liveRestore);
  set('insecure-registries', flags.insecureRegistry);
  set('registry-mirrors', flags.registryMirror);
  set('events-retention-age', flags.eventsRetentionAge);
  set('events-retention-size', flags.eventsRetentionSize);
  return out;
}

async function loadConfig(flags: Flags): Promise<DaemonConfig> {
  const configFile = flags.configFile ?? DEFAULT_CONFIG_FILE;
  const file = await readConfigFile(configFile, flags.configFile !== undefined);
  return mergeSettings(flagSettings(flags), file, configFile);
}

/** Runs berthd until SIGTERM/SIGINT; SIGHUP reloads the configuration file. */
export async function main(argv: string[]): Promise<void> {
  const cmd = program();
  cmd.parse(argv);
  const flags = cmd.opts<Flags>();

  let config: DaemonConfig;
  try {
    config = await loadConfig(flags);
  } catch (err) {
    process.stderr.write(`berthd: ${errorMessage(err)}\n`);
    process.exit(1);
  }
  const logger = createLogger(config.logLevel);

  let daemon: Daemon;
  try {
    daemon = await Daemon.start(config, logger);
  } catch (err) {
    logger.fatal({ err: errorMessage(err) }, 'berthd failed to start');
    process.stderr.write(`berthd: ${errorMessage(err)}\n`);
    process.exit(1);
  }
  installSignalHandlers(daemon, flags, logger);
}

function installSignalHandlers(daemon: Daemon, flags: Flags, logger: Logger): void {
  let signalled = 0;
  const shutdown = (signal: NodeJS.Signals): void => {
    signalled++;
    if (signalled > 2) {
      logger.warn(`received ${signal} again; exiting now`);
      process.exit(1);
    }
    if (signalled > 1) return;
    logger.info(`received ${signal}`);
    daemon.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  process.on('SIGHUP', () => {
    loadConfig(flags)
      .then((next) => daemon.reload(next))
      .catch((err: unknown) =>
        logger.error({ err: errorMessage(err) }, 'configuration reload failed; keeping the old one'),
      );
  });
  process.on('SIGPIPE', () => undefined);
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason }, 'unhandled promise rejection');
  });
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception; shutting down');
    void daemon.stop().finally(() => process.exit(1));
  });
}
