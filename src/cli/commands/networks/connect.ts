import type { Command } from 'commander';

import type { EndpointSettings } from '../../../api/types/index.js';
import { connectNetwork, disconnectNetwork } from '../../../client/networks.js';
import type { CliContext } from '../../context.js';
import { listFlag } from '../../opts/flags.js';
import { validateLink } from '../../opts/misc.js';
import { runContainerCommand } from '../containers/common.js';
import { sliceFlag } from './create.js';

export interface ConnectFlags {
  ip?: string;
  ip6?: string;
  link?: string[];
  alias?: string[];
  linkLocalIp?: string[];
  driverOpt?: string[];
}

/**
 * docker's convertDriverOpt: `key=value` pairs, spaces around both trimmed.
 * @throws Error `invalid key/value pair format in driver options`.
 */
export function convertDriverOpts(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const opt of values) {
    const eq = opt.indexOf('=');
    const key = (eq === -1 ? opt : opt.slice(0, eq)).trim();
    if (eq === -1 || key === '') throw new Error('invalid key/value pair format in driver options');
    out[key] = opt.slice(eq + 1).trim();
  }
  return out;
}

/**
 * The endpoint settings `network connect` sends (docker's runConnect):
 * the IPAM addresses (left out when empty, as Go's omitempty), links,
 * aliases and driver options.
 */
export function connectEndpoint(flags: ConnectFlags): EndpointSettings {
  const ipam: NonNullable<EndpointSettings['IPAMConfig']> = {};
  if (flags.ip) ipam.IPv4Address = flags.ip;
  if (flags.ip6) ipam.IPv6Address = flags.ip6;
  if (flags.linkLocalIp && flags.linkLocalIp.length > 0) ipam.LinkLocalIPs = flags.linkLocalIp;
  return {
    IPAMConfig: ipam,
    Links: flags.link ?? [],
    Aliases: flags.alias ?? [],
    DriverOpts: convertDriverOpts(flags.driverOpt ?? []),
  };
}

/** `network connect [OPTIONS] NETWORK CONTAINER`. */
export function registerNetworkConnect(parent: Command, ctx: CliContext): Command {
  return parent
    .command('connect')
    .description('Connect a container to a network')
    .argument('<network>', 'NETWORK')
    .argument('<container>', 'CONTAINER')
    .option('--ip <address>', 'IPv4 address (e.g., "172.30.100.104")')
    .option('--ip6 <address>', 'IPv6 address (e.g., "2001:db8::33")')
    .option('--link <link>', 'add link to another container', listFlag('--link', validateLink))
    .option('--alias <alias>', 'add network-scoped alias for the container', sliceFlag('--alias'))
    .option(
      '--link-local-ip <ip>',
      'add a link-local address for the container',
      sliceFlag('--link-local-ip'),
    )
    .option('--driver-opt <opt>', 'driver options for the network', sliceFlag('--driver-opt'))
    .action((network: string, container: string, flags: ConnectFlags) =>
      runContainerCommand(() => connectNetwork(ctx.client(), network, container, connectEndpoint(flags))),
    );
}

/** `network disconnect [OPTIONS] NETWORK CONTAINER`. */
export function registerNetworkDisconnect(parent: Command, ctx: CliContext): Command {
  return parent
    .command('disconnect')
    .description('Disconnect a container from a network')
    .argument('<network>', 'NETWORK')
    .argument('<container>', 'CONTAINER')
    .option('-f, --force', 'force the container to disconnect from a network')
    .action((network: string, container: string, flags: { force?: boolean }) =>
      runContainerCommand(() =>
        disconnectNetwork(ctx.client(), network, container, { force: flags.force === true }),
      ),
    );
}
