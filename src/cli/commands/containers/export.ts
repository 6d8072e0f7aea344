import { createWriteStream, renameSync, unlinkSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { pipeline } from 'node:stream/promises';

import type { Command } from 'commander';

import { exportContainer } from '../../../client/containers.js';
import { CliError, type CliContext } from '../../context.js';
import { isTerminal } from '../../terminal.js';
import { fsErrorMessage } from '../images/common.js';
import { runContainerCommand } from './common.js';

/** `export [OPTIONS] CONTAINER`: the filesystem as a tar, to `-o FILE` or a non-terminal stdout. */
export function registerExport(parent: Command, ctx: CliContext): Command {
  return parent
    .command('export')
    .description("Export a container's filesystem as a tar archive")
    .argument('<container>', 'CONTAINER')
    .option('-o, --output <file>', 'write to a file, instead of STDOUT')
    .action((container: string, flags: { output?: string }) =>
      runContainerCommand(async () => {
        const output = flags.output ?? '';
        if (output === '' && isTerminal(ctx.out)) {
          throw new CliError('cowardly refusing to save to a terminal. Use the -o flag or redirect');
        }
        const res = await exportContainer(ctx.client(), container);
        if (output === '') {
          await pipeline(res, ctx.out, { end: false });
          return;
        }
        // As docker's atomicwriter: a temporary file renamed over the target.
        const tmp = join(dirname(output), `.${basename(output)}.${process.pid}.tmp`);
        try {
          await pipeline(res, createWriteStream(tmp, { mode: 0o600 }));
          renameSync(tmp, output);
        } catch (err) {
          try {
            unlinkSync(tmp);
          } catch {
            // never created
          }
          if ((err as NodeJS.ErrnoException).code) {
            throw new CliError(`failed to export container: ${fsErrorMessage(err, 'open', output)}`);
          }
          throw err;
        }
      }),
    );
}
