import type { Command } from 'commander';

import type { FilesystemChange } from '../../../api/types/index.js';
import { containerChanges } from '../../../client/containers.js';
import type { CliContext } from '../../context.js';
import { runContainerCommand } from './common.js';

const KIND = ['C', 'A', 'D'];

/** docker diff's lines: `C /etc`, `A /etc/new`, `D /tmp/old`. */
export function renderChanges(changes: readonly FilesystemChange[]): string {
  return changes.map((c) => `${KIND[c.Kind] ?? '?'} ${c.Path}\n`).join('');
}

/** `diff CONTAINER`. */
export function registerDiff(parent: Command, ctx: CliContext): Command {
  return parent
    .command('diff')
    .description("Inspect changes to files or directories on a container's filesystem")
    .argument('<container>', 'CONTAINER')
    .action((container: string) =>
      runContainerCommand(async () => {
        ctx.out.write(renderChanges(await containerChanges(ctx.client(), container)));
      }),
    );
}
