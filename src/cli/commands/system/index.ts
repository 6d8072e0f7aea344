import type { Command } from 'commander';

import type { CliContext } from '../../context.js';
import { registerEvents } from '../events.js';
import { registerInfo } from '../info.js';
import { registerSystemDf } from './df.js';
import { registerSystemPrune } from './prune.js';

/** The `system` group: `info events df prune`. */
export function registerSystemCommands(program: Command, ctx: CliContext): void {
  const system = program.command('system').description('Manage berth');
  registerInfo(system, ctx);
  registerEvents(system, ctx);
  registerSystemDf(system, ctx);
  registerSystemPrune(system, ctx);
}
