import { isIP } from 'node:net';

import { Option, type Command } from 'commander';

import type { IPAM, IPAMConfig } from '../../../api/types/index.js';
import { createNetwork, type NetworkCreateOptions } from '../../../client/networks.js';
import { CliError, type CliContext } from '../../context.js';
import { flagError, goBooleanFlags, listFlag } from '../../opts/flags.js';
import { kvStringsToMap, validateLabel } from '../../opts/kv.js';
import { parseCsvRecord } from '../../opts/network.js';
import { runCommand } from '../images/common.js';
import { driverOptsMap } from '../volumes/create.js';

/**
 * A commander parser for pflag's StringSlice flags (`--subnet a,b --subnet c`):
 * each value read as one CSV record, the values of all occurrences joined.
 */
export function sliceFlag(flags: string): (value: string, previous?: string[]) => string[] {
  return (value, previous = []) => {
    if (value === '') return [...previous];
    try {
      return [...previous, ...parseCsvRecord(value)];
    } catch (err) {
      throw flagError(flags, value, err);
    }
  };
}

// ---------------------------------------------------------------------------
// Addresses as Go's net package reads them

/** An IP address as a number, IPv4-mapped IPv6 addresses taken as IPv4 (as Go's To4). */
interface Address {
  family: 4 | 6;
  value: bigint;
}

function parseIPv4(text: string): bigint {
  return text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function parseIPv6(text: string): bigint {
  let head = text;
  let tailV4: bigint | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    tailV4 = parseIPv4(text.slice(lastColon + 1));
    head = text.slice(0, lastColon + 1) + '0:0';
  }
  const [left = '', right] = head.split('::');
  const leftParts = left === '' ? [] : left.split(':');
  const rightParts = right === undefined || right === '' ? [] : right.split(':');
  const fill = right === undefined ? 0 : 8 - leftParts.length - rightParts.length;
  const groups = [...leftParts, ...Array<string>(fill).fill('0'), ...rightParts];
  let value = groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
  if (tailV4 !== undefined) value = (value & ~0xffffffffn) | tailV4;
  return value;
}

/** Go's net.ParseIP: undefined when `text` is not an address. */
export function parseAddress(text: string): Address | undefined {
  const kind = isIP(text);
  if (kind === 4) return { family: 4, value: parseIPv4(text) };
  if (kind !== 6 || text.includes('%')) return undefined;
  const value = parseIPv6(text);
  if (value >> 32n === 0xffffn) return { family: 4, value: value & 0xffffffffn };
  return { family: 6, value };
}

/** A subnet as Go's net.IPNet: the network address and the prefix length. */
export interface Cidr {
  family: 4 | 6;
  network: bigint;
  prefix: number;
  /** The address as written (`10.1.2.3` of `10.1.2.3/24`). */
  ip: Address;
}

/**
 * Go's net.ParseCIDR.
 * @throws Error `invalid CIDR address: x`.
 */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/');
  const bad = new Error(`invalid CIDR address: ${text}`);
  if (slash === -1) throw bad;
  const addrText = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  // ParseCIDR takes the IPv6 form for addresses with a colon (a mapped v4 keeps 128 bits).
  const kind = isIP(addrText);
  if (kind === 0 || addrText.includes('%') || !/^\d{1,3}$/.test(prefixText)) throw bad;
  const bits = kind === 4 ? 32 : 128;
  const prefix = Number(prefixText);
  if (prefix > bits) throw bad;
  const raw = kind === 4 ? parseIPv4(addrText) : parseIPv6(addrText);
  const mask = ((1n << BigInt(bits)) - 1n) ^ ((1n << BigInt(bits - prefix)) - 1n);
  const ip = parseAddress(addrText) ?? { family: kind === 4 ? 4 : 6, value: raw };
  return { family: kind === 4 ? 4 : 6, network: raw & mask, prefix, ip };
}

/** Go's IPNet.Contains, IPv4 addresses matching IPv4-mapped IPv6 networks as Go's do. */
function cidrContains(net: Cidr, ip: Address | undefined): boolean {
  if (ip === undefined) return false;
  let network = net.network;
  let prefix = net.prefix;
  if (net.family === 6 && ip.family === 4) {
    if (network >> 32n !== 0xffffn || prefix < 96) return false;
    network &= 0xffffffffn;
    prefix -= 96;
  } else if (net.family !== ip.family) return false;
  const bits = ip.family === 4 ? 32 : 128;
  const shift = BigInt(bits - prefix);
  return ip.value >> shift === network >> shift;
}

/**
 * docker's subnetMatches: whether `data` (an address or a CIDR, whose
 * address counts) lies in `subnet`.
 * @throws Error `invalid subnet: invalid CIDR address: x` or `invalid CIDR address: x`.
 */
export function subnetMatches(subnet: string, data: string): boolean {
  let net: Cidr;
  try {
    net = parseCidr(subnet);
  } catch (err) {
    throw new Error(`invalid subnet: ${(err as Error).message}`, { cause: err });
  }
  const ip = data.includes('/') ? parseCidr(data).ip : parseAddress(data);
  return cidrContains(net, ip);
}

export interface IpamFlags {
  driver: string;
  subnets: readonly string[];
  ipRanges: readonly string[];
  gateways: readonly string[];
  auxAddresses: Readonly<Record<string, string>>;
  driverOpts: Readonly<Record<string, string>>;
}

/**
 * docker's createIPAMConfig: the subnets with their ranges, gateways and
 * auxiliary addresses, each matched to the one subnet that holds it.
 * @throws Error with docker's wording (`no matching subnet for gateway x`…).
 */
export function createIpamConfig(flags: IpamFlags): IPAM {
  if (flags.subnets.length < flags.ipRanges.length || flags.subnets.length < flags.gateways.length) {
    throw new Error('every ip-range or gateway must have a corresponding subnet');
  }
  const configs = new Map<string, IPAMConfig & { AuxiliaryAddresses: Record<string, string> }>();
  for (const s of flags.subnets) {
    for (const k of configs.keys()) {
      if (subnetMatches(s, k) || subnetMatches(k, s)) {
        throw new Error('multiple overlapping subnet configuration is not supported');
      }
    }
    configs.set(s, { Subnet: s, AuxiliaryAddresses: {} });
  }
  for (const r of flags.ipRanges) {
    let match = false;
    for (const s of flags.subnets) {
      parseCidr(r);
      if (!subnetMatches(s, r)) continue;
      const cfg = configs.get(s);
      if (!cfg) continue;
      if (cfg.IPRange) {
        throw new Error(`cannot configure multiple ranges (${r}, ${cfg.IPRange}) on the same subnet (${s})`);
      }
      cfg.IPRange = r;
      match = true;
    }
    if (!match) throw new Error(`no matching subnet for range ${r}`);
  }
  for (const g of flags.gateways) {
    let match = false;
    for (const s of flags.subnets) {
      if (!subnetMatches(s, g)) continue;
      const cfg = configs.get(s);
      if (!cfg) continue;
      if (cfg.Gateway) {
        throw new Error(
          `cannot configure multiple gateways (${g}, ${cfg.Gateway}) for the same subnet (${s})`,
        );
      }
      cfg.Gateway = g;
      match = true;
    }
    if (!match) throw new Error(`no matching subnet for gateway ${g}`);
  }
  for (const [key, aa] of Object.entries(flags.auxAddresses)) {
    let match = false;
    for (const s of flags.subnets) {
      if (!subnetMatches(s, aa)) continue;
      const cfg = configs.get(s);
      if (cfg) cfg.AuxiliaryAddresses[key] = aa;
      match = true;
    }
    if (!match) throw new Error(`no matching subnet for aux-address ${aa}`);
  }
  // Go's omitempty on the IPAMConfig fields.
  const config: IPAMConfig[] = [...configs.values()].map((c) => {
    const out: IPAMConfig = {};
    if (c.Subnet) out.Subnet = c.Subnet;
    if (c.IPRange) out.IPRange = c.IPRange;
    if (c.Gateway) out.Gateway = c.Gateway;
    if (Object.keys(c.AuxiliaryAddresses).length > 0) out.AuxiliaryAddresses = c.AuxiliaryAddresses;
    return out;
  });
  return { Driver: flags.driver, Config: config, Options: { ...flags.driverOpts } };
}

export interface CreateFlags {
  driver: string;
  opt?: string[];
  label?: string[];
  internal?: boolean;
  ipv4?: boolean;
  ipv6?: boolean;
  attachable?: boolean;
  ingress?: boolean;
  scope?: string;
  configOnly?: boolean;
  configFrom?: string;
  ipamDriver: string;
  subnet?: string[];
  ipRange?: string[];
  gateway?: string[];
  auxAddress?: string[];
  ipamOpt?: string[];
}

/** Adds `network create`'s flags, as docker's (booleans take `--flag=false`). */
export function addCreateFlags(cmd: Command): Command {
  cmd
    .option('-d, --driver <driver>', 'driver to manage the Network', 'bridge')
    .option('-o, --opt <opt>', 'set driver specific options', listFlag('-o, --opt'))
    .option('--label <label>', 'set metadata on a network', listFlag('--label', validateLabel))
    .option('--internal', 'restrict external access to the network')
    .option('--ipv4', 'enable or disable IPv4 address assignment (default true)')
    .option('--ipv6', 'enable or disable IPv6 address assignment')
    .option('--attachable', 'enable manual container attachment')
    .option('--ingress', 'create swarm routing-mesh network')
    .option('--scope <scope>', "control the network's scope")
    .option('--config-only', 'create a configuration only network')
    .option('--config-from <network>', 'the network from which to copy the configuration')
    .option('--ipam-driver <driver>', 'IP Address Management Driver', 'default')
    .option(
      '--subnet <subnet>',
      'subnet in CIDR format that represents a network segment',
      sliceFlag('--subnet'),
    )
    .option('--ip-range <range>', 'allocate container ip from a sub-range', sliceFlag('--ip-range'))
    .option('--gateway <ip>', 'IPv4 or IPv6 Gateway for the master subnet', sliceFlag('--gateway'))
    .addOption(
      new Option(
        '--aux-address <name=ip>',
        'auxiliary IPv4 or IPv6 addresses used by Network driver',
      ).argParser(listFlag('--aux-address')),
    )
    .addOption(
      new Option('--ipam-opt <opt>', 'set IPAM driver specific options').argParser(listFlag('--ipam-opt')),
    );
  return goBooleanFlags(cmd);
}

/**
 * The request `network create` makes of its flags (docker's runCreate).
 * @throws Error from {@link createIpamConfig}.
 */
export function createRequest(flags: CreateFlags): NetworkCreateOptions {
  const ipam = createIpamConfig({
    driver: flags.ipamDriver,
    subnets: flags.subnet ?? [],
    ipRanges: flags.ipRange ?? [],
    gateways: flags.gateway ?? [],
    auxAddresses: driverOptsMap(flags.auxAddress ?? []),
    driverOpts: driverOptsMap(flags.ipamOpt ?? []),
  });
  return {
    Driver: flags.driver,
    Scope: flags.scope ?? '',
    ...(flags.ipv4 !== undefined ? { EnableIPv4: flags.ipv4 } : {}),
    ...(flags.ipv6 !== undefined ? { EnableIPv6: flags.ipv6 } : {}),
    IPAM: ipam,
    Internal: flags.internal === true,
    Attachable: flags.attachable === true,
    Ingress: flags.ingress === true,
    ConfigOnly: flags.configOnly === true,
    ...(flags.configFrom ? { ConfigFrom: { Network: flags.configFrom } } : {}),
    Options: driverOptsMap(flags.opt ?? []),
    Labels: kvStringsToMap(flags.label ?? []),
  };
}

/** `network create [OPTIONS] NETWORK`: prints the new network's ID. */
export function registerNetworkCreate(parent: Command, ctx: CliContext): Command {
  const cmd = parent.command('create').description('Create a network').argument('<network>', 'NETWORK');
  addCreateFlags(cmd);
  return cmd.action((name: string, flags: CreateFlags) =>
    runCommand(async () => {
      let request;
      try {
        request = createRequest(flags);
      } catch (err) {
        throw new CliError((err as Error).message);
      }
      const res = await createNetwork(ctx.client(), name, request);
      ctx.out.write(`${res.Id}\n`);
    }),
  );
}
