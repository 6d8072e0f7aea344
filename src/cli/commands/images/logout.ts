import type { Command } from 'commander';

import { CliError, type CliContext } from '../../context.js';
import { DockerConfigFile, INDEX_SERVER, convertToHostname } from '../../docker-config.js';
import { runCommand } from './common.js';

/**
 * The `auths` keys `logout SERVER` erases, as docker: the address as given,
 * and for other registries than Docker Hub its host, bare and as http(s) URLs.
 */
export function logoutKeys(server: string | undefined): { display: string; keys: string[] } {
  if (server === undefined || server === '') return { display: INDEX_SERVER, keys: [INDEX_SERVER] };
  const host = convertToHostname(server);
  return { display: host, keys: [server, host, `http://${host}`, `https://${host}`] };
}

/** `logout [SERVER]`: removes stored credentials (Docker Hub's by default). */
export function registerLogout(parent: Command, ctx: CliContext): Command {
  return parent
    .command('logout')
    .summary('Log out from a registry')
    .description('Log out from a registry.\nIf no server is specified, the default is defined by the daemon.')
    .argument('[server]', 'SERVER')
    .action((server: string | undefined) =>
      runCommand(() => {
        const { display, keys } = logoutKeys(server);
        ctx.out.write(`Removing login credentials for ${display}\n`);
        let config: DockerConfigFile;
        try {
          config = DockerConfigFile.load();
        } catch (err) {
          throw new CliError(`Error loading config file: ${(err as Error).message}`);
        }
        let changed = false;
        const failed: string[] = [];
        for (const key of keys) {
          try {
            if (config.eraseAuth(key)) changed = true;
          } catch (err) {
            failed.push(`${key}: ${(err as Error).message}\n`);
          }
        }
        if (failed.length > 0) ctx.err.write('WARNING: could not erase credentials:\n' + failed.join(''));
        if (changed) {
          try {
            config.save();
          } catch (err) {
            ctx.err.write('WARNING: could not erase credentials:\n');
            for (const key of keys) ctx.err.write(`${key}: ${(err as Error).message}\n`);
          }
        }
        return Promise.resolve();
      }),
    );
}
