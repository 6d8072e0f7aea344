import { readFile } from 'node:fs/promises';

import type { EngineConfig } from '../engine/config.js';
import { InvalidParameterError } from '../errors.js';
import { isLogLevel, type LogLevel } from '../util/log.js';
import { parseGoDuration } from '../util/time.js';
import { parseBytes } from '../util/units.js';

/**
 * berthd's configuration: command-line flags, a daemon.json-style file and
 * embedded defaults, merged as dockerd does it. A setting given both as a
 * flag and in the file is an error, and so is an unknown key in the file.
 */

export const DEFAULT_SOCKET = '/run/berth/berth.sock';
export const DEFAULT_CONFIG_FILE = '/etc/berth/daemon.json';

export interface DaemonConfig {
  hosts: string[];
  pidfile: string;
  logLevel: LogLevel;
  group: string;
  /** Seconds in-flight requests get to finish on shutdown. */
  shutdownTimeout: number;
  configFile: string;
  engine: EngineConfig;
}

/** Setting values as flags or the file give them, keyed by daemon.json name. */
export type RawSettings = Partial<Record<SettingKey, unknown>>;

/** Every daemon.json key berth knows, with its type. */
const SETTINGS = {
  hosts: 'strings',
  'data-root': 'string',
  'exec-root': 'string',
  pidfile: 'string',
  'log-level': 'string',
  debug: 'boolean',
  group: 'string',
  'shutdown-timeout': 'number',
  'default-runtime': 'string',
  runtimes: 'runtimes',
  conmon: 'string',
  'cgroup-parent': 'string',
  bridge: 'string',
  bip: 'string',
  'default-address-pools': 'pools',
  iptables: 'boolean',
  'ip-masq': 'boolean',
  'ip-forward': 'boolean',
  dns: 'strings',
  labels: 'strings',
  experimental: 'boolean',
  'live-restore': 'boolean',
  'insecure-registries': 'strings',
  'registry-mirrors': 'strings',
  'events-retention-age': 'string',
  'events-retention-size': 'string',
} as const;

export type SettingKey = keyof typeof SETTINGS;

export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];

/** Reads a daemon.json. A missing file is fine only when it is the default one. */
export async function readConfigFile(path: string, explicit: boolean): Promise<RawSettings> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (!explicit && (err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new InvalidParameterError(
      `unable to configure the berth daemon with file ${path}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new InvalidParameterError(
      `unable to configure the berth daemon with file ${path}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new InvalidParameterError(
      `unable to configure the berth daemon with file ${path}: not a JSON object`,
    );
  }
  const unknown = Object.keys(parsed).filter((k) => !(k in SETTINGS));
  if (unknown.length > 0) {
    throw new InvalidParameterError(
      `unable to configure the berth daemon with file ${path}: the following directives don't match any configuration option: ${unknown.join(', ')}`,
    );
  }
  const settings = parsed as Record<string, unknown>;
  for (const [key, value] of Object.entries(settings)) checkType(key as SettingKey, value, path);
  return settings;
}

function checkType(key: SettingKey, value: unknown, source: string): void {
  const kind = SETTINGS[key];
  const ok =
    (kind === 'string' && typeof value === 'string') ||
    (kind === 'boolean' && typeof value === 'boolean') ||
    (kind === 'number' && typeof value === 'number' && Number.isFinite(value)) ||
    (kind === 'strings' && Array.isArray(value) && value.every((v) => typeof v === 'string')) ||
    (kind === 'pools' &&
      Array.isArray(value) &&
      value.every(
        (p) =>
          p !== null &&
          typeof p === 'object' &&
          typeof (p as { base?: unknown }).base === 'string' &&
          typeof (p as { size?: unknown }).size === 'number',
      )) ||
    (kind === 'runtimes' &&
      value !== null &&
      typeof value === 'object' &&
      Object.values(value).every(
        (r) => r !== null && typeof r === 'object' && typeof (r as { path?: unknown }).path === 'string',
      ));
  if (!ok) {
    throw new InvalidParameterError(
      `unable to configure the berth daemon with file ${source}: ${key}: expected ${kind === 'strings' ? 'a list of strings' : kind === 'runtimes' ? 'an object of {"path": ...}' : `a ${kind}`}`,
    );
  }
}

/**
 * Merges flags over the file over the defaults. Conflicting keys are listed
 * in one error, in dockerd's words.
 */
export function mergeSettings(flags: RawSettings, file: RawSettings, configFile: string): DaemonConfig {
  const conflicts = SETTING_KEYS.filter((k) => flags[k] !== undefined && file[k] !== undefined);
  if (conflicts.length > 0) {
    const detail = conflicts
      .map((k) => `${k}: (from flag: ${show(flags[k])}, from file: ${show(file[k])})`)
      .join(', ');
    throw new InvalidParameterError(
      `the following directives are specified both as a flag and in the configuration file: ${detail}`,
    );
  }
  const pick = <T>(key: SettingKey, fallback: T): T => (flags[key] ?? file[key] ?? fallback) as T;

  const debug = pick('debug', false);
  const logLevel = pick<string>('log-level', debug ? 'debug' : 'info');
  if (!isLogLevel(logLevel)) {
    throw new InvalidParameterError(`unable to parse logging level: ${logLevel}`);
  }
  const ageText = pick<string>('events-retention-age', '168h');
  const age = parseGoDuration(ageText);
  if (age === undefined || age <= 0n) {
    throw new InvalidParameterError(`invalid events-retention-age: ${ageText} (a duration such as 168h)`);
  }
  const sizeText = pick<string>('events-retention-size', '128MiB');
  const size = parseBytes(sizeText);
  if (size === undefined || size < 64 * 1024) {
    throw new InvalidParameterError(`invalid events-retention-size: ${sizeText} (a size of at least 64KiB)`);
  }
  const shutdownTimeout = pick('shutdown-timeout', 15);
  if (shutdownTimeout < 0) throw new InvalidParameterError('shutdown-timeout must not be negative');

  const runtimes: Record<string, string> = { runc: 'runc', crun: 'crun' };
  for (const [name, r] of Object.entries(pick<Record<string, { path: string }>>('runtimes', {}))) {
    runtimes[name] = r.path;
  }
  const defaultRuntime = pick<string | undefined>('default-runtime', undefined);
  if (defaultRuntime !== undefined && !(defaultRuntime in runtimes)) {
    throw new InvalidParameterError(`default runtime ${defaultRuntime} is not configured`);
  }
  const hosts = pick<string[]>('hosts', []);
  return {
    hosts: hosts.length > 0 ? hosts : [`unix://${DEFAULT_SOCKET}`],
    pidfile: pick('pidfile', '/run/berth/berthd.pid'),
    logLevel,
    group: pick('group', 'docker'),
    shutdownTimeout,
    configFile,
    engine: {
      dataRoot: pick('data-root', '/var/lib/berth'),
      execRoot: pick('exec-root', '/run/berth'),
      runtimes,
      defaultRuntime,
      conmonPath: pick('conmon', 'conmon'),
      cgroupParent: pick('cgroup-parent', '/berth'),
      network: {
        bridgeName: pick('bridge', 'berth0'),
        bip: pick<string | undefined>('bip', undefined),
        pools: pick<{ base: string; size: number }[]>('default-address-pools', []),
        iptables: pick('iptables', true),
        ipMasq: pick('ip-masq', true),
        ipForward: pick('ip-forward', true),
        dns: pick<string[]>('dns', []),
      },
      logLevel,
      labels: pick('labels', []),
      experimental: pick('experimental', false),
      debug: debug || logLevel === 'debug',
      liveRestore: pick('live-restore', true),
      insecureRegistries: pick('insecure-registries', []),
      registryMirrors: pick('registry-mirrors', []),
      eventsRetentionAgeMs: Number(age / 1_000_000n),
      eventsRetentionBytes: size,
    },
  };
}

function show(value: unknown): string {
  return Array.isArray(value)
    ? `[${value.join(' ')}]`
    : typeof value === 'string'
      ? value
      : JSON.stringify(value);
}

/** A listen address from `-H`: `unix:///path`, `tcp://host:port`, or a bare absolute path. */
export type HostAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

export function parseHost(text: string): HostAddress {
  if (text.startsWith('unix://')) {
    const path = text.slice('unix://'.length) || DEFAULT_SOCKET;
    if (!path.startsWith('/'))
      throw new InvalidParameterError(`invalid bind address (${text}): unix socket path must be absolute`);
    if (Buffer.byteLength(path) > 107) {
      throw new InvalidParameterError(
        `invalid bind address (${text}): unix socket path is longer than 107 bytes`,
      );
    }
    return { kind: 'unix', path };
  }
  if (text.startsWith('/')) return parseHost(`unix://${text}`);
  if (text.startsWith('tcp://')) {
    const rest = text.slice('tcp://'.length).replace(/\/+$/, '');
    const m = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(rest);
    if (!m) throw new InvalidParameterError(`invalid bind address (${text})`);
    const host = (m[1] ?? '').replace(/^\[|\]$/g, '') || '127.0.0.1';
    const port = m[2] === undefined ? 2375 : Number(m[2]);
    if (port > 65535) throw new InvalidParameterError(`invalid bind address (${text}): bad port`);
    return { kind: 'tcp', host, port };
  }
  throw new InvalidParameterError(`invalid bind address (${text}): unsupported protocol`);
}
