import type { Command } from 'commander';

import type { CliContext } from '../../context.js';
import { registerNetworkConnect, registerNetworkDisconnect } from './connect.js';
import { registerNetworkCreate } from './create.js';
import { registerNetworkInspect } from './inspect.js';
import { registerNetworkList } from './list.js';
import { registerNetworkPrune } from './prune.js';
import { registerNetworkRemove } from './remove.js';

/** The `network` group: `connect create disconnect inspect ls prune rm`. */
export function registerNetworkCommands(program: Command, ctx: CliContext): void {
  // Global flags go before the command, as docker's do.
  program.enablePositionalOptions();
  const network = program.command('network').description('Manage networks');
  registerNetworkConnect(network, ctx);
  registerNetworkCreate(network, ctx);
  registerNetworkDisconnect(network, ctx);
  registerNetworkInspect(network, ctx);
  registerNetworkList(network, ctx);
  registerNetworkPrune(network, ctx);
  registerNetworkRemove(network, ctx);
}
