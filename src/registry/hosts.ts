/**
 * Registry host names: Docker Hub's aliases, loopback detection, the
 * insecure-registries match, and the scheme rule.
 *
 * The scheme rule (documented in README terms):
 *  - loopback hosts (`localhost`, 127.0.0.0/8, ::1) are spoken to over plain
 *    HTTP directly, without trying TLS first;
 *  - hosts listed in `insecureRegistries` (exact `host[:port]`, bare hostname,
 *    or a CIDR containing the host's IP address or one it resolves to) are
 *    tried over HTTPS without certificate verification first; when that fails
 *    at the transport level (refused, reset, TLS handshake error — never an
 *    HTTP status), plain HTTP is used and remembered for the host;
 *  - every other host is HTTPS only, with certificate verification.
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/** The name berth (and Docker) use for Docker Hub in image references. */
export const DOCKER_HUB = 'docker.io';
/** Where Docker Hub's registry API lives. */
export const DOCKER_HUB_REGISTRY = 'registry-1.docker.io';

const HUB_ALIASES: ReadonlySet<string> = new Set([
  'docker.io',
  'index.docker.io',
  'registry-1.docker.io',
  'registry.hub.docker.com',
]);

/** True for every name Docker Hub goes by. */
export function isDockerHub(host: string): boolean {
  return HUB_ALIASES.has(host.toLowerCase());
}

/**
 * The canonical name of a registry host as given by a user or a reference:
 * Docker Hub's aliases become `docker.io`; `http(s)://` prefixes and trailing
 * paths (as in `https://index.docker.io/v1/`) are stripped.
 */
export function normalizeHost(host: string): string {
  let h = host.trim();
  const scheme = /^https?:\/\//i.exec(h);
  if (scheme) h = h.slice(scheme[0].length);
  const slash = h.indexOf('/');
  if (slash >= 0) h = h.slice(0, slash);
  h = h.toLowerCase();
  return isDockerHub(h) ? DOCKER_HUB : h;
}

/** Splits `host[:port]` (with `[v6]:port` brackets) into its hostname and port. */
export function splitHostPort(host: string): { hostname: string; port: string | undefined } {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end > 0) {
      const rest = host.slice(end + 1);
      return { hostname: host.slice(1, end), port: rest.startsWith(':') ? rest.slice(1) : undefined };
    }
  }
  // A bare IPv6 address has several colons and no port.
  if (isIP(host) === 6) return { hostname: host, port: undefined };
  const colon = host.lastIndexOf(':');
  if (colon >= 0) return { hostname: host.slice(0, colon), port: host.slice(colon + 1) };
  return { hostname: host, port: undefined };
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** `localhost`, 127.0.0.0/8 and ::1 (with or without a port). */
export function isLoopbackHost(host: string): boolean {
  const { hostname } = splitHostPort(host);
  const name = hostname.toLowerCase();
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  const family = isIP(name);
  if (family === 4) return LOOPBACK.check(name, 'ipv4');
  if (family === 6) return LOOPBACK.check(name, 'ipv6') || /^::ffff:127\./i.test(name);
  return false;
}

/** Matches registry hosts against `insecure-registries` entries. */
export class InsecureRegistries {
  readonly #names = new Set<string>();
  readonly #cidrs = new BlockList();
  #hasCidrs = false;

  constructor(entries: readonly string[]) {
    for (const raw of entries) {
      const trimmed = raw.trim();
      const cidr = parseCidr(trimmed);
      if (cidr) {
        this.#cidrs.addSubnet(cidr.address, cidr.prefix, cidr.family);
        this.#hasCidrs = true;
        continue;
      }
      const name = normalizeHost(trimmed);
      if (name !== '') this.#names.add(name);
    }
  }

  /** Whether `host` (`name[:port]`) is insecure, by name or (resolved) IP address. */
  async matches(host: string): Promise<boolean> {
    const h = normalizeHost(host);
    if (this.#names.has(h)) return true;
    const { hostname } = splitHostPort(h);
    if (this.#names.has(hostname)) return true;
    if (!this.#hasCidrs) return false;
    if (isIP(hostname) !== 0) return this.#inCidrs(hostname);
    try {
      const addresses = await lookup(hostname, { all: true });
      return addresses.some((a) => this.#inCidrs(a.address));
    } catch {
      return false;
    }
  }

  #inCidrs(address: string): boolean {
    const family = isIP(address);
    if (family === 0) return false;
    return this.#cidrs.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }
}

function parseCidr(s: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const slash = s.lastIndexOf('/');
  if (slash <= 0) return undefined;
  const address = s.slice(0, slash);
  const bits = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bits)) return undefined;
  const prefix = Number(bits);
  const family = isIP(address);
  if (family === 4 && prefix <= 32) return { address, prefix, family: 'ipv4' };
  if (family === 6 && prefix <= 128) return { address, prefix, family: 'ipv6' };
  return undefined;
}
