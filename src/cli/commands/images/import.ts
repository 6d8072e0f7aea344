import type { Readable } from 'node:stream';

import type { Command } from 'commander';

import { importImage, type ImageImportOptions } from '../../../client/images.js';
import type { CliContext } from '../../context.js';
import { collect, runCommand, showJsonStream } from './common.js';
import { openInput } from './load.js';

interface ImportFlags {
  change?: string[];
  message?: string;
  platform?: string;
}

/**
 * `import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]`: a filesystem tarball
 * (a file, stdin, or a URL the daemon fetches) as a one-layer image. The
 * daemon's stream ends with the new image's ID, which is printed.
 */
export function registerImport(parent: Command, ctx: CliContext): Command {
  return parent
    .command('import')
    .description('Import the contents from a tarball to create a filesystem image')
    .argument('<source>', 'file|URL|-')
    .argument('[reference]', 'REPOSITORY[:TAG]')
    .option(
      '-c, --change <instruction>',
      'apply Dockerfile instruction to the created image (repeatable)',
      collect,
    )
    .option('-m, --message <message>', 'set commit message for imported image')
    .option(
      '--platform <platform>',
      'set platform if server is multi-platform capable',
      process.env['DOCKER_DEFAULT_PLATFORM'] || undefined,
    )
    .action((source: string, reference: string | undefined, opts: ImportFlags) =>
      runCommand(async () => {
        let src: ImageImportOptions['source'];
        if (source === '-') {
          src = { body: process.stdin as Readable };
        } else if (source.startsWith('https://') || source.startsWith('http://')) {
          src = { url: source };
        } else {
          src = { body: await openInput(source) };
        }
        const res = await importImage(ctx.client(), {
          source: src,
          repository: reference,
          message: opts.message,
          changes: opts.change ?? [],
          platform: opts.platform,
        });
        await showJsonStream(ctx, res);
      }),
    );
}
