import type { Command } from 'commander';

import { inspectVolumeRaw } from '../../../client/volumes.js';
import { CliError, type CliContext } from '../../context.js';
import { parseTemplate, type Template } from '../../output/template.js';
import { errorText, runCommand } from '../images/common.js';
import { compactJson, executeInspectTemplate, indentJson } from '../images/inspect.js';

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
      if (template) lines += executeInspectTemplate(template, JSON.parse(raw)) + '\n';
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
