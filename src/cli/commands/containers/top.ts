import type { Command } from 'commander';

import type { ContainerTopResponse } from '../../../api/types/index.js';
import { topContainer } from '../../../client/containers.js';
import type { CliContext } from '../../context.js';
import { tabwrite } from '../../output/tabwriter.js';
import { runContainerCommand } from './common.js';

/** docker top's table: the titles and processes aligned by a tabwriter (minwidth 20, padding 3). */
export function renderTop(top: ContainerTopResponse): string {
  let text = (top.Titles ?? []).join('\t') + '\n';
  for (const proc of top.Processes ?? []) text += proc.join('\t') + '\n';
  return tabwrite(text, { minwidth: 20, tabwidth: 1, padding: 3 });
}

/** `top CONTAINER [ps OPTIONS]`. */
export function registerTop(parent: Command, ctx: CliContext): Command {
  return parent
    .command('top')
    .description('Display the running processes of a container')
    .usage('CONTAINER [ps OPTIONS]')
    .argument('<container>', 'CONTAINER')
    .argument('[ps-options...]', 'ps OPTIONS')
    .passThroughOptions()
    .allowUnknownOption()
    .action((container: string, psArgs: string[]) =>
      runContainerCommand(async () => {
        ctx.out.write(renderTop(await topContainer(ctx.client(), container, psArgs)));
      }),
    );
}
