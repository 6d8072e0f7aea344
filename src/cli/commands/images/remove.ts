import type { Command } from 'commander';

import type { ImageDeleteResponseItem } from '../../../api/types/index.js';
import { ApiError } from '../../../client/client.js';
import { removeImage } from '../../../client/images.js';
import { CliError, type CliContext } from '../../context.js';
import { errorText, runCommand } from './common.js';

/** docker's lines for a removal: `Deleted: sha256:…` or `Untagged: name:tag`. */
export function renderDeleteItems(items: readonly ImageDeleteResponseItem[]): string {
  return items
    .map((d) => (d.Deleted ? `Deleted: ${d.Deleted}\n` : `Untagged: ${d.Untagged ?? ''}\n`))
    .join('');
}

interface RemoveFlags {
  force?: boolean;
  /** false with `--no-prune`. */
  prune?: boolean;
}

/**
 * `rmi [OPTIONS] IMAGE [IMAGE...]` and `image rm` (aliases `rmi`, `remove`).
 * Every image is tried; the failures are reported together at the end. With
 * `-f`, images that do not exist are only warned about.
 */
export function registerRemove(parent: Command, ctx: CliContext, name: 'rmi' | 'rm' = 'rmi'): Command {
  const cmd = parent.command(name);
  if (name === 'rm') cmd.aliases(['rmi', 'remove']);
  return cmd
    .description('Remove one or more images')
    .argument('<image...>', 'IMAGE [IMAGE...]')
    .option('-f, --force', 'force removal of the image')
    .option('--no-prune', 'do not delete untagged parents')
    .action((images: string[], opts: RemoveFlags) =>
      runCommand(async () => {
        const errors: string[] = [];
        let fatal = false;
        for (const image of images) {
          try {
            const items = await removeImage(ctx.client(), image, {
              force: opts.force === true,
              noPrune: opts.prune === false,
            });
            ctx.out.write(renderDeleteItems(items));
          } catch (err) {
            if (!(err instanceof ApiError && err.status === 404)) fatal = true;
            errors.push(errorText(err));
          }
        }
        if (errors.length === 0) return;
        if (!opts.force || fatal) throw new CliError(errors.join('\n'));
        ctx.err.write(errors.join('\n') + '\n');
      }),
    );
}
