import type { Command } from 'commander';

import type { HistoryResponseItem } from '../../../api/types/index.js';
import { imageHistory } from '../../../client/images.js';
import { CliError, type CliContext } from '../../context.js';
import { displayWidth } from '../../output/tabwriter.js';
import { formatItems } from '../../output/format.js';
import { TemplateError } from '../../output/template.js';
import { humanSizeWithPrecision, timeAgo } from '../../output/units.js';
import { parseGoBool, rfc3339Local, runCommand } from './common.js';
import { truncateId } from './list.js';

const DEFAULT_TABLE = 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';
const NON_HUMAN_TABLE = 'table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';

/** Column titles of `docker history`. */
export const HISTORY_HEADERS: Readonly<Record<string, string>> = {
  ID: 'IMAGE',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  CreatedBy: 'CREATED BY',
  Size: 'SIZE',
  Comment: 'COMMENT',
};

/** One row of `docker history` as templates see it (sorted as its JSON). */
export interface HistoryRow {
  Comment: string;
  CreatedAt: string;
  CreatedBy: string;
  CreatedSince: string;
  ID: string;
  Size: string;
}

/** Rows are instances of a class named as docker's type, for alike template errors. */
const HistoryContext = { '*image.historyContext': class {} }['*image.historyContext'];

/** Unix seconds of 2000-01-01: older creation times show as N/A (scratch layers). */
const EPOCH_2000 = 946684800;

/**
 * docker's formatter.Ellipsis: cuts `s` to `max` display columns, the last
 * being `…`.
 */
export function ellipsis(s: string, max: number): string {
  if (max <= 0) return '';
  const chars = [...s];
  if (max === 1) return chars[0] ?? '';
  if (displayWidth(s) <= max) return s;
  let out = '';
  let width = 0;
  for (const ch of chars) {
    const w = displayWidth(ch);
    if (width + w > max - 1) break;
    out += ch;
    width += w;
  }
  return out + '…';
}

export interface HistoryRowOptions {
  /** Not `--no-trunc`. */
  trunc: boolean;
  /** `-H`/`--human` (the default). */
  human: boolean;
  now?: number;
}

/** The rows of `docker history` (historyContext): `<missing>` for layers without an ID. */
export function historyRows(items: readonly HistoryResponseItem[], options: HistoryRowOptions): HistoryRow[] {
  return items.map((h) => {
    const id = h.Id === '' || h.Id === undefined ? '<missing>' : h.Id;
    const createdAt = rfc3339Local(h.Created);
    const createdBy = (h.CreatedBy ?? '').replace(/\t/g, ' ');
    return Object.assign(new HistoryContext(), {
      Comment: h.Comment ?? '',
      CreatedAt: createdAt,
      CreatedBy: options.trunc ? ellipsis(createdBy, 45) : createdBy,
      CreatedSince: !options.human
        ? createdAt
        : h.Created <= EPOCH_2000
          ? 'N/A'
          : timeAgo(h.Created, options.now),
      ID: options.trunc ? truncateId(id) : id,
      Size: options.human ? humanSizeWithPrecision(h.Size, 3) : String(h.Size),
    });
  });
}

export interface RenderHistoryOptions {
  format?: string;
  quiet?: boolean;
  human?: boolean;
  trunc?: boolean;
  now?: number;
}

/**
 * `docker history` output.
 * @throws TemplateError `template parsing error: …` for a bad format.
 */
export function renderHistory(
  items: readonly HistoryResponseItem[],
  options: RenderHistoryOptions = {},
): string {
  const human = options.human !== false;
  let format = options.format || 'table';
  if (format === 'table') format = options.quiet ? '{{.ID}}' : human ? DEFAULT_TABLE : NON_HUMAN_TABLE;
  const rows = historyRows(items, { trunc: options.trunc !== false, human, now: options.now });
  return formatItems(format, rows, HISTORY_HEADERS, { escapeItemJSON: true });
}

interface HistoryFlags {
  human?: boolean | string;
  quiet?: boolean;
  trunc?: boolean;
  format?: string;
}

/** `history [OPTIONS] IMAGE` (`-H=false` for exact sizes and RFC 3339 dates). */
export function registerHistory(parent: Command, ctx: CliContext): Command {
  return parent
    .command('history')
    .description('Show the history of an image')
    .argument('[image]', 'IMAGE')
    .option('-H, --human [bool]', 'print sizes and dates in human readable format (default true)')
    .option('-q, --quiet', 'only show image IDs')
    .option('--no-trunc', "don't truncate output")
    .option(
      '--format <format>',
      'format output using a custom template ("table", "table TEMPLATE", "json", or a Go template)',
    )
    .action((imageArg: string | undefined, opts: HistoryFlags) =>
      runCommand(async () => {
        // `-H IMAGE` must not take the image as -H's value: only booleans are.
        let image = imageArg;
        let human = true;
        if (typeof opts.human === 'string') {
          const value = parseGoBool(opts.human.replace(/^=/, ''));
          if (value !== undefined) human = value;
          else if (image === undefined) image = opts.human;
          else throw new CliError(`invalid argument "${opts.human}" for "-H, --human" flag: invalid syntax`);
        }
        if (image === undefined || image === '') {
          throw new CliError(
            '"berth history" requires exactly 1 argument.\nUsage:  berth history [OPTIONS] IMAGE',
          );
        }
        const items = await imageHistory(ctx.client(), image);
        try {
          ctx.out.write(
            renderHistory(items, {
              format: opts.format,
              quiet: opts.quiet,
              human,
              trunc: opts.trunc !== false,
            }),
          );
        } catch (err) {
          if (err instanceof TemplateError) throw new CliError(err.message);
          throw err;
        }
      }),
    );
}
