import type { Command } from 'commander';

import { containerLogs, inspectContainer } from '../../../client/containers.js';
import { copyStream, demuxStream } from '../../../client/hijack.js';
import { CliError, type CliContext } from '../../context.js';
import { getTimestamp } from '../../opts/duration.js';
import { goBooleanFlags } from '../../opts/flags.js';
import { runContainerCommand } from './common.js';

interface LogsFlags {
  follow?: boolean;
  since?: string;
  until?: string;
  timestamps?: boolean;
  details?: boolean;
  tail?: string;
}

/** The `since`/`until` query value for a flag, as the docker client computes it. */
export function logsTimestamp(
  name: 'since' | 'until',
  value: string | undefined,
  nowMs?: number,
): string | undefined {
  if (value === undefined || value === '') return undefined;
  try {
    return getTimestamp(value, nowMs);
  } catch (err) {
    throw new CliError(`invalid value for "${name}": ${(err as Error).message}`);
  }
}

/** `logs [OPTIONS] CONTAINER`: stdout to stdout and stderr to stderr (one stream with a TTY). */
export function registerLogs(parent: Command, ctx: CliContext): Command {
  const cmd = parent
    .command('logs')
    .description('Fetch the logs of a container')
    .argument('<container>', 'CONTAINER')
    .option('--details', 'show extra details provided to logs')
    .option('-f, --follow', 'follow log output')
    .option(
      '--since <time>',
      'show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)',
    )
    .option('-n, --tail <lines>', 'number of lines to show from the end of the logs', 'all')
    .option('-t, --timestamps', 'show timestamps')
    .option(
      '--until <time>',
      'show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)',
    );
  goBooleanFlags(cmd);
  return cmd.action((ref: string, flags: LogsFlags) =>
    runContainerCommand(async () => {
      const client = ctx.client();
      const c = await inspectContainer(client, ref);
      const res = await containerLogs(client, c.Id ?? ref, {
        stdout: true,
        stderr: true,
        since: logsTimestamp('since', flags.since),
        until: logsTimestamp('until', flags.until),
        timestamps: flags.timestamps === true,
        follow: flags.follow === true,
        tail: flags.tail,
        details: flags.details === true,
      });
      if (c.Config?.Tty) await copyStream(res, ctx.out);
      else await demuxStream(res, ctx.out, ctx.err);
    }),
  );
}
