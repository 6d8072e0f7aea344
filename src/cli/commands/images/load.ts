import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';

import type { Command } from 'commander';

import { loadImages } from '../../../client/images.js';
import { CliError, type CliContext } from '../../context.js';
import { fsErrorMessage, isTerminal, runCommand, showJsonStream } from './common.js';

/** Opens a file for reading, failing as Go's os.Open does (`open x: no such file or directory`). */
export async function openInput(path: string): Promise<Readable> {
  const stream = createReadStream(path);
  try {
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', reject);
    });
  } catch (err) {
    throw new CliError(fsErrorMessage(err, 'open', path));
  }
  return stream;
}

/**
 * `load [OPTIONS]`: a tarball from `-i FILE` or stdin. The daemon is asked
 * for quiet output (no progress bars) unless stdout is a terminal; it reports
 * `Loaded image: …` lines.
 */
export function registerLoad(parent: Command, ctx: CliContext): Command {
  return parent
    .command('load')
    .description('Load an image from a tar archive or STDIN')
    .option('-i, --input <file>', 'read from tar archive file, instead of STDIN')
    .option('-q, --quiet', 'suppress the load output')
    .action((opts: { input?: string; quiet?: boolean }) =>
      runCommand(async () => {
        let input: Readable;
        if (opts.input === undefined || opts.input === '') {
          if (isTerminal(process.stdin)) throw new CliError('requested load from stdin, but stdin is empty');
          input = process.stdin;
        } else {
          input = await openInput(opts.input);
        }
        const quiet = opts.quiet === true || !isTerminal(ctx.out);
        const res = await loadImages(ctx.client(), input, { quiet });
        await showJsonStream(ctx, res);
      }),
    );
}
