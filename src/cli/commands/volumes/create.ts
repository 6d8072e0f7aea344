import { Option, type Command } from 'commander';

import { createVolume } from '../../../client/volumes.js';
import { CliError, type CliContext } from '../../context.js';
import { kvStringsToMap, validateLabel } from '../../opts/kv.js';
import { listFlag } from '../../opts/flags.js';
import { runCommand } from '../images/common.js';

interface CreateFlags {
  driver: string;
  name?: string;
  opt?: string[];
  label?: string[];
}

/** docker's MapOpts: `key=value` (a bare `key` is an empty value), the last one of a key wins. */
export function driverOptsMap(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq === -1) out[value] = '';
    else out[value.slice(0, eq)] = value.slice(eq + 1);
  }
  return out;
}

/** `volume create [OPTIONS] [VOLUME]`: prints the volume's name. */
export function registerVolumeCreate(parent: Command, ctx: CliContext): Command {
  return parent
    .command('create')
    .description('Create a volume')
    .argument('[volume]', 'VOLUME')
    .option('-d, --driver <driver>', 'specify volume driver name', 'local')
    .addOption(new Option('--name <name>', 'specify volume name').hideHelp())
    .option('-o, --opt <opt>', 'set driver specific options (repeatable)', listFlag('-o, --opt'))
    .option('--label <label>', 'set metadata for a volume (repeatable)', listFlag('--label', validateLabel))
    .action((name: string | undefined, opts: CreateFlags) =>
      runCommand(async () => {
        let volumeName = opts.name ?? '';
        if (name !== undefined) {
          if (volumeName !== '') {
            throw new CliError(
              'conflicting options: cannot specify a volume-name through both --name and as a positional arg',
            );
          }
          volumeName = name;
        }
        const volume = await createVolume(ctx.client(), {
          Name: volumeName,
          Driver: opts.driver,
          DriverOpts: driverOptsMap(opts.opt ?? []),
          Labels: kvStringsToMap(opts.label ?? []),
        });
        ctx.out.write(`${volume.Name}\n`);
      }),
    );
}
