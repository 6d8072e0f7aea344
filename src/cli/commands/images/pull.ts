import type { Command } from 'commander';

import {
  familiarString,
  isNameOnly,
  parseNormalizedNamed,
  pullImage,
  referenceString,
  tagNameOnly,
} from '../../../client/images.js';
import { CliError, type CliContext } from '../../context.js';
import { registryAuthFor, runCommand, showJsonStream } from './common.js';

interface PullFlags {
  allTags?: boolean;
  quiet?: boolean;
  platform?: string;
}

/** `pull [OPTIONS] NAME[:TAG|@DIGEST]`: pulls through the daemon, showing its progress stream. */
export function registerPull(parent: Command, ctx: CliContext): Command {
  return parent
    .command('pull')
    .description('Download an image from a registry')
    .argument('<name>', 'NAME[:TAG|@DIGEST]')
    .option('-a, --all-tags', 'download all tagged images in the repository')
    .option('-q, --quiet', 'suppress verbose output')
    .option(
      '--platform <platform>',
      'set platform if server is multi-platform capable',
      process.env['DOCKER_DEFAULT_PLATFORM'] || undefined,
    )
    .action((name: string, opts: PullFlags) =>
      runCommand(async () => {
        let ref = parseNormalizedNamed(name);
        const all = opts.allTags === true;
        if (all && !isNameOnly(ref)) throw new CliError("tag can't be used with --all-tags/-a");
        if (!all && isNameOnly(ref)) {
          ref = tagNameOnly(ref);
          if (!opts.quiet) ctx.out.write(`Using default tag: ${ref.tag}\n`);
        }
        const registryAuth = registryAuthFor(ctx, referenceString(ref));
        const res = await pullImage(ctx.client(), familiarString(ref), {
          allTags: all,
          platform: opts.platform,
          registryAuth,
        });
        await showJsonStream(ctx, res, { quiet: opts.quiet });
        ctx.out.write(`${referenceString(ref)}\n`);
      }),
    );
}
