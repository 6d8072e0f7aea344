import type { Command } from 'commander';

import type { ImageSummary } from '../../../api/types/index.js';
import { familiarName, listImages, parseNormalizedNamed } from '../../../client/images.js';
import { CliError, type CliContext } from '../../context.js';
import { formatItems, isTableFormat } from '../../output/format.js';
import { TemplateError } from '../../output/template.js';
import { humanSize, humanSizeWithPrecision, timeAgo } from '../../output/units.js';
import { filterFlag, goTimeString, parseFilterFlags, readDockerConfig, runCommand } from './common.js';

const DEFAULT_TABLE =
  'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}';
const DEFAULT_TABLE_WITH_DIGEST =
  'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}';

/** Column titles of `docker images` (formatter.newImageContext). */
export const IMAGE_HEADERS: Readonly<Record<string, string>> = {
  ID: 'IMAGE ID',
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  Digest: 'DIGEST',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
  Containers: 'CONTAINERS',
  SharedSize: 'SHARED SIZE',
  UniqueSize: 'UNIQUE SIZE',
  VirtualSize: 'SIZE',
};

/**
 * One row of `docker images` as templates see it: the fields of docker's
 * imageContext, in the (sorted) order its JSON has.
 */
export interface ImageRow {
  Containers: string;
  CreatedAt: string;
  CreatedSince: string;
  Digest: string;
  ID: string;
  Repository: string;
  SharedSize: string;
  Size: string;
  Tag: string;
  UniqueSize: string;
  /** Deprecated in docker, equal to Size but with four digits. */
  VirtualSize: string;
}

/**
 * The rows are instances of a class named as docker's type, so template
 * errors read alike (`can't evaluate field X in type *formatter.imageContext`).
 */
const ImageContext = { '*formatter.imageContext': class {} }['*formatter.imageContext'];

/** stringid.TruncateID: the hex after the algorithm, cut to 12 characters. */
export function truncateId(id: string): string {
  const colon = id.indexOf(':');
  return (colon >= 0 ? id.slice(colon + 1) : id).slice(0, 12);
}

/** docker's `--format` for images: the default tables, `raw`, or the user's (digest column added to tables). */
export function imageFormat(source: string, quiet: boolean, digest: boolean): string {
  if (source === 'table') {
    if (quiet) return '{{.ID}}';
    return digest ? DEFAULT_TABLE_WITH_DIGEST : DEFAULT_TABLE;
  }
  if (source === 'raw') {
    if (quiet) return 'image_id: {{.ID}}';
    return digest
      ? 'repository: {{ .Repository }}\ntag: {{.Tag}}\ndigest: {{.Digest}}\nimage_id: {{.ID}}\ncreated_at: {{.CreatedAt}}\nvirtual_size: {{.Size}}\n'
      : 'repository: {{ .Repository }}\ntag: {{.Tag}}\nimage_id: {{.ID}}\ncreated_at: {{.CreatedAt}}\nvirtual_size: {{.Size}}\n';
  }
  if (isTableFormat(source) && digest && !source.includes('{{.Digest}}')) return source + '\t{{.Digest}}';
  return source;
}

function isDangling(img: ImageSummary): boolean {
  const tags = img.RepoTags ?? [];
  const digests = img.RepoDigests ?? [];
  if (tags.length === 0 && digests.length === 0) return true;
  return (
    tags.length === 1 && tags[0] === '<none>:<none>' && digests.length === 1 && digests[0] === '<none>@<none>'
  );
}

export interface ImageRowOptions {
  /** Truncate IDs (not `--no-trunc`). */
  trunc: boolean;
  /** `--digests`: a row per digest, digest-only references by digest. */
  digests: boolean;
  /** The format shows `{{.Digest}}` (so tags are paired with their digests). */
  formatHasDigest: boolean;
  /** The clock for CREATED, in milliseconds. */
  now?: number;
}

/**
 * The rows docker prints for images (formatter.imageFormat): a dangling
 * image is one `<none>` row; otherwise a row per repository and tag, per
 * digest too when digests are shown, and a `<none>` tag row for
 * repositories known only by digest.
 */
export function imageRows(images: readonly ImageSummary[], options: ImageRowOptions): ImageRow[] {
  const rows: ImageRow[] = [];
  const needDigest = options.digests || options.formatHasDigest;
  for (const img of images) {
    const row = (repo: string, tag: string, digest: string): ImageRow =>
      Object.assign(new ImageContext(), {
        Containers: img.Containers === -1 || img.Containers === undefined ? 'N/A' : String(img.Containers),
        CreatedAt: goTimeString(img.Created),
        CreatedSince: timeAgo(img.Created, options.now),
        Digest: digest,
        ID: options.trunc ? truncateId(img.Id) : img.Id,
        Repository: repo,
        SharedSize: img.SharedSize === -1 || img.SharedSize === undefined ? 'N/A' : humanSize(img.SharedSize),
        Size: humanSizeWithPrecision(img.Size, 3),
        Tag: tag,
        UniqueSize:
          img.Size === -1 || img.SharedSize === -1 || img.SharedSize === undefined
            ? 'N/A'
            : humanSize(img.Size - img.SharedSize),
        VirtualSize: humanSize(img.Size),
      });
    if (isDangling(img)) {
      rows.push(row('<none>', '<none>', '<none>'));
      continue;
    }
    const repoTags = new Map<string, string[]>();
    const repoDigests = new Map<string, string[]>();
    for (const refString of img.RepoTags ?? []) {
      try {
        const ref = parseNormalizedNamed(refString);
        if (ref.tag !== undefined && ref.digest === undefined) {
          const name = familiarName(ref);
          repoTags.set(name, [...(repoTags.get(name) ?? []), ref.tag]);
        }
      } catch {
        // not a reference (`<none>:<none>`): skipped, as docker does
      }
    }
    for (const refString of img.RepoDigests ?? []) {
      try {
        const ref = parseNormalizedNamed(refString);
        if (ref.digest !== undefined && ref.tag === undefined) {
          const name = familiarName(ref);
          repoDigests.set(name, [...(repoDigests.get(name) ?? []), ref.digest]);
        }
      } catch {
        // skipped
      }
    }
    for (const [repo, tags] of repoTags) {
      let digests = repoDigests.get(repo) ?? [];
      repoDigests.delete(repo);
      if (!needDigest) digests = [];
      for (const tag of tags) {
        if (digests.length === 0) rows.push(row(repo, tag, '<none>'));
        else for (const digest of digests) rows.push(row(repo, tag, digest));
      }
    }
    for (const [repo, digests] of repoDigests) {
      if (options.digests) for (const digest of digests) rows.push(row(repo, '<none>', digest));
      else rows.push(row(repo, '<none>', ''));
    }
  }
  return rows;
}

export interface RenderImagesOptions {
  /** `--format` (empty: the default table). */
  format?: string;
  quiet?: boolean;
  digests?: boolean;
  /** `--no-trunc` turns this off. */
  trunc?: boolean;
  now?: number;
}

/**
 * `docker images` output for the daemon's list.
 * @throws TemplateError `template parsing error: …` for a bad format.
 */
export function renderImages(images: readonly ImageSummary[], options: RenderImagesOptions = {}): string {
  const format = imageFormat(options.format || 'table', options.quiet === true, options.digests === true);
  const rows = imageRows(images, {
    trunc: options.trunc !== false,
    digests: options.digests === true,
    formatHasDigest: format.includes('{{.Digest}}'),
    now: options.now,
  });
  return formatItems(format, rows, IMAGE_HEADERS, { escapeItemJSON: true });
}

interface ImagesFlags {
  all?: boolean;
  quiet?: boolean;
  digests?: boolean;
  trunc?: boolean;
  filter?: string[];
  format?: string;
}

const SUBCOMMANDS = new Set([
  'build',
  'history',
  'import',
  'inspect',
  'list',
  'load',
  'ls',
  'prune',
  'pull',
  'push',
  'rm',
  'save',
  'tag',
]);

/**
 * `images [OPTIONS] [REPOSITORY[:TAG]]` (as `name` "images") and `image ls`
 * (as "ls", alias "list").
 */
export function registerImages(parent: Command, ctx: CliContext, name: 'images' | 'ls' = 'images'): Command {
  const cmd = parent.command(name);
  if (name === 'ls') cmd.alias('list');
  return cmd
    .description('List images')
    .argument('[repository]', 'REPOSITORY[:TAG]')
    .option('-a, --all', 'show all images (default hides intermediate images)')
    .option('-q, --quiet', 'only show image IDs')
    .option('--digests', 'show digests')
    .option('--no-trunc', "don't truncate output")
    .option(
      '-f, --filter <filter>',
      'filter output based on conditions provided (repeatable)',
      filterFlag('-f, --filter'),
    )
    .option(
      '--format <format>',
      'format output using a custom template ("table", "table TEMPLATE", "json", or a Go template)',
    )
    .action((match: string | undefined, opts: ImagesFlags) =>
      runCommand(async () => {
        const filters = parseFilterFlags(opts.filter);
        if (match !== undefined && match !== '') filters.add('reference', match);
        let format = opts.format ?? '';
        if (format === '') {
          const configured = opts.quiet ? '' : readDockerConfig(ctx).imagesFormat;
          format = configured !== '' ? configured : 'table';
        }
        const images = await listImages(ctx.client(), { all: opts.all === true, filters });
        let text: string;
        try {
          text = renderImages(images, {
            format,
            quiet: opts.quiet === true,
            digests: opts.digests === true,
            trunc: opts.trunc !== false,
          });
        } catch (err) {
          if (err instanceof TemplateError) throw new CliError(err.message);
          throw err;
        }
        ctx.out.write(text);
        if (match && images.length === 0 && name === 'images' && SUBCOMMANDS.has(match)) {
          ctx.err.write(`No images found matching "${match}": did you mean "berth image ${match}"?\n`);
        }
      }),
    );
}
