import type { Command } from 'commander';

import type { ExecConfig } from '../../../api/types/index.js';
import { DaemonUnreachableError } from '../../../client/client.js';
import {
  execCreate,
  execInspect,
  execResize,
  execStartAttached,
  execStartDetached,
  inspectContainer,
} from '../../../client/containers.js';
import { CliError, type CliContext } from '../../context.js';
import { goBooleanFlags, listFlag } from '../../opts/flags.js';
import { readKVEnvStrings, validateEnv } from '../../opts/kv.js';
import { checkTty, isTerminal, terminalSize } from '../../terminal.js';
import { configString, exitWithStatus, monitorTtySize, runContainerCommand } from './common.js';
import { streamConnection } from './stream.js';

export interface ExecFlags {
  detach?: boolean;
  detachKeys?: string;
  env?: string[];
  envFile?: string[];
  interactive?: boolean;
  privileged?: boolean;
  tty?: boolean;
  user?: string;
  workdir?: string;
}

/**
 * docker's parseExec: the exec configuration for `command`. Without `-d`
 * stdout and stderr are attached, and stdin with `-i`.
 */
export function execConfigFromFlags(
  flags: ExecFlags,
  command: readonly string[],
  configDetachKeys = '',
): ExecConfig {
  const config: ExecConfig = {
    User: flags.user ?? '',
    Privileged: flags.privileged === true,
    Tty: flags.tty === true,
    Cmd: [...command],
    WorkingDir: flags.workdir ?? '',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
  };
  const env = readKVEnvStrings(flags.envFile ?? [], flags.env ?? []);
  if (env.length > 0) config.Env = env;
  if (!flags.detach) {
    config.AttachStdout = true;
    config.AttachStderr = true;
    if (flags.interactive) config.AttachStdin = true;
  }
  const keys = flags.detachKeys || configDetachKeys;
  // Bad keys are the daemon's to refuse (`Invalid escape keys (x) provided`), as with docker 28.
  if (keys) config.DetachKeys = keys;
  return config;
}

/** `exec [OPTIONS] CONTAINER COMMAND [ARG...]`: exits with the command's exit code. */
export function registerExec(parent: Command, ctx: CliContext): Command {
  const cmd = parent
    .command('exec')
    .description('Execute a command in a running container')
    .usage('[OPTIONS] CONTAINER COMMAND [ARG...]')
    .argument('<container>', 'CONTAINER')
    .argument('<command...>', 'COMMAND [ARG...]')
    .passThroughOptions()
    .option('-d, --detach', 'detached mode: run command in the background')
    .option('--detach-keys <keys>', 'override the key sequence for detaching a container')
    .option(
      '-e, --env <env>',
      'set environment variables',
      listFlag('-e, --env', (v) => validateEnv(v)),
    )
    .option('--env-file <file>', 'read in a file of environment variables', listFlag('--env-file'))
    .option('-i, --interactive', 'keep STDIN open even if not attached')
    .option('--privileged', 'give extended privileges to the command')
    .option('-t, --tty', 'allocate a pseudo-TTY')
    .option('-u, --user <user>', 'username or UID (format: "<name|uid>[:<group|gid>]")')
    .option('-w, --workdir <dir>', 'working directory inside the container');
  goBooleanFlags(cmd, true);
  return cmd.action((container: string, command: string[], flags: ExecFlags) =>
    runContainerCommand(async () => {
      const config = execConfigFromFlags(flags, command, configString(ctx, 'detachKeys'));
      const client = ctx.client();
      await inspectContainer(client, container);
      if (!flags.detach) checkTty(process.stdin, config.AttachStdin === true, config.Tty === true);
      const size = config.Tty ? terminalSize(ctx.out) : { height: 0, width: 0 };
      if (config.Tty && (size.height > 0 || size.width > 0)) config.ConsoleSize = [size.height, size.width];
      const created = await execCreate(client, container, config);
      const execId = created.Id;
      if (!execId) throw new CliError('exec ID empty');
      const startOptions = { tty: config.Tty === true, consoleSize: config.Tty ? size : undefined };
      if (flags.detach) {
        await execStartDetached(client, execId, startOptions);
        return;
      }
      const conn = await execStartAttached(client, execId, startOptions);
      const session = streamConnection(conn, {
        stdin: config.AttachStdin ? process.stdin : undefined,
        stdout: config.AttachStdout ? ctx.out : undefined,
        stderr: config.AttachStderr ? (config.Tty ? ctx.out : ctx.err) : undefined,
        tty: config.Tty === true,
        detachKeys: config.DetachKeys,
      });
      let stopResize: () => void = () => undefined;
      if (config.Tty && isTerminal(process.stdin)) {
        stopResize = monitorTtySize(ctx, (s) => execResize(client, execId, s.height, s.width));
      }
      let end;
      try {
        end = await session.done;
      } finally {
        stopResize();
      }
      if (end === 'detached') throw new CliError('read escape sequence');
      let exitCode: number;
      try {
        exitCode = (await execInspect(client, execId)).ExitCode ?? 0;
      } catch (err) {
        if (!(err instanceof DaemonUnreachableError)) throw err;
        exitCode = -1;
      }
      if (exitCode !== 0) await exitWithStatus(exitCode);
    }),
  );
}
