import { Command, CommanderError } from 'commander';

import { ApiError, DaemonUnreachableError } from '../client/client.js';
import { buildStamp } from '../build-info.js';
import { registerFor } from './commands/lazy.js';
import { CliError, createContext } from './context.js';

/**
 * berth, the docker-compatible CLI. It reaches berthd only through the API
 * (src/client). Returns the process exit code.
 */
export async function main(argv: string[]): Promise<number> {
  const program = new Command('berth')
    .description('A container engine that speaks the Docker Engine API')
    .usage('[OPTIONS] COMMAND')
    .option(
      '-H, --host <address>',
      'daemon socket to connect to (default: $BERTH_HOST, $DOCKER_HOST, or unix:///run/berth/berth.sock)',
    )
    .version(
      `berth version ${buildStamp().version}, build ${buildStamp().gitCommit}`,
      '-v, --version',
      'print version information and quit',
    )
    .helpOption('-h, --help', 'print usage')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .showHelpAfterError();

  // Global flags go before the command, as docker's do (run, create and exec
  // also stop parsing their own flags at the image or container).
  program.enablePositionalOptions();
  const ctx = createContext(() => program.opts<{ host?: string }>().host);
  await registerFor(program, ctx, argv);

  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    return report(err);
  }
}

function report(err: unknown): number {
  if (err instanceof CommanderError) {
    // commander has printed help, version or the usage error already.
    return err.exitCode === 0 ? 0 : err.code === 'commander.help' ? 0 : 125;
  }
  if (err instanceof ApiError) {
    process.stderr.write(`Error response from daemon: ${err.message}\n`);
    return 1;
  }
  if (err instanceof DaemonUnreachableError) {
    process.stderr.write(`${err.message}\n`);
    return 1;
  }
  if (err instanceof CliError) {
    process.stderr.write(`${err.message}\n`);
    return err.exitCode;
  }
  process.stderr.write(`berth: ${(err as Error).message ?? String(err)}\n`);
  return 1;
}
