import type { Command } from 'commander';

import type { PortMap } from '../../../api/types/index.js';
import { inspectContainer } from '../../../client/containers.js';
import { CliError, type CliContext } from '../../context.js';
import { parsePort } from '../../opts/network.js';
import { runContainerCommand } from './common.js';

function joinHostPort(host: string, port: string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** sortorder.NaturalLess: digit runs compare as numbers. */
export function naturalLess(a: string, b: string): boolean {
  const ra = a.match(/\d+|\D+/g) ?? [];
  const rb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(ra.length, rb.length); i++) {
    const x = ra[i] ?? '';
    const y = rb[i] ?? '';
    if (x === y) continue;
    const dx = /^\d/.test(x);
    const dy = /^\d/.test(y);
    if (dx && dy) {
      const nx = x.replace(/^0+/, '');
      const ny = y.replace(/^0+/, '');
      if (nx.length !== ny.length) return nx.length < ny.length;
      if (nx !== ny) return nx < ny;
      return x.length < y.length;
    }
    return x < y;
  }
  return ra.length < rb.length;
}

/**
 * docker port's lines: every mapping `80/tcp -> 0.0.0.0:8080`, or for one
 * port its host addresses; sorted naturally.
 * @throws Error `Error: No public port '80' published for x`.
 */
export function portLines(ports: PortMap | undefined, container: string, port?: string): string[] {
  const out: string[] = [];
  if (port !== undefined && port !== '') {
    const key = parsePort(port);
    const frontends = ports?.[key];
    if (!frontends || frontends.length === 0) {
      throw new Error(`Error: No public port '${port}' published for ${container}`);
    }
    for (const f of frontends) out.push(joinHostPort(f.HostIp ?? '', f.HostPort ?? ''));
  } else {
    for (const [from, frontends] of Object.entries(ports ?? {})) {
      for (const f of frontends ?? [])
        out.push(`${from} -> ${joinHostPort(f.HostIp ?? '', f.HostPort ?? '')}`);
    }
  }
  return out.sort((a, b) => (naturalLess(a, b) ? -1 : naturalLess(b, a) ? 1 : 0));
}

/** `port CONTAINER [PRIVATE_PORT[/PROTO]]`. */
export function registerPort(parent: Command, ctx: CliContext): Command {
  return parent
    .command('port')
    .description('List port mappings or a specific mapping for the container')
    .argument('<container>', 'CONTAINER')
    .argument('[port]', 'PRIVATE_PORT[/PROTO]')
    .action((container: string, port: string | undefined) =>
      runContainerCommand(async () => {
        const c = await inspectContainer(ctx.client(), container);
        let lines: string[];
        try {
          lines = portLines(c.NetworkSettings?.Ports, container, port);
        } catch (err) {
          throw new CliError((err as Error).message);
        }
        if (lines.length > 0) ctx.out.write(lines.join('\n') + '\n');
      }),
    );
}
