import type { Command } from 'commander';

import { tagImage } from '../../../client/images.js';
import type { CliContext } from '../../context.js';
import { runCommand } from './common.js';

/** `tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]`. */
export function registerTag(parent: Command, ctx: CliContext): Command {
  return parent
    .command('tag')
    .description('Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE')
    .argument('<source>', 'SOURCE_IMAGE[:TAG]')
    .argument('<target>', 'TARGET_IMAGE[:TAG]')
    .action((source: string, target: string) => runCommand(() => tagImage(ctx.client(), source, target)));
}
