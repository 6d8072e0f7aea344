/**
 * The docker CLI's `--format` contract (docker/cli cli/command/formatter):
 *
 * - `table` (or an empty format): the command's default table format.
 * - `table TEMPLATE`: a header row (TEMPLATE executed against the column
 *   headers, with docker's header functions) and one row per item, aligned
 *   by the tabwriter (`minwidth 10, tabwidth 1, padding 3`).
 * - `json`: each item as `{{json .}}` on its own line.
 * - anything else: a template executed for each item, one item per line.
 *
 * Before parsing, `table` is cut off the front, surrounding spaces are
 * trimmed, and the two-character escapes `\t` and `\n` become a tab and a
 * newline. Parse and execution errors are reported as docker does:
 * `template parsing error: template: …`.
 */
import { tabwrite, type TabwriterOptions } from './tabwriter.js';
import { TemplateError, asGoMap, parseTemplate, type ParseOptions, type Template } from './template.js';

/** The format key for tables. */
export const TABLE_FORMAT_KEY = 'table';
/** The format key for JSON lines. */
export const JSON_FORMAT_KEY = 'json';
/** The template the `json` format stands for. */
export const JSON_FORMAT = '{{json .}}';

/** Options for {@link formatItems} and {@link validateFormat}. */
export interface FormatOptions extends ParseOptions {
  /**
   * The command's default table format (e.g. `table {{.ID}}\t{{.Name}}`),
   * used for the formats `table` and `""`. Without it a bare `table` renders
   * an empty template, as docker's formatter does.
   */
  defaultTableFormat?: string;
  /**
   * HTML-escape (`\u003c`, `\u003e`, `\u0026`) the JSON of a whole item,
   * i.e. `json .` where dot is the item. Docker's list commands (ps, images,
   * volume ls, network ls…) produce this, because their formatter contexts
   * marshal themselves with json.Marshal; `json` of any other value is not
   * escaped. Default false.
   */
  escapeItemJSON?: boolean;
  /** Tabwriter settings for tables; docker's by default. */
  tabwriter?: TabwriterOptions;
}

/** True for table formats: those starting with `table`, as docker's `Format.IsTable`. */
export function isTableFormat(format: string): boolean {
  return format.startsWith(TABLE_FORMAT_KEY);
}

/** True for the `json` format key (not for templates using `json`). */
export function isJsonFormat(format: string): boolean {
  return format === JSON_FORMAT_KEY;
}

/** docker's `Format.templateString`: the template source a format stands for. */
export function formatToTemplate(format: string): string {
  if (format === TABLE_FORMAT_KEY) return '';
  if (format === JSON_FORMAT_KEY) return JSON_FORMAT;
  let out = isTableFormat(format) ? format.slice(TABLE_FORMAT_KEY.length) : format;
  out = out.replace(/^ +| +$/g, '');
  return out.replace(/\\[tn]/g, (esc) => (esc === '\\t' ? '\t' : '\n'));
}

function resolveFormat(format: string, options: FormatOptions | undefined): string {
  if ((format === '' || format === TABLE_FORMAT_KEY) && options?.defaultTableFormat !== undefined) {
    return options.defaultTableFormat;
  }
  return format === '' ? TABLE_FORMAT_KEY : format;
}

function parsingError(e: unknown): TemplateError {
  const message = e instanceof Error ? e.message : String(e);
  return new TemplateError(`template parsing error: ${message}`, { cause: e });
}

function parseFormat(format: string, options: FormatOptions | undefined): Template {
  try {
    return parseTemplate(formatToTemplate(format), options);
  } catch (e) {
    throw parsingError(e);
  }
}

/** The label docker's header context gives `{{.Label "a.b-c"}}`: the last dotted part, `-`/`_` as spaces. */
export function headerLabel(name: string): string {
  const parts = name.split('.');
  return parts[parts.length - 1].replace(/[-_]/g, ' ');
}

/** The header row's data: docker's SubHeaderContext, a map[string]string with a Label method. */
function headerContext(headers: Readonly<Record<string, string>>): Record<string, unknown> {
  const data: Record<string, unknown> = asGoMap({ ...headers }, { zero: '' });
  Object.defineProperty(data, 'Label', {
    value: (name: unknown) => headerLabel(String(name)),
    enumerable: false,
  });
  return data;
}

/**
 * Renders `items` in `format` (see the module comment); `headers` maps field
 * names to column titles, e.g. `{ ID: 'CONTAINER ID', Names: 'NAMES' }`.
 * Each line, the last included, ends with a newline. A table has a header
 * row even without items.
 * @throws TemplateError `template parsing error: …` on a parse or execution
 *   error of an item (errors in the header row are ignored, as docker does).
 */
export function formatItems(
  format: string,
  items: readonly object[],
  headers: Readonly<Record<string, string>>,
  options?: FormatOptions,
): string {
  const resolved = resolveFormat(format, options);
  const tmpl = parseFormat(resolved, options);
  let rows = '';
  for (const item of items) {
    try {
      rows += tmpl.execute(item, {
        jsonEscapeHTML: options?.escapeItemJSON === true ? (v) => v === item : false,
      });
    } catch (e) {
      throw parsingError(e);
    }
    rows += '\n';
  }
  if (!isTableFormat(resolved)) return rows;
  const header = tmpl.executePartial(headerContext(headers), { header: true }).output;
  return tabwrite(header + '\n' + rows, options?.tabwriter);
}

/**
 * Checks a format the way docker checks some before use (e.g. `docker
 * events`): parses it and executes it against a zero-valued `sample` item,
 * so that unknown fields fail early.
 * @throws TemplateError `template parsing error: …`.
 */
export function validateFormat(format: string, sample: object, options?: FormatOptions): void {
  const tmpl = parseFormat(resolveFormat(format, options), options);
  try {
    tmpl.execute(sample);
  } catch (e) {
    throw parsingError(e);
  }
}
