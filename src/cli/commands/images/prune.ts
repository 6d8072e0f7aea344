import { createInterface } from 'node:readline';

import type { Command } from 'commander';

import type { ImagePruneResponse } from '../../../api/types/index.js';
import { pruneImages } from '../../../client/images.js';
import type { FilterArgs } from '../../../util/filters.js';
import type { CliContext } from '../../context.js';
import { humanSize } from '../../output/units.js';
import { filterFlag, parseFilterFlags, readDockerConfig, runCommand } from './common.js';

const DANGLING_WARNING = 'WARNING! This will remove all dangling images.\nAre you sure you want to continue?';
const ALL_WARNING =
  'WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue?';

/**
 * docker's prompt.Confirm: prints `message [y/N] ` and reads one line;
 * only `y`/`Y` confirms (end of input does not).
 */
export function confirm(
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
  message: string,
): Promise<boolean> {
  output.write(`${message} [y/N] `);
  return new Promise((resolve) => {
    const rl = createInterface({ input, terminal: false });
    let answered = false;
    rl.once('line', (line) => {
      answered = true;
      rl.close();
      resolve(line.trim().toLowerCase() === 'y');
    });
    rl.once('close', () => {
      if (!answered) resolve(false);
    });
  });
}

/** Adds the config file's `pruneFilters` to the flags' filters, as docker's PruneFilters. */
export function mergePruneFilters(filters: FilterArgs, configured: readonly string[]): void {
  for (const f of configured) {
    const eq = f.indexOf('=');
    if (eq === -1) continue;
    const key = f.slice(0, eq);
    const value = f.slice(eq + 1);
    if (key === 'label' && filters.get('label!').includes(value)) continue;
    if (key === 'label!' && filters.get('label').includes(value)) continue;
    filters.add(key, value);
  }
}

/** docker's prune report: the deleted images (if any), then `Total reclaimed space: …`. */
export function renderPruneReport(report: ImagePruneResponse): string {
  let out = '';
  const deleted = report.ImagesDeleted ?? [];
  if (deleted.length > 0) {
    out += 'Deleted Images:\n';
    for (const d of deleted)
      out += d.Untagged ? `untagged: ${d.Untagged}\n` : `deleted: ${d.Deleted ?? ''}\n`;
    out += '\n';
  }
  return out + `Total reclaimed space: ${humanSize(report.SpaceReclaimed ?? 0)}\n`;
}

interface PruneFlags {
  all?: boolean;
  force?: boolean;
  filter?: string[];
}

/** `image prune [OPTIONS]`: asks first unless `-f`; declining ends quietly with status 0. */
export function registerImagePrune(parent: Command, ctx: CliContext): Command {
  return parent
    .command('prune')
    .description('Remove unused images')
    .option('-a, --all', 'remove all unused images, not just dangling ones')
    .option('-f, --force', 'do not prompt for confirmation')
    .option('--filter <filter>', 'provide filter values (e.g. "until=<timestamp>")', filterFlag('--filter'))
    .action((opts: PruneFlags) =>
      runCommand(async () => {
        const filters = parseFilterFlags(opts.filter);
        mergePruneFilters(filters, readDockerConfig(ctx).pruneFilters);
        filters.add('dangling', String(opts.all !== true));
        if (!opts.force) {
          const ok = await confirm(process.stdin, ctx.out, opts.all ? ALL_WARNING : DANGLING_WARNING);
          if (!ok) return;
        }
        const report = await pruneImages(ctx.client(), filters);
        ctx.out.write(renderPruneReport(report));
      }),
    );
}
