import type { Command } from 'commander';

import type { ContainerSummary, Port } from '../../../api/types/index.js';
import { listContainers } from '../../../client/containers.js';
import { familiarString, parseNormalizedNamed, type ImageReference } from '../../../client/images.js';
import { CliError, type CliContext } from '../../context.js';
import { goBooleanFlags, valueFlag } from '../../opts/flags.js';
import { parseInt64 } from '../../opts/units.js';
import { formatItems } from '../../output/format.js';
import { goQuote } from '../../output/gofmt.js';
import { displayWidth } from '../../output/tabwriter.js';
import { TemplateError, parseTemplate } from '../../output/template.js';
import { humanSizeWithPrecision, timeAgo } from '../../output/units.js';
import { filterFlag, goTimeString, parseFilterFlags } from '../images/common.js';
import { configString, runContainerCommand } from './common.js';

const DEFAULT_TABLE =
  'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';

/** Column titles of `docker ps` (formatter.NewContainerContext). */
export const CONTAINER_HEADERS: Readonly<Record<string, string>> = {
  ID: 'CONTAINER ID',
  Names: 'NAMES',
  Image: 'IMAGE',
  Command: 'COMMAND',
  CreatedAt: 'CREATED AT',
  RunningFor: 'CREATED',
  Ports: 'PORTS',
  State: 'STATE',
  Status: 'STATUS',
  Size: 'SIZE',
  Labels: 'LABELS',
  Mounts: 'MOUNTS',
  LocalVolumes: 'LOCAL VOLUMES',
  Networks: 'NETWORKS',
  Platform: 'PLATFORM',
};

/**
 * formatter.Ellipsis: cuts `s` to `max` display columns, the last being `…`.
 * A width of 1 keeps the first character only.
 */
export function ellipsis(s: string, max: number): string {
  if (max <= 0) return '';
  const chars = [...s];
  if (max === 1) return chars[0] ?? '';
  if (Buffer.byteLength(s) === chars.length) {
    return chars.length <= max ? s : chars.slice(0, max - 1).join('') + '\u2026';
  }
  let width = 0;
  const widths = chars.map((c) => (width += displayWidth(c)));
  if (width <= max) return s;
  for (let i = 0; i < widths.length - 1; i++) {
    if ((widths[i] ?? 0) <= max - 1 && (widths[i + 1] ?? 0) > max - 1) {
      return chars.slice(0, i + 1).join('') + '\u2026';
    }
  }
  return s;
}

/** stringid.TruncateID: the hex after the algorithm, cut to 12 characters. */
export function truncateId(id: string): string {
  const colon = id.indexOf(':');
  return (colon >= 0 ? id.slice(colon + 1) : id).slice(0, 12);
}

/** `docker ps`'s COMMAND: quoted as Go's %q, cut to 20 columns unless `--no-trunc`. */
export function displayCommand(command: string, trunc: boolean): string {
  return goQuote(trunc ? ellipsis(command, 20) : command);
}

function ipKey(ip: string): [number, string] {
  if (ip === '') return [0, ''];
  if (ip.includes(':')) return [2, ip];
  const parts = ip.split('.').map((p) => p.padStart(3, '0'));
  return [1, parts.join('.')];
}

function comparePorts(a: Port, b: Port): number {
  if (a.PrivatePort !== b.PrivatePort) return a.PrivatePort - b.PrivatePort;
  const [ka, sa] = ipKey(a.IP ?? '');
  const [kb, sb] = ipKey(b.IP ?? '');
  if (ka !== kb) return ka - kb;
  if (sa !== sb) return sa < sb ? -1 : 1;
  if ((a.PublicPort ?? 0) !== (b.PublicPort ?? 0)) return (a.PublicPort ?? 0) - (b.PublicPort ?? 0);
  return a.Type < b.Type ? -1 : a.Type > b.Type ? 1 : 0;
}

function joinHostPort(host: string, port: string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * formatter.DisplayablePorts: `0.0.0.0:8080->80/tcp, 9000-9002/tcp`;
 * consecutive ports are grouped, published ones listed after the rest.
 */
export function displayablePorts(ports: readonly Port[]): string {
  const sorted = [...ports].sort(comparePorts);
  const groups = new Map<string, { first: number; last: number }>();
  const keys: string[] = [];
  const result: string[] = [];
  const hostMappings: string[] = [];
  const formGroup = (key: string, start: number, last: number): string => {
    const parts = key.split('/');
    let type = parts[0] ?? '';
    let ip = '';
    if (parts.length > 1) {
      ip = parts[0] ?? '';
      type = parts[1] ?? '';
    }
    let group = String(start);
    if (start !== last) group = `${group}-${last}`;
    if (ip !== '') group = `${joinHostPort(ip, group)}->${group}`;
    return `${group}/${type}`;
  };
  for (const port of sorted) {
    const current = port.PrivatePort;
    let key: string = port.Type;
    if (port.IP) {
      if (port.PublicPort !== current) {
        hostMappings.push(
          `${joinHostPort(port.IP, String(port.PublicPort ?? 0))}->${port.PrivatePort}/${port.Type}`,
        );
        continue;
      }
      key = `${port.IP}/${port.Type}`;
    }
    const group = groups.get(key);
    if (!group) {
      groups.set(key, { first: current, last: current });
      keys.push(key);
      continue;
    }
    if (current === group.last + 1) {
      group.last = current;
      continue;
    }
    result.push(formGroup(key, group.first, group.last));
    groups.set(key, { first: current, last: current });
  }
  for (const key of keys) {
    const g = groups.get(key);
    if (g) result.push(formGroup(key, g.first, g.last));
  }
  return [...result, ...hostMappings].join(', ');
}

/** `docker ps`'s IMAGE: the short ID for an image run by ID, else the familiar name without digest. */
export function displayImage(c: ContainerSummary, trunc: boolean): string {
  const image = c.Image ?? '';
  if (image === '') return '<no image>';
  if (!trunc) return image;
  if (truncateId(c.ImageID ?? '') === truncateId(image)) return truncateId(image);
  let ref: ImageReference;
  try {
    ref = parseNormalizedNamed(image);
  } catch {
    return image;
  }
  if (ref.digest !== undefined)
    ref = { domain: ref.domain, path: ref.path, ...(ref.tag ? { tag: ref.tag } : {}) };
  return familiarString(ref);
}

/**
 * One row of `docker ps` as templates see it: the fields of docker's
 * ContainerContext (in the sorted order its JSON has), and its `Label` method.
 */
export interface ContainerRow {
  Command: string;
  CreatedAt: string;
  ID: string;
  Image: string;
  Labels: string;
  LocalVolumes: string;
  Mounts: string;
  Names: string;
  Networks: string;
  /** The image's platform (API 1.48+ summaries), `<nil>` in templates when unknown. */
  Platform: ContainerPlatform | null;
  Ports: string;
  RunningFor: string;
  Size: string;
  State: string;
  Status: string;
  Label(name: string): string;
}

/** An OCI platform that prints as `linux/amd64` and marshals as the OCI struct (formatter.Platform). */
export class ContainerPlatform {
  readonly os: string;
  readonly architecture: string;
  readonly variant: string;

  constructor(p: { os?: string; architecture?: string; variant?: string }) {
    this.os = p.os ?? '';
    this.architecture = p.architecture ?? '';
    this.variant = p.variant ?? '';
  }

  String(): string {
    if (this.os === '') return 'unknown';
    return [this.os, this.architecture, this.variant].filter((v) => v !== '').join('/');
  }

  toJSON(): Record<string, string> {
    return {
      architecture: this.architecture,
      os: this.os,
      ...(this.variant !== '' ? { variant: this.variant } : {}),
    };
  }
}

function platformOf(c: ContainerSummary): ContainerPlatform | null {
  const descriptor = (c as { ImageManifestDescriptor?: { platform?: Record<string, string> } })
    .ImageManifestDescriptor;
  return descriptor?.platform ? new ContainerPlatform(descriptor.platform) : null;
}

/** Rows are instances of a class named as docker's type, for template error messages. */
const ContainerContext = {
  '*formatter.ContainerContext': class {
    labels: Record<string, string> = {};
    Label(name: unknown): string {
      return this.labels[String(name)] ?? '';
    }
  },
}['*formatter.ContainerContext'];

/** The `docker ps` row of a container; `now` (ms) is the clock for CREATED. */
export function containerRow(c: ContainerSummary, trunc: boolean, now?: number): ContainerRow {
  const names = (c.Names ?? []).map((n) => n.replace(/^\//, ''));
  let name: string;
  if (trunc) name = names.find((n) => !n.includes('/')) ?? '';
  else name = names.join(',');
  const labels = c.Labels ?? {};
  const srw = humanSizeWithPrecision(c.SizeRw ?? 0, 3);
  const sv = humanSizeWithPrecision(c.SizeRootFs ?? 0, 3);
  const row = Object.assign(new ContainerContext(), {
    Command: displayCommand(c.Command ?? '', trunc),
    CreatedAt: goTimeString(c.Created ?? 0),
    ID: trunc ? truncateId(c.Id ?? '') : (c.Id ?? ''),
    Image: displayImage(c, trunc),
    Labels: Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .sort()
      .join(','),
    LocalVolumes: String((c.Mounts ?? []).filter((m) => m.Driver === 'local').length),
    Mounts: (c.Mounts ?? [])
      .map((m) => {
        const n = m.Name ? m.Name : (m.Source ?? '');
        return trunc ? ellipsis(n, 15) : n;
      })
      .join(','),
    Names: name,
    Networks: Object.keys(c.NetworkSettings?.Networks ?? {})
      .sort()
      .join(','),
    Platform: platformOf(c),
    Ports: displayablePorts(c.Ports ?? []),
    RunningFor: timeAgo(c.Created ?? 0, now),
    Size: (c.SizeRootFs ?? 0) > 0 ? `${srw} (virtual ${sv})` : srw,
    State: c.State ?? '',
    Status: c.Status ?? '',
  });
  Object.defineProperty(row, 'labels', { value: labels, enumerable: false });
  return row;
}

/** docker's NewContainerFormat: the default table (with SIZE for `-s`), `raw`, `-q`, or the user's. */
export function containerFormat(source: string, quiet: boolean, size: boolean): string {
  if (source === 'table' || source === '') {
    if (quiet) return '{{.ID}}';
    return size ? DEFAULT_TABLE + '\t{{.Size}}' : DEFAULT_TABLE;
  }
  if (source === 'raw') {
    if (quiet) return 'container_id: {{.ID}}';
    let format =
      'container_id: {{.ID}}\nimage: {{.Image}}\ncommand: {{.Command}}\ncreated_at: {{.CreatedAt}}\nstate: {{- pad .State 1 0}}\nstatus: {{- pad .Status 1 0}}\nnames: {{.Names}}\nlabels: {{- pad .Labels 1 0}}\nports: {{- pad .Ports 1 0}}\n';
    if (size) format += 'size: {{.Size}}\\n';
    return format;
  }
  return quiet ? '{{.ID}}' : source;
}

export interface RenderContainersOptions {
  format?: string;
  quiet?: boolean;
  size?: boolean;
  trunc?: boolean;
  now?: number;
}

/**
 * `docker ps` output for the daemon's list.
 * @throws TemplateError `template parsing error: …` for a bad format.
 */
export function renderContainers(
  containers: readonly ContainerSummary[],
  options: RenderContainersOptions = {},
): string {
  const format = containerFormat(options.format ?? '', options.quiet === true, options.size === true);
  const trunc = options.trunc !== false;
  const rows = containers.map((c) => containerRow(c, trunc, options.now));
  return formatItems(format, rows, CONTAINER_HEADERS, { escapeItemJSON: true });
}

/**
 * docker's template check before listing: the format must parse and run
 * against an empty row.
 * @throws CliError `failed to parse template: …` / `failed to execute template: …`.
 */
export function checkPsFormat(format: string): void {
  let tmpl;
  try {
    tmpl = parseTemplate(format);
  } catch (err) {
    throw new CliError(`failed to parse template: ${(err as Error).message}`);
  }
  try {
    tmpl.execute(containerRow({}, true, 0));
  } catch (err) {
    throw new CliError(`failed to execute template: ${(err as Error).message}`);
  }
}

interface PsFlags {
  all?: boolean;
  quiet?: boolean;
  size?: boolean;
  trunc?: boolean;
  latest?: boolean;
  last?: number;
  filter?: string[];
  format?: string;
}

/** `ps [OPTIONS]` (as `name` "ps") and `container ls` (aliases `ps`, `list`). */
export function registerPs(parent: Command, ctx: CliContext, name: 'ps' | 'ls' = 'ps'): Command {
  const cmd = parent.command(name);
  if (name === 'ls') cmd.aliases(['ps', 'list']);
  cmd
    .description('List containers')
    .option('-a, --all', 'show all containers (default shows just running)')
    .option('-f, --filter <filter>', 'filter output based on conditions provided', filterFlag('-f, --filter'))
    .option(
      '--format <format>',
      'format output using a custom template ("table", "table TEMPLATE", "json", or a Go template)',
    )
    .option(
      '-n, --last <int>',
      'show n last created containers (includes all states)',
      valueFlag('-n, --last', parseInt64),
      -1,
    )
    .option('-l, --latest', 'show the latest created container (includes all states)')
    .option('--no-trunc', "don't truncate output")
    .option('-q, --quiet', 'only display container IDs')
    .option('-s, --size', 'display total file sizes');
  goBooleanFlags(cmd);
  return cmd.action((flags: PsFlags) =>
    runContainerCommand(async () => {
      let format = flags.format ?? '';
      if (format === '') format = configString(ctx, 'psFormat');
      else if (flags.quiet) {
        ctx.err.write('WARNING: Ignoring custom format, because both --format and --quiet are set.\n');
      }
      let size = flags.size === true;
      if (format !== '') {
        checkPsFormat(format);
        if (!flags.quiet && flags.size === undefined && /\.Size\b/.test(format)) size = true;
      }
      const last = flags.last ?? -1;
      const limit = flags.latest && last === -1 ? 1 : last;
      const containers = await listContainers(ctx.client(), {
        all: flags.all === true,
        limit,
        size,
        filters: parseFilterFlags(flags.filter),
      });
      let text: string;
      try {
        text = renderContainers(containers, {
          format,
          quiet: flags.quiet === true,
          size,
          trunc: flags.trunc !== false,
        });
      } catch (err) {
        if (err instanceof TemplateError) throw new CliError(err.message);
        throw err;
      }
      ctx.out.write(text);
    }),
  );
}
