import type { Command } from 'commander';

import { inspectVolumeRaw } from '../../../client/volumes.js';
import type { CliContext } from '../../context.js';
import type { Template } from '../../output/template.js';
import { runCommand } from '../images/common.js';
import { executeInspectTemplate, typedView } from '../images/inspect.js';
import { inspectRefs, nilMap } from '../inspect-common.js';

/** The map fields of moby's volume.Volume. */
const MAP_FIELDS = ['Labels', 'Options', 'Status'] as const;

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
export function inspectVolumes(
  ctx: CliContext,
  names: readonly string[],
  format: string | undefined,
): Promise<void> {
  return inspectRefs(
    ctx,
    names,
    format,
    async (name) => (await inspectVolumeRaw(ctx.client(), name)).raw,
    executeVolumeTemplate,
  );
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
