/**
 * A small typed wrapper over iproute2's `ip` for the links berth owns:
 * one Linux bridge per network and one veth pair per container endpoint,
 * whose peer lives in the container's network namespace as `eth0`.
 *
 * - Every name berth creates must carry a berth-specific prefix (other
 *   engines may share the host) and fit IFNAMSIZ: at most 15 bytes.
 * - A container's namespace is named by the path of a bind-mounted nsfs
 *   file (berth makes its containers' with {@link createNetnsFile}; or
 *   `/run/netns/<name>`, or any other) or by the pid of a process inside it
 *   (how a running container is connected to one more network). Commands
 *   inside it run through `nsenter`, which takes both forms; iproute2's
 *   `ip -n` only takes names under /run/netns.
 * - Reads use `ip -j` (JSON). Functions are idempotent where the brief of the
 *   operation allows it (create a bridge that exists, delete a missing link).
 *
 * Nothing here knows about Docker networks: the engine decides names,
 * subnets and addresses and calls these as primitives.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isIPv4 } from 'node:net';

import { ConflictError, InvalidParameterError, NotFoundError, SystemError } from '../../errors.js';
import { CommandError, failureText, runCommand, type CommandResult } from './exec.js';

const IP = 'ip';
const NSENTER = 'nsenter';

/** A network namespace: by the pid of a process in it, or by the path of an nsfs file. */
export type NetnsRef = { pid: number } | { path: string };

export interface LinkInfo {
  name: string;
  index: number;
  /** `bridge`, `veth`, ...; undefined for plain devices (needs the detailed listing, which all functions here use). */
  kind: string | undefined;
  /** The bridge this link is enslaved to, if any. */
  master: string | undefined;
  mtu: number;
  mac: string;
  /** Administratively up (the UP flag), whatever the carrier. */
  up: boolean;
  /** The kernel's operstate: UP, DOWN, UNKNOWN, LOWERLAYERDOWN, ... */
  operState: string;
}

/** A parsed IPv4 address with prefix length, e.g. `10.231.5.1/24`. */
export interface Ipv4Cidr {
  address: string;
  prefix: number;
  /** The network address, e.g. `10.231.5.0`. */
  network: string;
}

// ---------------------------------------------------------------------------
// Validation and address helpers

const IFNAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

/** Throws InvalidParameterError unless `name` is a usable interface name (1–15 bytes, no `/`, space or `:`). */
export function validateIfname(name: string): void {
  if (!IFNAME.test(name)) {
    throw new InvalidParameterError(
      `invalid interface name ${JSON.stringify(name)}: use at most 15 of [A-Za-z0-9_.-], starting with a letter or digit`,
    );
  }
}

function ipv4ToInt(address: string): number {
  const parts = address.split('.').map(Number);
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

function intToIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses `a.b.c.d/n`; throws InvalidParameterError otherwise. A bare address counts as /32. */
export function parseCidr(cidr: string): Ipv4Cidr {
  const [address = '', prefixText, ...rest] = cidr.split('/');
  const prefix = prefixText === undefined ? 32 : Number(prefixText);
  if (
    rest.length > 0 ||
    !isIPv4(address) ||
    !Number.isInteger(prefix) ||
    prefix < 0 ||
    prefix > 32 ||
    (prefixText !== undefined && !/^\d{1,2}$/.test(prefixText))
  ) {
    throw new InvalidParameterError(`invalid IPv4 CIDR ${JSON.stringify(cidr)}`);
  }
  return { address, prefix, network: intToIpv4((ipv4ToInt(address) & maskOf(prefix)) >>> 0) };
}

/** Whether two IPv4 CIDRs share any address. */
export function cidrOverlaps(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  const mask = maskOf(Math.min(x.prefix, y.prefix));
  return (ipv4ToInt(x.address) & mask) >>> 0 === (ipv4ToInt(y.address) & mask) >>> 0;
}

/** Whether `address` lies inside `cidr`. */
export function cidrContains(cidr: string, address: string): boolean {
  const c = parseCidr(cidr);
  if (!isIPv4(address)) return false;
  const mask = maskOf(c.prefix);
  return (ipv4ToInt(address) & mask) >>> 0 === (ipv4ToInt(c.address) & mask) >>> 0;
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/** A random unicast, locally administered MAC address (02:xx:...). */
export function randomMac(): string {
  const bytes = randomBytes(6);
  bytes[0] = (bytes[0] & 0xfc) | 0x02;
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

function validateMtu(mtu: number | undefined): void {
  if (mtu !== undefined && (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535)) {
    throw new InvalidParameterError(`invalid MTU ${mtu}: must be an integer in 68..65535`);
  }
}

function validateNetns(netns: NetnsRef): void {
  if ('pid' in netns) {
    if (!Number.isSafeInteger(netns.pid) || netns.pid <= 0) {
      throw new InvalidParameterError(`invalid netns pid ${netns.pid}`);
    }
  } else if (!netns.path.startsWith('/')) {
    throw new InvalidParameterError(`netns path must be absolute: ${JSON.stringify(netns.path)}`);
  }
}

function describeNetns(netns: NetnsRef): string {
  return 'pid' in netns ? `the network namespace of pid ${netns.pid}` : `network namespace ${netns.path}`;
}

// ---------------------------------------------------------------------------
// Running ip

const NOT_FOUND = /does not exist|Cannot find device|No such device|Cannot open network namespace/i;
const EXISTS = /File exists/i;

/** Runs `ip <args>` in the host's namespace, mapping failures to BerthErrors. */
async function ip(args: readonly string[], input?: string): Promise<string> {
  try {
    const result = await runCommand(IP, args, input === undefined ? {} : { input });
    return result.stdout;
  } catch (err) {
    throw classify(err);
  }
}

function classify(err: unknown): Error {
  const text = failureText(err);
  const message = err instanceof Error ? err.message : String(err);
  if (NOT_FOUND.test(text)) return new NotFoundError(message, { cause: err });
  if (EXISTS.test(text)) return new ConflictError(message, { cause: err });
  return new SystemError(message, { cause: err });
}

function nsenterArgs(netns: NetnsRef, argv: readonly string[]): string[] {
  const target = 'pid' in netns ? ['-t', String(netns.pid), '-n'] : [`--net=${netns.path}`];
  return [...target, '--', ...argv];
}

/**
 * Runs `argv` inside a network namespace (only the network namespace: the
 * mount namespace and filesystem stay the host's, so host binaries work).
 * Rejects with a CommandError carrying stdout, stderr and the exit code.
 */
export async function netnsExec(
  netns: NetnsRef,
  argv: readonly string[],
  options: { input?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  validateNetns(netns);
  if (argv.length === 0) throw new InvalidParameterError('netnsExec needs a command');
  return await runCommand(NSENTER, nsenterArgs(netns, argv), options);
}

async function ipInNetns(netns: NetnsRef, args: readonly string[], input?: string): Promise<string> {
  try {
    const result = await netnsExec(netns, [IP, ...args], input === undefined ? {} : { input });
    return result.stdout;
  } catch (err) {
    if (err instanceof CommandError && /nsenter: /.test(err.stderr)) {
      throw new NotFoundError(`cannot enter ${describeNetns(netns)}: ${err.stderr.trim()}`, { cause: err });
    }
    throw classify(err);
  }
}

// ---------------------------------------------------------------------------
// Links

interface RawLink {
  ifindex: number;
  ifname: string;
  flags?: string[];
  mtu?: number;
  address?: string;
  operstate?: string;
  master?: string;
  linkinfo?: { info_kind?: string };
}

function toLinkInfo(raw: RawLink): LinkInfo {
  return {
    name: raw.ifname,
    index: raw.ifindex,
    kind: raw.linkinfo?.info_kind,
    master: raw.master,
    mtu: raw.mtu ?? 0,
    mac: raw.address ?? '',
    up: raw.flags?.includes('UP') ?? false,
    operState: raw.operstate ?? 'UNKNOWN',
  };
}

function parseLinks(stdout: string): LinkInfo[] {
  const text = stdout.trim();
  if (text === '') return [];
  return (JSON.parse(text) as RawLink[]).map(toLinkInfo);
}

/** The link called `name` in the host's namespace, or undefined. */
export async function getLink(name: string): Promise<LinkInfo | undefined> {
  validateIfname(name);
  try {
    return parseLinks(await ip(['-j', '-d', 'link', 'show', 'dev', name]))[0];
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

export async function linkExists(name: string): Promise<boolean> {
  return (await getLink(name)) !== undefined;
}

/**
 * Every link in the host's namespace whose name starts with `prefix`: what a
 * restarted daemon compares with its records to delete leftovers of a crash.
 */
export async function listLinks(prefix: string): Promise<LinkInfo[]> {
  const links = parseLinks(await ip(['-j', '-d', 'link', 'show']));
  return links.filter((link) => link.name.startsWith(prefix));
}

/** Deletes a link (a bridge, or a veth and with it its peer). True if it existed. */
export async function deleteLink(name: string): Promise<boolean> {
  validateIfname(name);
  try {
    await ip(['link', 'del', 'dev', name]);
    return true;
  } catch (err) {
    if (err instanceof NotFoundError) return false;
    throw err;
  }
}

// ---------------------------------------------------------------------------
// Bridges

export interface BridgeOptions {
  /** The gateway address with the subnet's prefix, e.g. `10.231.5.1/24`. */
  cidr: string;
  mtu?: number;
}

interface RawAddrLink {
  ifname: string;
  addr_info?: { family?: string; local?: string; prefixlen?: number }[];
}

/** The IPv4 addresses (as `a.b.c.d/n`) on a link in the host's namespace. */
export async function linkAddresses(name: string): Promise<string[]> {
  validateIfname(name);
  const text = (await ip(['-j', '-4', 'addr', 'show', 'dev', name])).trim();
  if (text === '') return [];
  const links = JSON.parse(text) as RawAddrLink[];
  return links.flatMap((l) =>
    (l.addr_info ?? [])
      .filter((a) => a.family === 'inet' && a.local !== undefined)
      .map((a) => `${a.local}/${a.prefixlen}`),
  );
}

/**
 * Creates (or adopts) a Linux bridge with the gateway address `cidr` and
 * brings it up. Idempotent: an existing bridge of that name gets the address
 * (and MTU) if it lacks it; an existing link of another kind is a
 * ConflictError. New bridges get a fixed random MAC, so the gateway's MAC
 * does not change as ports come and go (the kernel otherwise takes the lowest
 * port MAC, which leaves stale ARP entries in the containers).
 */
export async function createBridge(name: string, options: BridgeOptions): Promise<LinkInfo> {
  validateIfname(name);
  validateMtu(options.mtu);
  const cidr = parseCidr(options.cidr);
  let link = await getLink(name);
  if (link === undefined) {
    const mtu = options.mtu === undefined ? [] : ['mtu', String(options.mtu)];
    try {
      await ip(['link', 'add', 'name', name, ...mtu, 'address', randomMac(), 'type', 'bridge']);
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err; // created concurrently: adopt it below
    }
    link = await getLink(name);
    if (link === undefined) throw new SystemError(`bridge ${name} vanished right after it was created`);
  }
  if (link.kind !== 'bridge') {
    throw new ConflictError(`link ${name} exists and is not a bridge (kind ${link.kind ?? 'none'})`);
  }
  if (options.mtu !== undefined && link.mtu !== options.mtu) {
    await ip(['link', 'set', 'dev', name, 'mtu', String(options.mtu)]);
  }
  const wanted = `${cidr.address}/${cidr.prefix}`;
  if (!(await linkAddresses(name)).includes(wanted)) {
    try {
      await ip(['addr', 'add', wanted, 'dev', name]);
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
    }
  }
  if (!link.up) await ip(['link', 'set', 'dev', name, 'up']);
  return (await getLink(name)) ?? link;
}

// ---------------------------------------------------------------------------
// veth pairs into a container's namespace

export interface VethOptions {
  /** The host end, enslaved to `bridge`. */
  hostName: string;
  bridge: string;
  netns: NetnsRef;
  /** The name inside the namespace. Default `eth0`. */
  ifname?: string;
  /** The container's address with the subnet's prefix, e.g. `10.231.5.2/24`. */
  address: string;
  /** Installs `default via <gateway>` in the namespace when given. */
  gateway?: string;
  /** The container-side MAC; a random locally administered one when absent. */
  mac?: string;
  mtu?: number;
}

export interface VethEndpoint {
  hostName: string;
  ifname: string;
  /** The container-side MAC. */
  mac: string;
}

/** The two iproute2 invocations that wire a namespace (see {@link createVethIntoNetns}). */
export interface VethCommands {
  /** argv of `ip` in the host's namespace: the pair, enslaved and up, its peer created inside the namespace. */
  host: string[];
  /** stdin of `ip -batch -` inside the namespace: address, links up, default route. */
  batch: string;
  /** The container-side MAC the commands set. */
  mac: string;
}

/** The namespace as `ip link … netns` takes it: a path, so a name under /run/netns never shadows a pid. */
function netnsTarget(netns: NetnsRef): string {
  return 'pid' in netns ? `/proc/${netns.pid}/ns/net` : netns.path;
}

/**
 * Validates `options` and builds the commands of {@link createVethIntoNetns}
 * (pure; `randomMac` supplies the MAC when none is given).
 */
export function vethCommands(options: VethOptions, mac: () => string = randomMac): VethCommands {
  const ifname = options.ifname ?? 'eth0';
  validateIfname(options.hostName);
  validateIfname(options.bridge);
  validateIfname(ifname);
  validateNetns(options.netns);
  validateMtu(options.mtu);
  const address = parseCidr(options.address);
  if (options.gateway !== undefined) {
    if (!isIPv4(options.gateway)) throw new InvalidParameterError(`invalid gateway ${options.gateway}`);
    if (!cidrContains(options.address, options.gateway)) {
      throw new InvalidParameterError(`gateway ${options.gateway} is outside ${options.address}`);
    }
  }
  if (options.mac !== undefined && !MAC.test(options.mac)) {
    throw new InvalidParameterError(`invalid MAC address ${JSON.stringify(options.mac)}`);
  }
  if (options.hostName === ifname) {
    throw new InvalidParameterError('the host and namespace names of a veth pair must differ');
  }
  const peerMac = (options.mac ?? mac()).toLowerCase();
  const mtu = options.mtu === undefined ? [] : ['mtu', String(options.mtu)];
  const host = [
    'link',
    'add',
    options.hostName,
    ...mtu,
    'master',
    options.bridge,
    'up',
    'type',
    'veth',
    'peer',
    'name',
    ifname,
    ...mtu,
    'address',
    peerMac,
    'netns',
    netnsTarget(options.netns),
  ];
  const batch = [
    `addr add ${address.address}/${address.prefix} dev ${ifname}`,
    `link set dev ${ifname} up`,
    'link set dev lo up',
  ];
  if (options.gateway !== undefined) batch.push(`route replace default via ${options.gateway} dev ${ifname}`);
  return { host, batch: batch.join('\n') + '\n', mac: peerMac };
}

/**
 * Wires a container's network namespace to a bridge, in two processes:
 *
 * 1. in the host's namespace, one `ip link add` creates the veth pair with
 *    the host end enslaved to `bridge` and up, and the peer created directly
 *    inside the namespace under its final name and MAC (the kernel does it
 *    all or nothing, so a failure leaves no half-made pair);
 * 2. inside the namespace, one `ip -batch -` adds the address, brings the
 *    peer and `lo` up and installs the default route.
 *
 * The namespace must not already have an interface called `ifname`
 * (ConflictError). When step 2 fails the host end is deleted, which removes
 * the peer too. The namespace's own interfaces vanish with it, so a
 * container that exits leaves nothing behind; `removeVeth` is for
 * disconnecting a live one.
 */
export async function createVethIntoNetns(options: VethOptions): Promise<VethEndpoint> {
  const commands = vethCommands(options);
  const ifname = options.ifname ?? 'eth0';
  try {
    await ip(commands.host);
  } catch (err) {
    const text = failureText(err);
    if (err instanceof ConflictError) {
      throw new ConflictError(
        `link ${options.hostName} already exists, or ${ifname} in ${describeNetns(options.netns)}`,
        { cause: err },
      );
    }
    // The bridge is the one device the command looks up by name; the namespace is opened by path.
    if (/Invalid "netns" value|No such process/i.test(text)) {
      throw new NotFoundError(`cannot use ${describeNetns(options.netns)}`, { cause: err });
    }
    if (/Device does not exist|Cannot find device/i.test(text)) {
      throw new NotFoundError(`bridge ${options.bridge} does not exist`, { cause: err });
    }
    if (/Operation not supported/i.test(text)) {
      throw new InvalidParameterError(`${options.bridge} is not a bridge`, { cause: err });
    }
    throw err;
  }
  try {
    await ipInNetns(options.netns, ['-batch', '-'], commands.batch);
  } catch (err) {
    await deleteLink(options.hostName).catch(() => undefined);
    throw err;
  }
  return { hostName: options.hostName, ifname, mac: commands.mac };
}

// ---------------------------------------------------------------------------
// Network namespaces pinned by a file

const UNSHARE = 'unshare';
const UMOUNT = 'umount';

/**
 * Creates a new network namespace held by a bind mount on `path` (an empty
 * file, created here with its directory), as `ip netns add` does under
 * /run/netns: a runtime joins it by path, and it lives until
 * {@link removeNetnsFile}, whatever the processes in it do. Its only
 * interface is `lo`, down. A failure leaves no file behind.
 */
export async function createNetnsFile(path: string): Promise<void> {
  validateNetns({ path });
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, '', { flag: 'wx', mode: 0o600 }).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new ConflictError(`network namespace file ${path} already exists`, { cause: err });
    }
    throw new SystemError(`creating ${path}: ${(err as Error).message}`, { cause: err });
  });
  try {
    await runCommand(UNSHARE, [`--net=${path}`, 'true']);
  } catch (err) {
    await rm(path, { force: true }).catch(() => undefined);
    throw new SystemError(`creating a network namespace at ${path}: ${failureText(err).trim()}`, {
      cause: err,
    });
  }
}

/**
 * Unmounts and deletes a file made by {@link createNetnsFile}. The namespace
 * ends with its last user: at once when no process is left in it, and the
 * veth pairs with an end inside go with it. Idempotent.
 */
export async function removeNetnsFile(path: string): Promise<void> {
  validateNetns({ path });
  try {
    await runCommand(UMOUNT, [path]);
  } catch (err) {
    if (!/not mounted|no mount point|No such file/i.test(failureText(err))) {
      throw new SystemError(`unmounting network namespace ${path}: ${failureText(err).trim()}`, {
        cause: err,
      });
    }
  }
  await rm(path, { force: true });
}

/** Deletes a veth by its host end (its peer goes with it). Idempotent; true if it existed. */
export function removeVeth(hostName: string): Promise<boolean> {
  return deleteLink(hostName);
}

// ---------------------------------------------------------------------------
// Routes and forwarding

export interface RouteInfo {
  /** `default` or a CIDR (`10.0.0.0/8`; a single host shows as a bare address). */
  dst: string;
  dev: string | undefined;
  gateway: string | undefined;
  table: string | undefined;
}

/** The host's IPv4 routes in every table, for checking a new subnet against what is in use. */
export async function listRoutes(): Promise<RouteInfo[]> {
  const text = (await ip(['-j', '-4', 'route', 'show', 'table', 'all'])).trim();
  if (text === '') return [];
  const raw = JSON.parse(text) as { dst?: string; dev?: string; gateway?: string; table?: string }[];
  return raw.map((r) => ({ dst: r.dst ?? '', dev: r.dev, gateway: r.gateway, table: r.table }));
}

/**
 * The routes (other than default routes) that overlap `cidr`: non-empty means
 * the subnet is already in use on this host (by another engine, a VPN, ...).
 */
export async function overlappingRoutes(cidr: string): Promise<RouteInfo[]> {
  parseCidr(cidr);
  const routes = await listRoutes();
  return routes.filter((r) => {
    if (r.dst === 'default' || r.dst === '') return false;
    try {
      return cidrOverlaps(r.dst, cidr);
    } catch {
      return false; // multicast, broadcast and other non-CIDR destinations
    }
  });
}

/**
 * Sets `net.ipv4.conf.<ifname>.forwarding`. The kernel decides whether to
 * route a packet by the forwarding flag of the interface it arrived on, so
 * this lets traffic entering a bridge be routed (DNAT'd port mappings,
 * traffic between bridges) without turning on `net.ipv4.ip_forward` for the
 * whole host. The setting disappears with the interface.
 */
export async function setForwarding(ifname: string, enabled: boolean): Promise<void> {
  validateIfname(ifname);
  try {
    await writeFile(`/proc/sys/net/ipv4/conf/${ifname}/forwarding`, enabled ? '1\n' : '0\n');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new NotFoundError(`no interface ${ifname}`, { cause: err });
    }
    throw new SystemError(`setting forwarding on ${ifname}: ${(err as Error).message}`, { cause: err });
  }
}

// ---------------------------------------------------------------------------
// Statistics

/** The counters of one interface, as in /proc/net/dev. */
export interface InterfaceStats {
  rxBytes: number;
  rxPackets: number;
  rxErrors: number;
  rxDropped: number;
  txBytes: number;
  txPackets: number;
  txErrors: number;
  txDropped: number;
}

/** Parses the text of /proc/<pid>/net/dev into counters per interface. */
export function parseNetDev(text: string): Record<string, InterfaceStats> {
  const out: Record<string, InterfaceStats> = {};
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    if (name === '' || name.includes('|')) continue;
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    if (f.length < 16 || f.some((n) => !Number.isFinite(n))) continue;
    out[name] = {
      rxBytes: f[0],
      rxPackets: f[1],
      rxErrors: f[2],
      rxDropped: f[3],
      txBytes: f[8],
      txPackets: f[9],
      txErrors: f[10],
      txDropped: f[11],
    };
  }
  return out;
}

/**
 * The interface counters of the network namespace that process `pid` is in
 * (its container's namespace), including `lo`. NotFoundError when the process
 * is gone.
 */
export async function interfaceStats(pid: number): Promise<Record<string, InterfaceStats>> {
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new InvalidParameterError(`invalid pid ${pid}`);
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/net/dev`, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH' || code === 'EINVAL') {
      throw new NotFoundError(`no process ${pid}`, { cause: err });
    }
    throw new SystemError(`reading network statistics of pid ${pid}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return parseNetDev(text);
}
