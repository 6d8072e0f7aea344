import type { Command } from 'commander';

import { removeContainer } from '../../../client/containers.js';
import type { CliContext } from '../../context.js';
import { goBooleanFlags } from '../../opts/flags.js';
import { forEachContainer, isNotFound, runContainerCommand } from './common.js';

interface RmFlags {
  force?: boolean;
  volumes?: boolean;
  link?: boolean;
}

/**
 * `rm [OPTIONS] CONTAINER [CONTAINER...]` (`container rm`, aliases `remove`).
 * With `-f`, containers that do not exist are passed over silently.
 */
export function registerRm(parent: Command, ctx: CliContext, name: 'rm' = 'rm'): Command {
  const cmd = parent.command(name);
  if (parent.name() === 'container') cmd.alias('remove');
  cmd
    .description('Remove one or more containers')
    .argument('<container...>', 'CONTAINER [CONTAINER...]')
    .option('-f, --force', 'force the removal of a running container (uses SIGKILL)')
    .option('-l, --link', 'remove the specified link')
    .option('-v, --volumes', 'remove anonymous volumes associated with the container');
  goBooleanFlags(cmd);
  return cmd.action((names: string[], flags: RmFlags) =>
    runContainerCommand(() =>
      forEachContainer(
        ctx,
        names,
        async (ref) => {
          const id = ref.replace(/^\/+|\/+$/g, '');
          if (id === '') throw new Error('container name cannot be empty');
          await removeContainer(ctx.client(), id, {
            force: flags.force === true,
            volumes: flags.volumes === true,
            link: flags.link === true,
          });
        },
        { ignore: (err) => flags.force === true && isNotFound(err) },
      ),
    ),
  );
}
