/**
 * What every `inspect` command shares: docker's inspect.Inspect loop, its
 * TemplateInspector fallback, and Go's JSON re-indenting of the daemon's text.
 */
import { CliError, type CliContext } from '../context.js';
import { asGoMap, parseTemplate, type Template } from '../output/template.js';
import { errorText } from './images/common.js';

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

/** A nil Go map: no keys (`{{.Labels.x}}` is `<no value>`), printed `map[]`, JSON `null`. */
export function nilMap(): Record<string, unknown> {
  const map: Record<string, unknown> = {};
  Object.defineProperty(map, 'toJSON', { value: () => null, enumerable: false });
  return asGoMap(map, { zero: '' });
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
 * docker's TemplateInspector on one object: the template against the typed
 * object (`typed` builds it from the parsed JSON), and when that fails,
 * against the raw JSON with every object a map and `missingkey=error`.
 * @throws CliError `template parsing error: …`.
 */
export function executeTemplateInspector(
  template: Template,
  parsed: unknown,
  typed: (parsed: unknown) => unknown,
): string {
  try {
    return template.execute(typed(parsed));
  } catch {
    try {
      return template.execute(rawView(parsed), { missingKey: 'error' });
    } catch (err) {
      throw new CliError(`template parsing error: ${(err as Error).message}`);
    }
  }
}

/** Fetches one object's raw JSON. */
export type GetRaw = (ref: string) => Promise<string>;

/** Runs a parsed `--format` template on one fetched object. */
export type ExecuteTemplate = (template: Template, parsed: unknown) => string;

/**
 * docker's inspect.Inspect: every reference fetched, printed as one indented
 * JSON array (or the template's lines, or compact JSON for `json`), then the
 * failures, one line each, with status 1. A bad template is status 64.
 */
export async function inspectRefs(
  ctx: CliContext,
  refs: readonly string[],
  format: string | undefined,
  getRaw: GetRaw,
  execute: ExecuteTemplate,
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
      const raw = await getRaw(ref);
      if (template) lines += execute(template, JSON.parse(raw)) + '\n';
      else raws.push(raw.trim());
    } catch (err) {
      errors.push(errorText(err));
    }
  }
  if (template) ctx.out.write(lines === '' ? '\n' : lines);
  else if (raws.length === 0) ctx.out.write('[]\n');
  else {
    const joined = `[${raws.join(',')}]`;
    ctx.out.write((format === 'json' ? compactJson(joined) : indentJson(joined, '    ')) + '\n');
  }
  if (errors.length > 0) throw new CliError(errors.join('\n'), 1);
}
