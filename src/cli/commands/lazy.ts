/**
 * Which module registers each top-level command, so that a run of `berth
 * <command>` loads that command's module (and what it imports) instead of
 * every command's: loading all of them costs more than Node's own start-up.
 *
 * {@link registerFor} registers the one command the arguments name, with
 * the same calls (and arguments) as {@link registerAllCommands} makes for
 * it, so it parses and behaves the same; any argument list it cannot read
 * with certainty (help, `--version`, an unknown command or global flag)
 * registers them all, so that help, suggestions and errors stay exactly as
 * they are.
 */
import type { Command } from 'commander';

import type { CliContext } from '../context.js';

type Register = (program: Command, ctx: CliContext) => Promise<void>;

/** Top-level command names → how to register that command, in `berth --help` order. */
export const LAZY_COMMANDS: ReadonlyMap<string, Register> = new Map<string, Register>([
  ['version', async (p, c) => (await import('./version.js')).registerVersion(p, c)],
  ['info', async (p, c) => void (await import('./info.js')).registerInfo(p, c)],
  ['events', async (p, c) => void (await import('./events.js')).registerEvents(p, c)],
  // The top-level image commands (images/index.ts).
  ['pull', async (p, c) => void (await import('./images/pull.js')).registerPull(p, c)],
  ['push', async (p, c) => void (await import('./images/push.js')).registerPush(p, c)],
  ['images', async (p, c) => void (await import('./images/list.js')).registerImages(p, c, 'images')],
  ['rmi', async (p, c) => void (await import('./images/remove.js')).registerRemove(p, c, 'rmi')],
  ['tag', async (p, c) => void (await import('./images/tag.js')).registerTag(p, c)],
  ['save', async (p, c) => void (await import('./images/save.js')).registerSave(p, c)],
  ['load', async (p, c) => void (await import('./images/load.js')).registerLoad(p, c)],
  ['import', async (p, c) => void (await import('./images/import.js')).registerImport(p, c)],
  ['history', async (p, c) => void (await import('./images/history.js')).registerHistory(p, c)],
  ['login', async (p, c) => void (await import('./images/login.js')).registerLogin(p, c)],
  ['logout', async (p, c) => void (await import('./images/logout.js')).registerLogout(p, c)],
  ['image', async (p, c) => (await import('./images/index.js')).registerImageCommands(p, c)],
  // The top-level container commands (containers/index.ts).
  ['attach', async (p, c) => void (await import('./containers/attach.js')).registerAttach(p, c)],
  ['cp', async (p, c) => void (await import('./containers/cp.js')).registerCp(p, c)],
  ['create', async (p, c) => void (await import('./containers/create.js')).registerCreate(p, c)],
  ['diff', async (p, c) => void (await import('./containers/diff.js')).registerDiff(p, c)],
  ['exec', async (p, c) => void (await import('./containers/exec.js')).registerExec(p, c)],
  ['export', async (p, c) => void (await import('./containers/export.js')).registerExport(p, c)],
  ['kill', async (p, c) => void (await import('./containers/kill.js')).registerKill(p, c)],
  ['logs', async (p, c) => void (await import('./containers/logs.js')).registerLogs(p, c)],
  ['pause', async (p, c) => void (await import('./containers/pause.js')).registerPause(p, c)],
  ['port', async (p, c) => void (await import('./containers/port.js')).registerPort(p, c)],
  ['rename', async (p, c) => void (await import('./containers/rename.js')).registerRename(p, c)],
  ['restart', async (p, c) => void (await import('./containers/stop.js')).registerRestart(p, c)],
  ['rm', async (p, c) => void (await import('./containers/rm.js')).registerRm(p, c)],
  ['run', async (p, c) => void (await import('./containers/run.js')).registerRun(p, c)],
  ['start', async (p, c) => void (await import('./containers/start.js')).registerStart(p, c)],
  ['stop', async (p, c) => void (await import('./containers/stop.js')).registerStop(p, c)],
  ['top', async (p, c) => void (await import('./containers/top.js')).registerTop(p, c)],
  ['unpause', async (p, c) => void (await import('./containers/pause.js')).registerUnpause(p, c)],
  ['update', async (p, c) => void (await import('./containers/update.js')).registerUpdate(p, c)],
  ['wait', async (p, c) => void (await import('./containers/wait.js')).registerWait(p, c)],
  ['ps', async (p, c) => void (await import('./containers/list.js')).registerPs(p, c, 'ps')],
  ['inspect', async (p, c) => void (await import('./containers/inspect.js')).registerInspect(p, c)],
  [
    'container',
    async (p, c) => {
      // `container stats` joins the group the container commands made, as in registerAllCommands.
      const [containers, stats] = await Promise.all([import('./containers/index.js'), import('./stats.js')]);
      containers.registerContainerCommands(p, c);
      stats.registerStats(p, c);
    },
  ],
  ['stats', async (p, c) => (await import('./stats.js')).registerStats(p, c)],
  ['volume', async (p, c) => (await import('./volumes/index.js')).registerVolumeCommands(p, c)],
  ['network', async (p, c) => (await import('./networks/index.js')).registerNetworkCommands(p, c)],
  ['system', async (p, c) => (await import('./system/index.js')).registerSystemCommands(p, c)],
]);

/**
 * The top-level command `argv` (`process.argv`) runs, when it can be told
 * without commander: the first word after the global `-H/--host <address>`
 * flags, if that word is a command of {@link LAZY_COMMANDS}. Undefined for
 * anything else (no command, help, `--version`, another flag first, an
 * unknown word), which needs every command registered.
 */
export function commandOf(argv: readonly string[]): string | undefined {
  for (let i = 2; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '-H' || arg === '--host') {
      i++; // its value, whatever it looks like, as commander takes it
      continue;
    }
    if (arg.startsWith('--host=') || (arg.startsWith('-H') && arg.length > 2)) continue;
    if (arg.startsWith('-')) return undefined;
    return LAZY_COMMANDS.has(arg) ? arg : undefined;
  }
  return undefined;
}

/**
 * Registers what a run with these arguments needs: the one command they
 * name, or every command.
 */
export async function registerFor(program: Command, ctx: CliContext, argv: readonly string[]): Promise<void> {
  const name = commandOf(argv);
  const register = name === undefined ? undefined : LAZY_COMMANDS.get(name);
  if (register) await register(program, ctx);
  else (await import('./all.js')).registerAllCommands(program, ctx);
}
