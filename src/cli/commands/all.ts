import type { Command } from 'commander';

import type { CliContext } from '../context.js';
import { registerContainerCommands } from './containers/index.js';
import { registerEvents } from './events.js';
import { registerImageCommands } from './images/index.js';
import { registerInfo } from './info.js';
import { registerNetworkCommands } from './networks/index.js';
import { registerStats } from './stats.js';
import { registerSystemCommands } from './system/index.js';
import { registerVersion } from './version.js';
import { registerVolumeCommands } from './volumes/index.js';

/**
 * Registers every command, in the order `berth --help` lists them. This
 * loads every command module; main does it only when it cannot tell from
 * the arguments which one command runs (help, an unknown command…).
 */
export function registerAllCommands(program: Command, ctx: CliContext): void {
  registerVersion(program, ctx);
  registerInfo(program, ctx);
  registerEvents(program, ctx);
  registerImageCommands(program, ctx);
  registerContainerCommands(program, ctx);
  registerStats(program, ctx);
  registerVolumeCommands(program, ctx);
  registerNetworkCommands(program, ctx);
  registerSystemCommands(program, ctx);
}
