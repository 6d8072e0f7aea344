import type { Command } from 'commander';

import type { CliContext } from '../../context.js';
import { registerVolumeCreate } from './create.js';
import { registerVolumeInspect } from './inspect.js';
import { registerVolumeList } from './list.js';
import { registerVolumePrune } from './prune.js';
import { registerVolumeRemove } from './remove.js';

/** The `volume` group: `create inspect ls prune rm`. */
export function registerVolumeCommands(program: Command, ctx: CliContext): void {
  // Global flags go before the command, as docker's do.
  program.enablePositionalOptions();
  const volume = program.command('volume').description('Manage volumes');
  registerVolumeCreate(volume, ctx);
  registerVolumeInspect(volume, ctx);
  registerVolumeList(volume, ctx);
  registerVolumePrune(volume, ctx);
  registerVolumeRemove(volume, ctx);
}
