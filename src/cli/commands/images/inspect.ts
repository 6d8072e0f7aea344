import type { Command } from 'commander';

import { inspectImageRaw } from '../../../client/images.js';
import { CliError, type CliContext } from '../../context.js';
import { asGoMap, parseTemplate, type Template } from '../../output/template.js';
import { errorText, runCommand } from './common.js';

/**
 * Go's json.Indent: re-indents JSON text without reparsing its values, so
 * numbers and string escapes stay exactly as the daemon wrote them. Empty
 * objects and arrays stay `{}` and `[]`.
 */
export function indentJson(src: string, indent: string): string {
  let out = '';
  let depth = 0;
  let needIndent = false;
  const newline = (): string => '\n' + indent.repeat(depth);
  let i = 0;
  const text = src.replace(/^[ \t\r\n]+/, '');
  while (i < text.length) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
      continue;
    }
    if (needIndent && c !== ']' && c !== '}') {
      needIndent = false;
      depth++;
      out += newline();
    }
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    switch (c) {
      case '{':
      case '[':
        needIndent = true;
        out += c;
        break;
      case ',':
        out += c + newline();
        break;
      case ':':
        out += ': ';
        break;
      case '}':
      case ']':
        if (needIndent) needIndent = false;
        else {
          depth--;
          out += newline();
        }
        out += c;
        break;
      default:
        out += c;
    }
    i++;
  }
  return out;
}

/** Go's json.Compact: drops the insignificant whitespace of JSON text, leaving values as written. */
export function compactJson(src: string): string {
  let out = '';
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== '"') j += src[j] === '\\' ? 2 : 1;
      out += src.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (c !== ' ' && c !== '\t' && c !== '\r' && c !== '\n') out += c;
    i++;
  }
  return out;
}

/** Fields of image.InspectResponse that are Go maps (a missing key is `<no value>`, not an error). */
const MAP_FIELDS = new Set(['Labels', 'ExposedPorts', 'Volumes', 'Data', 'Options']);

/** The inspect object as Go's typed struct behaves in templates: objects are structs, map fields maps. */
export function typedView(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => typedView(v));
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = typedView(v, k);
  return MAP_FIELDS.has(key) ? asGoMap(out) : out;
}

/** The inspect object as docker's raw fallback sees it: every object a map. */
function rawView(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rawView);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = rawView(v);
  return asGoMap(out);
}

/**
 * Runs an inspect `--format` template on one object as docker's
 * TemplateInspector: against the typed object, and when that fails, against
 * the raw JSON with `missingkey=error`.
 * @throws CliError `template parsing error: …`.
 */
export function executeInspectTemplate(template: Template, parsed: unknown): string {
  try {
    return template.execute(typedView(parsed));
  } catch {
    try {
      return template.execute(rawView(parsed), { missingKey: 'error' });
    } catch (err) {
      throw new CliError(`template parsing error: ${(err as Error).message}`);
    }
  }
}

/**
 * docker's inspect.Inspect for image references: fetches each, prints them
 * as one indented JSON array (or the template's lines), then reports the
 * references that failed, one line each, with exit status 1.
 */
export async function inspectImages(
  ctx: CliContext,
  refs: readonly string[],
  format: string | undefined,
): Promise<void> {
  let template: Template | undefined;
  if (format !== undefined && format !== '' && format !== 'json') {
    try {
      template = parseTemplate(format);
    } catch (err) {
      throw new CliError(`template parsing error: ${(err as Error).message}`, 64);
    }
  }
  const raws: string[] = [];
  let lines = '';
  const errors: string[] = [];
  for (const ref of refs) {
    try {
      const { raw } = await inspectImageRaw(ctx.client(), ref);
      if (template) lines += executeInspectTemplate(template, JSON.parse(raw)) + '\n';
      else raws.push(raw.trim());
    } catch (err) {
      errors.push(errorText(err));
    }
  }
  if (template) {
    ctx.out.write(lines === '' ? '\n' : lines);
  } else if (raws.length === 0) {
    ctx.out.write('[]\n');
  } else {
    const joined = `[${raws.join(',')}]`;
    ctx.out.write((format === 'json' ? compactJson(joined) : indentJson(joined, '    ')) + '\n');
  }
  if (errors.length > 0) throw new CliError(errors.join('\n'), 1);
}

/** `image inspect [OPTIONS] IMAGE [IMAGE...]`. */
export function registerImageInspect(parent: Command, ctx: CliContext): Command {
  return parent
    .command('inspect')
    .description('Display detailed information on one or more images')
    .argument('<image...>', 'IMAGE [IMAGE...]')
    .option('-f, --format <format>', 'format output using a custom template ("json" or a Go template)')
    .action((refs: string[], opts: { format?: string }) =>
      runCommand(() => inspectImages(ctx, refs, opts.format)),
    );
}
