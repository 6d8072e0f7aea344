import { ConflictError, InvalidParameterError } from '../../errors.js';

/** An IPv4 subnet as numbers. */
export interface Subnet {
  cidr: string;
  network: number;
  prefix: number;
  size: number;
}

export function ipToInt(ip: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new InvalidParameterError(`invalid IPv4 address: ${ip}`);
  }
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

export function parseSubnet(cidr: string): Subnet {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(cidr.trim());
  if (!m) throw new InvalidParameterError(`invalid CIDR address: ${cidr}`);
  const prefix = Number(m[2]);
  if (prefix > 30 || prefix < 8)
    throw new InvalidParameterError(`invalid subnet ${cidr}: prefix must be between /8 and /30`);
  const size = 2 ** (32 - prefix);
  const network = Math.floor(ipToInt(m[1] ?? '') / size) * size;
  return { cidr: `${intToIp(network)}/${prefix}`, network, prefix, size };
}

export function contains(subnet: Subnet, ip: string): boolean {
  const n = ipToInt(ip);
  return n >= subnet.network && n < subnet.network + subnet.size;
}

export function overlaps(a: Subnet, b: Subnet): boolean {
  return a.network < b.network + b.size && b.network < a.network + a.size;
}

/**
 * Address allocation within one subnet: the network and broadcast addresses
 * and the gateway are never handed out; the lowest free address is, unless
 * a specific one is asked for. Allocations can be rebuilt after a restart.
 */
export class AddressPool {
  readonly subnet: Subnet;
  readonly gateway: string;
  private readonly used = new Set<number>();
  private readonly range: Subnet;

  constructor(subnet: Subnet, gateway: string | undefined, ipRange?: string) {
    this.subnet = subnet;
    this.gateway = gateway ?? intToIp(subnet.network + 1);
    if (!contains(subnet, this.gateway)) {
      throw new InvalidParameterError(`gateway ${this.gateway} is not in subnet ${subnet.cidr}`);
    }
    this.range = ipRange ? parseSubnet(ipRange) : subnet;
    if (
      ipRange &&
      !(
        this.range.network >= subnet.network &&
        this.range.network + this.range.size <= subnet.network + subnet.size
      )
    ) {
      throw new InvalidParameterError(`ip-range ${ipRange} is not in subnet ${subnet.cidr}`);
    }
  }

  allocate(requested?: string): string {
    const reserved = (n: number): boolean =>
      n === this.subnet.network ||
      n === this.subnet.network + this.subnet.size - 1 ||
      n === ipToInt(this.gateway);
    if (requested) {
      const n = ipToInt(requested);
      if (!contains(this.subnet, requested)) {
        throw new InvalidParameterError(
          `no configured subnet or ip-range contain the IP address ${requested}`,
        );
      }
      if (reserved(n) || this.used.has(n)) throw new ConflictError(`Address already in use`);
      this.used.add(n);
      return requested;
    }
    for (let n = this.range.network; n < this.range.network + this.range.size; n++) {
      if (reserved(n) || this.used.has(n)) continue;
      this.used.add(n);
      return intToIp(n);
    }
    throw new ConflictError(
      `no available IPv4 addresses on this network's address pools: ${this.subnet.cidr}`,
    );
  }

  /** Marks an address in use (rebuilding state at daemon start). */
  claim(ip: string): void {
    this.used.add(ipToInt(ip));
  }

  release(ip: string): void {
    this.used.delete(ipToInt(ip));
  }
}

/** Docker's default address pools: 172.17-31.0.0/16, then 192.168.0.0/16 in /20s. */
export function defaultPools(): { base: string; size: number }[] {
  return [
    { base: '172.17.0.0/16', size: 16 },
    { base: '172.18.0.0/16', size: 16 },
    { base: '172.19.0.0/16', size: 16 },
    { base: '172.20.0.0/14', size: 16 },
    { base: '172.24.0.0/14', size: 16 },
    { base: '172.28.0.0/14', size: 16 },
    { base: '192.168.0.0/16', size: 20 },
  ];
}

/** The first subnet from the pools that overlaps nothing in `taken`. */
export function pickSubnet(pools: { base: string; size: number }[], taken: Subnet[]): Subnet {
  for (const pool of pools) {
    const base = parseSubnetLoose(pool.base);
    const step = 2 ** (32 - pool.size);
    for (let n = base.network; n + step <= base.network + base.size; n += step) {
      const candidate = parseSubnet(`${intToIp(n)}/${pool.size}`);
      if (!taken.some((t) => overlaps(t, candidate))) return candidate;
    }
  }
  throw new ConflictError(
    'could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network',
  );
}

function parseSubnetLoose(cidr: string): Subnet {
  const [ip = '', prefix = '32'] = cidr.split('/');
  const size = 2 ** (32 - Number(prefix));
  return { cidr, network: Math.floor(ipToInt(ip) / size) * size, prefix: Number(prefix), size };
}
