import type { Command } from 'commander';

import type { Volume } from '../../../api/types/index.js';
import { listVolumes } from '../../../client/volumes.js';
import { CliError, type CliContext } from '../../context.js';
import { formatItems } from '../../output/format.js';
import { TemplateError } from '../../output/template.js';
import { humanSize } from '../../output/units.js';
import { naturalLess } from '../containers/port.js';
import { filterFlag, parseFilterFlags, readDockerConfig, runCommand } from '../images/common.js';

const DEFAULT_TABLE = 'table {{.Driver}}\t{{.Name}}';

/** Column titles of `docker volume ls` (formatter.newVolumeContext). */
export const VOLUME_HEADERS: Readonly<Record<string, string>> = {
  ID: 'ID',
  Name: 'VOLUME NAME',
  Group: 'GROUP',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  Availability: 'AVAILABILITY',
  Mountpoint: 'MOUNTPOINT',
  Labels: 'LABELS',
  Links: 'LINKS',
  Size: 'SIZE',
  Status: 'STATUS',
};

/**
 * One row of `docker volume ls` as templates see it: the fields of docker's
 * volumeContext, in the (sorted) order its JSON has, and its `Label` method.
 */
export interface VolumeRow {
  Availability: string;
  Driver: string;
  Group: string;
  Labels: string;
  Links: string;
  Mountpoint: string;
  Name: string;
  Scope: string;
  Size: string;
  Status: string;
  Label(name: string): string;
}

/** Rows are instances of a class named as docker's type, for template error messages. */
const VolumeContext = {
  '*formatter.volumeContext': class {
    labels: Record<string, string> = {};
    Label(name: unknown): string {
      return this.labels[String(name)] ?? '';
    }
  },
}['*formatter.volumeContext'];

/** The `docker volume ls` row of a volume. */
export function volumeRow(v: Partial<Volume>): VolumeRow {
  const labels = v.Labels ?? {};
  const row = Object.assign(new VolumeContext(), {
    Availability: 'N/A',
    Driver: v.Driver ?? '',
    Group: 'N/A',
    Labels: Object.entries(labels)
      .map(([k, val]) => `${k}=${val}`)
      .sort()
      .join(','),
    Links: v.UsageData ? String(v.UsageData.RefCount) : 'N/A',
    Mountpoint: v.Mountpoint ?? '',
    Name: v.Name ?? '',
    Scope: v.Scope ?? '',
    Size: v.UsageData ? humanSize(v.UsageData.Size) : 'N/A',
    Status: 'N/A',
  });
  Object.defineProperty(row, 'labels', { value: labels, enumerable: false });
  return row;
}

/** docker's NewVolumeFormat: the default table, `raw`, `-q`, or the user's. */
export function volumeFormat(source: string, quiet: boolean): string {
  if (source === 'table' || source === '') return quiet ? '{{.Name}}' : DEFAULT_TABLE;
  if (source === 'raw') return quiet ? 'name: {{.Name}}' : 'name: {{.Name}}\\ndriver: {{.Driver}}\\n';
  return source;
}

/**
 * `docker volume ls` output, names sorted naturally.
 * @throws TemplateError `template parsing error: …` for a bad format.
 */
export function renderVolumes(
  volumes: readonly Partial<Volume>[],
  options: { format?: string; quiet?: boolean } = {},
): string {
  const sorted = [...volumes].sort((a, b) =>
    naturalLess(a.Name ?? '', b.Name ?? '') ? -1 : naturalLess(b.Name ?? '', a.Name ?? '') ? 1 : 0,
  );
  const format = volumeFormat(options.format ?? '', options.quiet === true);
  return formatItems(format, sorted.map(volumeRow), VOLUME_HEADERS, { escapeItemJSON: true });
}

/** The config file's `volumesFormat` (the default `--format` of `volume ls`). */
function configuredFormat(ctx: CliContext): string {
  try {
    const data = JSON.parse(readDockerConfig(ctx).serialize()) as { volumesFormat?: unknown };
    return typeof data.volumesFormat === 'string' ? data.volumesFormat : '';
  } catch {
    return '';
  }
}

interface LsFlags {
  quiet?: boolean;
  format?: string;
  filter?: string[];
}

/** `volume ls [OPTIONS]` (alias `list`). */
export function registerVolumeList(parent: Command, ctx: CliContext): Command {
  return parent
    .command('ls')
    .alias('list')
    .description('List volumes')
    .option('-q, --quiet', 'only display volume names')
    .option(
      '--format <format>',
      'format output using a custom template ("table", "table TEMPLATE", "json", or a Go template)',
    )
    .option(
      '-f, --filter <filter>',
      'provide filter values (e.g. "dangling=true")',
      filterFlag('-f, --filter'),
    )
    .action((opts: LsFlags) =>
      runCommand(async () => {
        const filters = parseFilterFlags(opts.filter);
        const res = await listVolumes(ctx.client(), filters);
        let format = opts.format ?? '';
        if (format === '') {
          const configured = opts.quiet ? '' : configuredFormat(ctx);
          format = configured !== '' ? configured : 'table';
        }
        try {
          ctx.out.write(renderVolumes(res.Volumes ?? [], { format, quiet: opts.quiet === true }));
        } catch (err) {
          if (err instanceof TemplateError) throw new CliError(err.message);
          throw err;
        }
      }),
    );
}
