import type { Command } from 'commander';

import { inspectVolumeRaw } from '../../../client/volumes.js';
import { CliError, type CliContext } from '../../context.js';
import { asGoMap, parseTemplate, type Template } from '../../output/template.js';
import { errorText, runCommand } from '../images/common.js';
import { compactJson, executeInspectTemplate, indentJson, typedView } from '../images/inspect.js';

/** The map fields of moby's volume.Volume. */
const MAP_FIELDS = ['Labels', 'Options', 'Status'] as const;

/** A nil Go map: no keys (`{{.Labels.x}}` is `<no value>`), printed `map[]`, JSON `null`. */
function nilMap(): Record<string, unknown> {
  const map: Record<string, unknown> = {};
  Object.defineProperty(map, 'toJSON', { value: () => null, enumerable: false });
  return asGoMap(map, { zero: '' });
}

/** The inspect object as docker's typed volume.Volume behaves in templates: null or absent maps are nil maps. */
export function typedVolumeView(parsed: unknown): unknown {
  const view = typedView(parsed);
  if (typeof view !== 'object' || view === null || Array.isArray(view)) return view;
  const struct = view as Record<string, unknown>;
  for (const key of MAP_FIELDS) if (struct[key] === null || struct[key] === undefined) struct[key] = nilMap();
  return struct;
}

/** docker's TemplateInspector on one volume: the typed volume first, the raw JSON when that fails. */
export function executeVolumeTemplate(template: Template, parsed: unknown): string {
  try {
    return template.execute(typedVolumeView(parsed));
  } catch {
    return executeInspectTemplate(template, parsed);
  }
}

/**
 * docker's inspect.Inspect for volumes: every name fetched, printed as one
 * indented JSON array (or the template's lines, or compact JSON for
 * `json`), then the failures, one line each, with status 1. A bad template
 * is status 64.
 */
export async function inspectVolumes(
  ctx: CliContext,
  names: readonly string[],
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
  for (const name of names) {
    try {
      const { raw } = await inspectVolumeRaw(ctx.client(), name);
      if (template) lines += executeVolumeTemplate(template, JSON.parse(raw)) + '\n';
      else raws.push(raw.trim());
    } catch (err) {
      errors.push(err instanceof CliError ? err.message : errorText(err));
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

/** `volume inspect [OPTIONS] VOLUME [VOLUME...]`. */
export function registerVolumeInspect(parent: Command, ctx: CliContext): Command {
  return parent
    .command('inspect')
    .description('Display detailed information on one or more volumes')
    .argument('<volume...>', 'VOLUME [VOLUME...]')
    .option('-f, --format <format>', 'format output using a custom template ("json" or a Go template)')
    .action((names: string[], opts: { format?: string }) =>
      runCommand(() => inspectVolumes(ctx, names, opts.format)),
    );
}
