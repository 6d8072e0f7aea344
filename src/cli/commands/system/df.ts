import type { Command } from 'commander';

import type {
  BuildCache,
  ContainerSummary,
  ImageSummary,
  SystemDataUsageResponse,
  Volume,
} from '../../../api/types/index.js';
import { diskUsage } from '../../../client/system.js';
import { CliError, type CliContext } from '../../context.js';
import { formatItems, formatToTemplate, isTableFormat } from '../../output/format.js';
import { TemplateError, parseTemplate } from '../../output/template.js';
import { humanDuration, humanSize, humanSizeWithPrecision } from '../../output/units.js';
import { containerFormat, containerRow, CONTAINER_HEADERS } from '../containers/list.js';
import { runCommand } from '../images/common.js';
import { IMAGE_HEADERS, imageFormat, imageRows, type ImageRow } from '../images/list.js';
import { goTimeText, truncateNetworkId } from '../networks/list.js';
import { VOLUME_HEADERS, volumeFormat, volumeRow } from '../volumes/list.js';

const SUMMARY_TABLE = 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}';
const IMAGE_TABLE =
  'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}';
const CONTAINER_TABLE =
  'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}';
const VOLUME_TABLE = 'table {{.Name}}\t{{.Links}}\t{{.Size}}';
const BUILD_CACHE_TABLE =
  'table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}';

/** Column titles of the summary table (formatter.DiskUsageContext). */
export const DISK_USAGE_HEADERS: Readonly<Record<string, string>> = {
  Type: 'TYPE',
  TotalCount: 'TOTAL',
  Active: 'ACTIVE',
  Size: 'SIZE',
  Reclaimable: 'RECLAIMABLE',
};

/** Column titles of the build cache table (formatter.newBuildCacheContext). */
export const BUILD_CACHE_HEADERS: Readonly<Record<string, string>> = {
  ID: 'CACHE ID',
  Parent: 'PARENT',
  CacheType: 'CACHE TYPE',
  Size: 'SIZE',
  CreatedSince: 'CREATED',
  LastUsedSince: 'LAST USED',
  UsageCount: 'USAGE',
  InUse: 'IN USE',
  Shared: 'SHARED',
  Description: 'DESCRIPTION',
};

/** One summary row, as docker's diskUsage*Context (fields in its JSON order). */
export interface DiskUsageRow {
  Active: string;
  Reclaimable: string;
  Size: string;
  TotalCount: string;
  Type: string;
}

/** A class per docker type, so template errors name it as docker does. */
const ROW_CLASSES = {
  '*formatter.diskUsageImagesContext': class {},
  '*formatter.diskUsageContainersContext': class {},
  '*formatter.diskUsageVolumesContext': class {},
  '*formatter.diskUsageBuilderContext': class {},
};

function row(kind: keyof typeof ROW_CLASSES, fields: DiskUsageRow): DiskUsageRow {
  return Object.assign(new ROW_CLASSES[kind](), fields);
}

/** `X (N%)` when there is a total, Go's integer division for N. */
function withPercent(reclaimable: number, total: number): string {
  if (total > 0) return `${humanSize(reclaimable)} (${Math.trunc((reclaimable * 100) / total)}%)`;
  return humanSize(reclaimable);
}

function containerActive(c: ContainerSummary): boolean {
  return c.State === 'running' || c.State === 'paused' || c.State === 'restarting';
}

/** The build cache size docker shows: the records that are not shared. */
export function builderSize(cache: readonly BuildCache[]): number {
  return cache.reduce((sum, bc) => sum + (bc.Shared ? 0 : (bc.Size ?? 0)), 0);
}

/** The four summary rows of `docker system df` (Images, Containers, Local Volumes, Build Cache). */
export function diskUsageRows(du: SystemDataUsageResponse): DiskUsageRow[] {
  const images = du.Images ?? [];
  const containers = du.Containers ?? [];
  const volumes = du.Volumes ?? [];
  const cache = du.BuildCache ?? [];
  const layersSize = du.LayersSize ?? 0;

  let imagesUsed = 0;
  for (const i of images) {
    if ((i.Containers ?? 0) === 0 || i.Size === -1 || i.SharedSize === -1) continue;
    imagesUsed += i.Size - (i.SharedSize ?? 0);
  }
  const containersSize = containers.reduce((s, c) => s + (c.SizeRw ?? 0), 0);
  const containersReclaimable = containers.reduce(
    (s, c) => s + (containerActive(c) ? 0 : (c.SizeRw ?? 0)),
    0,
  );
  let volumesSize = 0;
  let volumesReclaimable = 0;
  for (const v of volumes) {
    const size = v.UsageData?.Size ?? 0;
    if (size === -1) continue;
    volumesSize += size;
    if ((v.UsageData?.RefCount ?? 0) === 0) volumesReclaimable += size;
  }
  const cacheSize = builderSize(cache);
  const cacheInUse = cache.reduce((s, bc) => s + (bc.InUse && !bc.Shared ? (bc.Size ?? 0) : 0), 0);

  return [
    row('*formatter.diskUsageImagesContext', {
      Active: String(images.filter((i) => (i.Containers ?? 0) > 0).length),
      Reclaimable: withPercent(layersSize - imagesUsed, layersSize),
      Size: humanSize(layersSize),
      TotalCount: String(images.length),
      Type: 'Images',
    }),
    row('*formatter.diskUsageContainersContext', {
      Active: String(containers.filter(containerActive).length),
      Reclaimable: withPercent(containersReclaimable, containersSize),
      Size: humanSize(containersSize),
      TotalCount: String(containers.length),
      Type: 'Containers',
    }),
    row('*formatter.diskUsageVolumesContext', {
      Active: String(volumes.filter((v) => (v.UsageData?.RefCount ?? 0) > 0).length),
      Reclaimable: withPercent(volumesReclaimable, volumesSize),
      Size: humanSize(volumesSize),
      TotalCount: String(volumes.length),
      Type: 'Local Volumes',
    }),
    row('*formatter.diskUsageBuilderContext', {
      Active: String(cache.filter((bc) => bc.InUse).length),
      Reclaimable: humanSize(cacheSize - cacheInUse),
      Size: humanSize(cacheSize),
      TotalCount: String(cache.length),
      Type: 'Build Cache',
    }),
  ];
}

/** One build cache record as docker's buildCacheContext (fields in its JSON order). */
export interface BuildCacheRow {
  CacheType: string;
  CreatedAt: string;
  CreatedSince: string;
  Description: string;
  ID: string;
  InUse: string;
  LastUsedAt: string;
  LastUsedSince: string;
  Parent: string;
  Shared: string;
  Size: string;
  UsageCount: string;
}

const BuildCacheContext = { '*formatter.buildCacheContext': class {} }['*formatter.buildCacheContext'];

function since(rfc3339: string | null | undefined, now: number): string {
  const t = Date.parse(rfc3339 ?? '');
  return `${humanDuration(now - (Number.isNaN(t) ? 0 : t))} ago`;
}

/** docker's buildCacheContext of a record. */
export function buildCacheRow(bc: BuildCache, trunc: boolean, now: number = Date.now()): BuildCacheRow {
  const id = trunc ? truncateNetworkId(bc.ID ?? '') : (bc.ID ?? '');
  const parent = (bc.Parents ?? []).join(', ');
  return Object.assign(new BuildCacheContext(), {
    CacheType: bc.Type ?? '',
    CreatedAt: goTimeText(bc.CreatedAt),
    CreatedSince: since(bc.CreatedAt, now),
    Description: bc.Description ?? '',
    ID: bc.InUse ? `${id}*` : id,
    InUse: String(bc.InUse === true),
    LastUsedAt: bc.LastUsedAt ? goTimeText(bc.LastUsedAt) : '',
    LastUsedSince: bc.LastUsedAt ? since(bc.LastUsedAt, now) : '',
    Parent: trunc ? truncateNetworkId(parent) : parent,
    Shared: String(bc.Shared === true),
    Size: humanSizeWithPrecision(bc.Size ?? 0, 3),
    UsageCount: String(bc.UsageCount ?? 0),
  });
}

/** docker's buildCacheSort: never-used first, then by last use, then by ID. */
function sortBuildCache(cache: readonly BuildCache[]): BuildCache[] {
  return [...cache].sort((a, b) => {
    const la = a.LastUsedAt ? Date.parse(a.LastUsedAt) : undefined;
    const lb = b.LastUsedAt ? Date.parse(b.LastUsedAt) : undefined;
    const byId = (a.ID ?? '') < (b.ID ?? '') ? -1 : (a.ID ?? '') > (b.ID ?? '') ? 1 : 0;
    if (la === undefined && lb === undefined) return byId;
    if (la === undefined) return -1;
    if (lb === undefined) return 1;
    return la === lb ? byId : la - lb;
  });
}

const BUILD_CACHE_RAW =
  'build_cache_id: {{.ID}}\nparent_id: {{.Parent}}\nbuild_cache_type: {{.CacheType}}\ndescription: {{.Description}}\ncreated_at: {{.CreatedAt}}\ncreated_since: {{.CreatedSince}}\nlast_used_at: {{.LastUsedAt}}\nlast_used_since: {{.LastUsedSince}}\nusage_count: {{.UsageCount}}\nin_use: {{.InUse}}\nshared: {{.Shared}}\n';

/** docker's NewDiskUsageFormat: the summary table, `raw` (plain or verbose), or the user's. */
export function diskUsageFormat(source: string, verbose: boolean): string {
  if (verbose && source === 'raw') {
    return (
      `{{range .Images}}type: Image\n${imageFormat('raw', false, true)}\n{{end -}}\n` +
      `{{range .Containers}}type: Container\n${containerFormat('raw', false, true)}\n{{end -}}\n` +
      `{{range .Volumes}}type: Volume\n${volumeFormat('raw', false)}\n{{end -}}\n` +
      `{{range .BuildCache}}type: Build Cache\n${BUILD_CACHE_RAW}\n{{end -}}`
    );
  }
  if (!verbose && source === 'table') return SUMMARY_TABLE;
  if (!verbose && source === 'raw') {
    return 'type: {{.Type}}\ntotal: {{.TotalCount}}\nactive: {{.Active}}\nsize: {{.Size}}\nreclaimable: {{.Reclaimable}}\n';
  }
  return source;
}

/** The first tag of an image as `docker system df -v` shows it (dangling or unparsable images: `<none>`). */
function verboseImageRows(images: readonly ImageSummary[], trunc: boolean, now?: number): ImageRow[] {
  const rows: ImageRow[] = [];
  for (const img of images) {
    const tags = img.RepoTags ?? [];
    const digests = img.RepoDigests ?? [];
    const dangling =
      (tags.length === 0 && digests.length === 0) ||
      (tags.length === 1 &&
        tags[0] === '<none>:<none>' &&
        digests.length === 1 &&
        digests[0] === '<none>@<none>');
    const first = tags[0];
    const single: ImageSummary = {
      ...img,
      RepoTags: first !== undefined && !dangling ? [first] : [],
      RepoDigests: [],
    };
    // docker's df leaves the digest of its image rows empty.
    for (const r of imageRows([single], { trunc, digests: false, formatHasDigest: false, now }))
      rows.push(Object.assign(r, { Digest: '' }));
  }
  return rows;
}

export interface RenderDiskUsageOptions {
  /** `--format` (empty: the table). */
  format?: string;
  verbose?: boolean;
  /** The clock for CREATED columns, in milliseconds. */
  now?: number;
}

/**
 * `docker system df` output: the summary (a table, or each row through the
 * format), or with `-v` a table per kind, or the format executed once over
 * `{Images, Containers, Volumes, BuildCache}`.
 * @throws TemplateError `template parsing error: …` for a bad format.
 */
export function renderDiskUsage(du: SystemDataUsageResponse, options: RenderDiskUsageOptions = {}): string {
  const source = options.format || 'table';
  const format = diskUsageFormat(source, options.verbose === true);
  if (!options.verbose)
    return formatItems(format, diskUsageRows(du), DISK_USAGE_HEADERS, { escapeItemJSON: true });

  const trunc = isTableFormat(format);
  const now = options.now ?? Date.now();
  const images = verboseImageRows(du.Images ?? [], trunc, now);
  const containers = (du.Containers ?? []).map((c) => containerRow({ ...c, SizeRootFs: 0 }, trunc, now));
  const volumes = (du.Volumes ?? []).map((v: Volume) => volumeRow(v));
  const cache = sortBuildCache(du.BuildCache ?? []).map((bc) => buildCacheRow(bc, trunc, now));

  if (format === 'table') {
    return (
      'Images space usage:\n\n' +
      formatItems(IMAGE_TABLE, images, IMAGE_HEADERS) +
      '\nContainers space usage:\n\n' +
      formatItems(CONTAINER_TABLE, containers, CONTAINER_HEADERS) +
      '\nLocal Volumes space usage:\n\n' +
      formatItems(VOLUME_TABLE, volumes, VOLUME_HEADERS) +
      `\nBuild cache usage: ${humanSize(builderSize(du.BuildCache ?? []))}\n\n` +
      formatItems(BUILD_CACHE_TABLE, cache, BUILD_CACHE_HEADERS)
    );
  }
  let template;
  try {
    template = parseTemplate(formatToTemplate(format));
  } catch (err) {
    throw new TemplateError(`template parsing error: ${(err as Error).message}`, { cause: err });
  }
  try {
    return template.execute({ Images: images, Containers: containers, Volumes: volumes, BuildCache: cache });
  } catch (err) {
    throw new TemplateError(`template parsing error: ${(err as Error).message}`, { cause: err });
  }
}

/** `system df [OPTIONS]`. */
export function registerSystemDf(parent: Command, ctx: CliContext): Command {
  return parent
    .command('df')
    .description('Show berth disk usage')
    .option('-v, --verbose', 'show detailed information on space usage')
    .option(
      '--format <format>',
      'format output using a custom template ("table", "table TEMPLATE", "json", or a Go template)',
    )
    .action((opts: { verbose?: boolean; format?: string }) =>
      runCommand(async () => {
        const du = await diskUsage(ctx.client());
        try {
          ctx.out.write(renderDiskUsage(du, { format: opts.format, verbose: opts.verbose === true }));
        } catch (err) {
          if (err instanceof TemplateError) throw new CliError(err.message);
          throw err;
        }
      }),
    );
}
