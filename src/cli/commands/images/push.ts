import type { Command } from 'commander';

import {
  familiarString,
  isNameOnly,
  parseNormalizedNamed,
  pushImage,
  referenceString,
  tagNameOnly,
} from '../../../client/images.js';
import { CliError, type CliContext } from '../../context.js';
import { registryAuthFor, runCommand, showJsonStream } from './common.js';

interface PushFlags {
  allTags?: boolean;
  quiet?: boolean;
}

/** `push [OPTIONS] NAME[:TAG]`: pushes through the daemon, showing its progress stream. */
export function registerPush(parent: Command, ctx: CliContext): Command {
  return parent
    .command('push')
    .description('Upload an image to a registry')
    .argument('<name>', 'NAME[:TAG]')
    .option('-a, --all-tags', 'push all tags of an image to the repository')
    .option('-q, --quiet', 'suppress verbose output')
    .action((name: string, opts: PushFlags) =>
      runCommand(async () => {
        let ref = parseNormalizedNamed(name);
        const all = opts.allTags === true;
        if (all && !isNameOnly(ref)) throw new CliError("tag can't be used with --all-tags/-a");
        if (!all && isNameOnly(ref)) {
          ref = tagNameOnly(ref);
          if (!opts.quiet) ctx.out.write(`Using default tag: ${ref.tag}\n`);
        }
        const registryAuth = registryAuthFor(ctx, referenceString(ref));
        const res = await pushImage(ctx.client(), familiarString(ref), { allTags: all, registryAuth });
        await showJsonStream(ctx, res, { quiet: opts.quiet });
        if (opts.quiet) ctx.out.write(`${referenceString(ref)}\n`);
      }),
    );
}
