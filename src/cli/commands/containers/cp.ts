import { promises as fsp } from 'node:fs';
import type { Readable } from 'node:stream';

import type { Command } from 'commander';

import {
  FILE_MODE,
  getContainerArchive,
  hasModeBit,
  putContainerArchive,
  statContainerPath,
  type PathStat,
} from '../../../client/containers.js';
import { CliError, type CliContext } from '../../context.js';
import { goBooleanFlags } from '../../opts/flags.js';
import { humanSizeWithPrecision } from '../../output/units.js';
import { isTerminal } from '../../terminal.js';
import {
  CopyError,
  copyInfoDestinationPath,
  copyInfoSourcePath,
  counted,
  getRebaseName,
  goJoin,
  goPathError,
  localContentSize,
  planArchiveCopy,
  rebaseArchive,
  resolveLocalPath,
  splitCpArg,
  splitPathDirEntry,
  tarResource,
  untar,
  type CopyInfo,
} from './archive.js';
import { runContainerCommand } from './common.js';

interface CpFlags {
  followLink?: boolean;
  archive?: boolean;
  quiet?: boolean;
}

interface CpConfig {
  container: string;
  sourcePath: string;
  destPath: string;
  followLink: boolean;
  copyUIDGID: boolean;
  quiet: boolean;
}

const size = (n: number): string => humanSizeWithPrecision(n, 3);

/** docker cp's summary line: `Successfully copied 1.2kB to /tmp/x` (with the transferred size when it differs). */
export function copySummary(contentSize: number, transferred: number, dest: string): string {
  if (contentSize !== transferred) {
    return `Successfully copied ${size(contentSize)} (transferred ${size(transferred)}) to ${dest}\n`;
  }
  return `Successfully copied ${size(contentSize)} to ${dest}\n`;
}

/** command.ValidateOutputPathFileMode: devices and irregular files are refused. */
function validateFileMode(mode: number): string | undefined {
  if (hasModeBit(mode, FILE_MODE.device)) return 'got a device';
  if (hasModeBit(mode, FILE_MODE.irregular)) return 'got an irregular file';
  return undefined;
}

/** command.ValidateOutputPath: the parent must exist; an existing target must be a file or directory. */
async function validateOutputPath(p: string): Promise<void> {
  const dir = splitPathDirEntry(p).dir;
  if (dir !== '' && dir !== '.') {
    try {
      await fsp.stat(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new CopyError(`invalid output path: directory ${JSON.stringify(dir)} does not exist`);
      }
    }
  }
  let st;
  try {
    st = await fsp.stat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw goPathError(err, 'stat', p);
  }
  if (st.isDirectory() || st.isFile()) return;
  const what = st.isCharacterDevice() || st.isBlockDevice() ? 'got a device' : 'got an irregular file';
  throw new CopyError(
    `invalid output path: ${JSON.stringify(p)} must be a directory or a regular file: ${what}`,
  );
}

async function copyFromContainer(ctx: CliContext, cfg: CpConfig): Promise<void> {
  let dstPath = cfg.destPath;
  let srcPath = cfg.sourcePath;
  if (dstPath !== '-') dstPath = resolveLocalPath(dstPath);
  await validateOutputPath(dstPath);
  const client = ctx.client();
  let rebaseName = '';
  if (cfg.followLink) {
    let stat: PathStat | undefined;
    try {
      stat = await statContainerPath(client, cfg.container, srcPath);
    } catch {
      stat = undefined;
    }
    if (stat && hasModeBit(stat.mode, FILE_MODE.symlink)) {
      let linkTarget = stat.linkTarget;
      if (!linkTarget.startsWith('/')) linkTarget = goJoin(splitPathDirEntry(srcPath).dir, linkTarget);
      ({ resolved: srcPath, rebaseName } = getRebaseName(srcPath, linkTarget));
    }
  }
  const { content, stat } = await getContainerArchive(client, cfg.container, srcPath);
  try {
    await extractFromContainer(ctx, cfg, content, stat, srcPath, dstPath, rebaseName);
  } finally {
    content.destroy();
  }
}

async function extractFromContainer(
  ctx: CliContext,
  cfg: CpConfig,
  content: Readable,
  stat: PathStat,
  srcPath: string,
  dstPath: string,
  rebaseName: string,
): Promise<void> {
  if (dstPath === '-') {
    for await (const chunk of content) {
      if (!ctx.out.write(chunk as Buffer)) await new Promise((r) => ctx.out.once('drain', r));
    }
    return;
  }
  const isDir = hasModeBit(stat.mode, FILE_MODE.dir);
  const src: CopyInfo = { path: srcPath, exists: true, isDir, rebaseName };
  const meter = counted(content);
  let archive: Readable = meter.stream;
  if (rebaseName !== '') archive = rebaseArchive(archive, splitPathDirEntry(src.path).base, rebaseName);
  const dst = await copyInfoDestinationPath(dstPath);
  const plan = planArchiveCopy(src, dst);
  if (plan.rebase) archive = rebaseArchive(archive, plan.rebase.from, plan.rebase.to);
  await untar(archive, plan.dstDir);
  if (!cfg.quiet) {
    const transferred = meter.bytes();
    ctx.err.write(copySummary(isDir ? transferred : stat.size, transferred, dstPath));
  }
}

async function copyToContainer(ctx: CliContext, cfg: CpConfig): Promise<void> {
  let srcPath = cfg.sourcePath;
  const dstPath = cfg.destPath;
  if (srcPath !== '-') srcPath = resolveLocalPath(srcPath);
  const client = ctx.client();
  const dst: CopyInfo = { path: dstPath, exists: false, isDir: false, rebaseName: '' };
  try {
    let stat = await statContainerPath(client, cfg.container, dstPath);
    if (hasModeBit(stat.mode, FILE_MODE.symlink)) {
      let linkTarget = stat.linkTarget;
      if (!linkTarget.startsWith('/')) linkTarget = goJoin(splitPathDirEntry(dstPath).dir, linkTarget);
      dst.path = linkTarget;
      stat = await statContainerPath(client, cfg.container, linkTarget);
    }
    const bad = validateFileMode(stat.mode);
    if (bad) {
      throw new CliError(
        `destination "${cfg.container}:${dstPath}" must be a directory or a regular file: ${bad}`,
      );
    }
    dst.exists = true;
    dst.isDir = hasModeBit(stat.mode, FILE_MODE.dir);
  } catch (err) {
    // A destination that cannot be stat'ed may still be created by the extraction.
    if (err instanceof CliError) throw err;
  }

  let content: Readable;
  let resolvedDst: string;
  let contentSize: number | undefined;
  if (srcPath === '-') {
    if (!dst.isDir) throw new CliError(`destination "${cfg.container}:${dstPath}" must be a directory`);
    content = process.stdin;
    resolvedDst = dst.path;
  } else {
    const src = await copyInfoSourcePath(srcPath, cfg.followLink);
    contentSize = await localContentSize(src.path).catch(() => undefined);
    let archive = tarResource(src.path, src.rebaseName);
    const plan = planArchiveCopy(src, dst);
    if (plan.rebase) archive = rebaseArchive(archive, plan.rebase.from, plan.rebase.to);
    resolvedDst = plan.dstDir;
    content = archive;
  }
  const meter = counted(content);
  await putContainerArchive(client, cfg.container, resolvedDst, meter.stream, { copyUIDGID: cfg.copyUIDGID });
  if (!cfg.quiet) {
    const transferred = meter.bytes();
    ctx.err.write(copySummary(contentSize ?? transferred, transferred, `${cfg.container}:${dst.path}`));
  }
}

/**
 * `cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-` and `cp [OPTIONS]
 * SRC_PATH|- CONTAINER:DEST_PATH`: copies through tar archives, with
 * docker's path semantics (a trailing `/.` copies a directory's contents).
 */
export function registerCp(parent: Command, ctx: CliContext): Command {
  const cmd = parent
    .command('cp')
    .description('Copy files/folders between a container and the local filesystem')
    .usage(
      '[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n       berth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH',
    )
    .argument('<source>', 'SRC')
    .argument('<destination>', 'DEST')
    .option('-a, --archive', 'archive mode (copy all uid/gid information)')
    .option('-L, --follow-link', 'always follow symlinks in SRC_PATH')
    .option(
      '-q, --quiet',
      'suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached',
    );
  goBooleanFlags(cmd);
  return cmd.action((source: string, destination: string, flags: CpFlags) =>
    runContainerCommand(async () => {
      if (source === '') throw new CliError('source can not be empty');
      if (destination === '') throw new CliError('destination can not be empty');
      const quiet = flags.quiet ?? !isTerminal(ctx.out);
      const src = splitCpArg(source);
      const dst = splitCpArg(destination);
      if (src.container !== '' && dst.container !== '') {
        throw new CliError('copying between containers is not supported');
      }
      if (src.container === '' && dst.container === '') {
        throw new CliError('must specify at least one container source');
      }
      const cfg: CpConfig = {
        container: src.container || dst.container,
        sourcePath: src.path,
        destPath: dst.path,
        followLink: flags.followLink === true,
        copyUIDGID: flags.archive === true,
        quiet,
      };
      try {
        if (src.container !== '') await copyFromContainer(ctx, cfg);
        else await copyToContainer(ctx, cfg);
      } catch (err) {
        if (err instanceof CopyError) throw new CliError(err.message);
        throw err;
      }
    }),
  );
}
