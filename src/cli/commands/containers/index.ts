import type { Command } from 'commander';

import type { CliContext } from '../../context.js';
import { registerAttach } from './attach.js';
import { registerCp } from './cp.js';
import { registerCreate } from './create.js';
import { registerDiff } from './diff.js';
import { registerExec } from './exec.js';
import { registerExport } from './export.js';
import { registerContainerInspect, registerInspect } from './inspect.js';
import { registerKill } from './kill.js';
import { registerPs } from './list.js';
import { registerLogs } from './logs.js';
import { registerPause, registerUnpause } from './pause.js';
import { registerPort } from './port.js';
import { registerContainerPrune } from './prune.js';
import { registerRename } from './rename.js';
import { registerRm } from './rm.js';
import { registerRun } from './run.js';
import { registerStart } from './start.js';
import { registerRestart, registerStop } from './stop.js';
import { registerTop } from './top.js';
import { registerUpdate } from './update.js';
import { registerWait } from './wait.js';

/**
 * The container commands: top-level `run create start stop restart kill rm
 * ps logs attach exec inspect wait pause unpause rename top cp diff export
 * update port`, and the `container` group (`ls`/`ps`/`list`, `prune`, and
 * the same commands, `inspect` limited to containers).
 */
export function registerContainerCommands(program: Command, ctx: CliContext): void {
  // Global flags go before the command, as docker's do; run/create/exec
  // stop parsing their own flags at the image or container.
  program.enablePositionalOptions();
  const common = (parent: Command): void => {
    registerAttach(parent, ctx);
    registerCp(parent, ctx);
    registerCreate(parent, ctx);
    registerDiff(parent, ctx);
    registerExec(parent, ctx);
    registerExport(parent, ctx);
    registerKill(parent, ctx);
    registerLogs(parent, ctx);
    registerPause(parent, ctx);
    registerPort(parent, ctx);
    registerRename(parent, ctx);
    registerRestart(parent, ctx);
    registerRm(parent, ctx);
    registerRun(parent, ctx);
    registerStart(parent, ctx);
    registerStop(parent, ctx);
    registerTop(parent, ctx);
    registerUnpause(parent, ctx);
    registerUpdate(parent, ctx);
    registerWait(parent, ctx);
  };
  common(program);
  registerPs(program, ctx, 'ps');
  registerInspect(program, ctx);

  const container = program.command('container').description('Manage containers').enablePositionalOptions();
  common(container);
  registerPs(container, ctx, 'ls');
  registerContainerInspect(container, ctx);
  registerContainerPrune(container, ctx);
}
