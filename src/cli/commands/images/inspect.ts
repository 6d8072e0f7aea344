import type { Command } from 'commander';

import { inspectImageRaw } from '../../../client/images.js';
import type { CliContext } from '../../context.js';
import { asGoMap, type Template } from '../../output/template.js';
import { executeTemplateInspector, inspectRefs } from '../inspect-common.js';
import { runCommand } from './common.js';

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

/**
 * Runs an inspect `--format` template on one image as docker's
 * TemplateInspector: against the typed object, and when that fails, against
 * the raw JSON with `missingkey=error`.
 * @throws CliError `template parsing error: …`.
 */
export function executeInspectTemplate(template: Template, parsed: unknown): string {
  return executeTemplateInspector(template, parsed, typedView);
}

/**
 * docker's inspect.Inspect for image references: fetches each, prints them
 * as one indented JSON array (or the template's lines), then reports the
 * references that failed, one line each, with exit status 1.
 */
export function inspectImages(
  ctx: CliContext,
  refs: readonly string[],
  format: string | undefined,
): Promise<void> {
  return inspectRefs(
    ctx,
    refs,
    format,
    async (ref) => (await inspectImageRaw(ctx.client(), ref)).raw,
    executeInspectTemplate,
  );
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
