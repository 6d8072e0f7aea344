import type { Command } from 'commander';

import type { Network } from '../../../api/types/index.js';
import { listNetworks } from '../../../client/networks.js';
import { CliError, type CliContext } from '../../context.js';
import { formatItems } from '../../output/format.js';
import { TemplateError, goPrint } from '../../output/template.js';
import { naturalLess } from '../containers/port.js';
import { filterFlag, parseFilterFlags, readDockerConfig, runCommand } from '../images/common.js';

const DEFAULT_TABLE = 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}';

/** Column titles of `docker network ls` (network.formatWrite). */
export const NETWORK_HEADERS: Readonly<Record<string, string>> = {
  ID: 'NETWORK ID',
  Name: 'NAME',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  IPv4: 'IPV4',
  IPv6: 'IPV6',
  Internal: 'INTERNAL',
  Labels: 'LABELS',
  CreatedAt: 'CREATED AT',
};

/**
 * One row of `docker network ls` as templates see it: the fields of
 * docker's networkContext, in the (sorted) order its JSON has, and its
 * `Label` method.
 */
export interface NetworkRow {
  CreatedAt: string;
  Driver: string;
  ID: string;
  IPv4: string;
  IPv6: string;
  Internal: string;
  Labels: string;
  Name: string;
  Scope: string;
  Label(name: string): string;
}

/** Rows are instances of a class named as docker's type, for template error messages. */
const NetworkContext = {
  '*network.networkContext': class {
    labels: Record<string, string> = {};
    Label(name: unknown): string {
      return this.labels[String(name)] ?? '';
    }
  },
}['*network.networkContext'];

/** stringid.TruncateID. */
export function truncateNetworkId(id: string): string {
  const colon = id.indexOf(':');
  return (colon >= 0 ? id.slice(colon + 1) : id).slice(0, 12);
}

/**
 * Go's time.Time.String() of an RFC 3339 timestamp, keeping every digit of
 * the fraction: `2024-01-02 03:04:05.123456789 +0000 UTC`. The zero time
 * for an absent one.
 */
export function goTimeText(rfc3339: string | undefined): string {
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(rfc3339 ?? '');
  if (!m) {
    const d = new Date(rfc3339 ?? '');
    return Number.isNaN(d.getTime()) ? '0001-01-01 00:00:00 +0000 UTC' : goPrint(d);
  }
  const fraction = (m[3] ?? '').replace(/0+$/, '');
  const zone =
    m[4] === 'Z' ? '+0000 UTC' : `${(m[4] ?? '').replace(':', '')} ${(m[4] ?? '').replace(':', '')}`;
  return `${m[1]} ${m[2]}${fraction === '.' ? '' : fraction} ${zone}`;
}

/** The `docker network ls` row of a network. */
export function networkRow(n: Partial<Network>, trunc: boolean): NetworkRow {
  const labels = n.Labels ?? {};
  const row = Object.assign(new NetworkContext(), {
    CreatedAt: goTimeText(n.Created),
    Driver: n.Driver ?? '',
    ID: trunc ? truncateNetworkId(n.Id ?? '') : (n.Id ?? ''),
    IPv4: String(n.EnableIPv4 === true),
    IPv6: String(n.EnableIPv6 === true),
    Internal: String(n.Internal === true),
    Labels: Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .sort()
      .join(','),
    Name: n.Name ?? '',
    Scope: n.Scope ?? '',
  });
  Object.defineProperty(row, 'labels', { value: labels, enumerable: false });
  return row;
}

/** docker's network newFormat: the default table, `raw`, `-q`, or the user's. */
export function networkFormat(source: string, quiet: boolean): string {
  if (source === 'table' || source === '') return quiet ? '{{.ID}}' : DEFAULT_TABLE;
  if (source === 'raw') {
    return quiet
      ? 'network_id: {{.ID}}'
      : 'network_id: {{.ID}}\\nname: {{.Name}}\\ndriver: {{.Driver}}\\nscope: {{.Scope}}\\n';
  }
  return source;
}

export interface RenderNetworksOptions {
  format?: string;
  quiet?: boolean;
  /** `--no-trunc` turns this off. */
  trunc?: boolean;
}

/**
 * `docker network ls` output, names sorted naturally.
 * @throws TemplateError `template parsing error: …` for a bad format.
 */
export function renderNetworks(
  networks: readonly Partial<Network>[],
  options: RenderNetworksOptions = {},
): string {
  const sorted = [...networks].sort((a, b) =>
    naturalLess(a.Name ?? '', b.Name ?? '') ? -1 : naturalLess(b.Name ?? '', a.Name ?? '') ? 1 : 0,
  );
  const format = networkFormat(options.format ?? '', options.quiet === true);
  const trunc = options.trunc !== false;
  return formatItems(
    format,
    sorted.map((n) => networkRow(n, trunc)),
    NETWORK_HEADERS,
    { escapeItemJSON: true },
  );
}

/** The config file's `networksFormat` (the default `--format` of `network ls`). */
function configuredFormat(ctx: CliContext): string {
  try {
    const data = JSON.parse(readDockerConfig(ctx).serialize()) as { networksFormat?: unknown };
    return typeof data.networksFormat === 'string' ? data.networksFormat : '';
  } catch {
    return '';
  }
}

interface LsFlags {
  quiet?: boolean;
  trunc?: boolean;
  format?: string;
  filter?: string[];
}

/** `network ls [OPTIONS]` (alias `list`). */
export function registerNetworkList(parent: Command, ctx: CliContext): Command {
  return parent
    .command('ls')
    .alias('list')
    .description('List networks')
    .option('-q, --quiet', 'only display network IDs')
    .option('--no-trunc', 'do not truncate the output')
    .option(
      '--format <format>',
      'format output using a custom template ("table", "table TEMPLATE", "json", or a Go template)',
    )
    .option(
      '-f, --filter <filter>',
      'provide filter values (e.g. "driver=bridge")',
      filterFlag('-f, --filter'),
    )
    .action((opts: LsFlags) =>
      runCommand(async () => {
        const filters = parseFilterFlags(opts.filter);
        const networks = await listNetworks(ctx.client(), filters);
        let format = opts.format ?? '';
        if (format === '') {
          const configured = opts.quiet ? '' : configuredFormat(ctx);
          format = configured !== '' ? configured : 'table';
        }
        try {
          ctx.out.write(
            renderNetworks(networks, { format, quiet: opts.quiet === true, trunc: opts.trunc !== false }),
          );
        } catch (err) {
          if (err instanceof TemplateError) throw new CliError(err.message);
          throw err;
        }
      }),
    );
}
