import type { Command } from 'commander';

import type { CliContext } from '../../context.js';
import { registerHistory } from './history.js';
import { registerImport } from './import.js';
import { registerImageInspect } from './inspect.js';
import { registerImages } from './list.js';
import { registerLoad } from './load.js';
import { registerLogin } from './login.js';
import { registerLogout } from './logout.js';
import { registerImagePrune } from './prune.js';
import { registerPull } from './pull.js';
import { registerPush } from './push.js';
import { registerRemove } from './remove.js';
import { registerSave } from './save.js';
import { registerTag } from './tag.js';

/**
 * The image and registry commands: top-level `pull push images rmi tag save
 * load import history login logout`, and the `image` group (`ls inspect rm
 * prune pull push tag save load import history`).
 */
export function registerImageCommands(program: Command, ctx: CliContext): void {
  // Global flags go before the command, as docker's do: without this the
  // program's `-H, --host` would swallow `history -H`.
  program.enablePositionalOptions();
  registerPull(program, ctx);
  registerPush(program, ctx);
  registerImages(program, ctx, 'images');
  registerRemove(program, ctx, 'rmi');
  registerTag(program, ctx);
  registerSave(program, ctx);
  registerLoad(program, ctx);
  registerImport(program, ctx);
  registerHistory(program, ctx);
  registerLogin(program, ctx);
  registerLogout(program, ctx);

  const image = program.command('image').description('Manage images');
  registerHistory(image, ctx);
  registerImport(image, ctx);
  registerImageInspect(image, ctx);
  registerLoad(image, ctx);
  registerImages(image, ctx, 'ls');
  registerImagePrune(image, ctx);
  registerPull(image, ctx);
  registerPush(image, ctx);
  registerRemove(image, ctx, 'rm');
  registerSave(image, ctx);
  registerTag(image, ctx);
}
