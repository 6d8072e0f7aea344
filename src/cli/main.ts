import { Command, CommanderError } from 'commander';

import { ApiError, DaemonUnreachableError } from '../client/client.js';
import { buildStamp } from '../build-info.js';
import { registerContainerCommands } from './commands/containers/index.js';
import { registerEvents } from './commands/events.js';
import { registerImageCommands } from './commands/images/index.js';
import { registerInfo } from './commands/info.js';
import { registerNetworkCommands } from './commands/networks/index.js';
import { registerStats } from './commands/stats.js';
import { registerSystemDf } from './commands/system/df.js';
import { registerSystemPrune } from './commands/system/prune.js';
import { registerVersion } from './commands/version.js';
import { registerVolumeCommands } from './commands/volumes/index.js';
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

  const ctx = createContext(() => program.opts<{ host?: string }>().host);
  registerVersion(program, ctx);
  registerInfo(program, ctx);
  registerEvents(program, ctx);
  registerImageCommands(program, ctx);
  registerContainerCommands(program, ctx);
  registerStats(program, ctx);
  registerVolumeCommands(program, ctx);
  registerNetworkCommands(program, ctx);
  const system = program.command('system').description('Manage berth');
  registerInfo(system, ctx);
  registerEvents(system, ctx);
  registerSystemDf(system, ctx);
  registerSystemPrune(system, ctx);

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
