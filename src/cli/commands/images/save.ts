import { randomBytes } from 'node:crypto';
import { createWriteStream, lstatSync, renameSync, rmSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';

import type { Command } from 'commander';

import { saveImages } from '../../../client/images.js';
import { CliError, type CliContext } from '../../context.js';
import { fsErrorMessage, isTerminal, runCommand } from './common.js';

/**
 * Checks `-o`'s path as docker's atomicwriter does: its directory must
 * exist, and the file, if there, must be a regular file.
 * @throws CliError `failed to save image: …`.
 */
export function validateOutputPath(file: string): void {
  const fail = (message: string): never => {
    throw new CliError(`failed to save image: ${message}`);
  };
  const dir = dirname(file);
  if (dir !== '.' && dir !== '..') {
    let st: Stats | undefined;
    try {
      st = statSync(dir);
    } catch (err) {
      fail(`invalid output path: ${fsErrorMessage(err, 'stat', dir)}`);
    }
    if (st && !st.isDirectory()) fail(`invalid output path: stat ${dir}: not a directory`);
  }
  let st: Stats;
  try {
    st = lstatSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    return fail(`failed to stat output path: ${fsErrorMessage(err, 'lstat', file)}`);
  }
  if (st.isFile()) return;
  if (st.isDirectory()) fail('cannot write to a directory');
  if (st.isSymbolicLink()) fail('cannot write to a symbolic link directly');
  if (st.isFIFO()) fail('cannot write to a named pipe (FIFO)');
  if (st.isSocket()) fail('cannot write to a socket');
  if (st.isCharacterDevice()) fail('cannot write to a character device file');
  if (st.isBlockDevice()) fail('cannot write to a block device file');
}

/**
 * `save [OPTIONS] IMAGE [IMAGE...]`: the daemon's tarball to `-o FILE`
 * (written to a temp file beside it and renamed into place, mode 0600, so a
 * failed save leaves no partial file), else to stdout, unless stdout is a
 * terminal.
 */
export function registerSave(parent: Command, ctx: CliContext): Command {
  return parent
    .command('save')
    .description('Save one or more images to a tar archive (streamed to STDOUT by default)')
    .argument('<image...>', 'IMAGE [IMAGE...]')
    .option('-o, --output <file>', 'write to a file, instead of STDOUT')
    .action((images: string[], opts: { output?: string }) =>
      runCommand(async () => {
        const output = opts.output ?? '';
        if (output === '') {
          if (isTerminal(ctx.out)) {
            throw new CliError('cowardly refusing to save to a terminal. Use the -o flag or redirect');
          }
          const res = await saveImages(ctx.client(), images);
          await pipeline(res, ctx.out, { end: false });
          return;
        }
        validateOutputPath(output);
        const target = resolve(output);
        const temp = join(dirname(target), `.tmp-${basename(target)}${randomBytes(6).toString('hex')}`);
        const file = createWriteStream(temp, { flags: 'wx', mode: 0o600 });
        try {
          await new Promise<void>((resolveOpen, reject) => {
            file.once('open', () => resolveOpen());
            file.once('error', reject);
          });
        } catch (err) {
          throw new CliError(`failed to save image: ${fsErrorMessage(err, 'open', temp)}`);
        }
        try {
          const res = await saveImages(ctx.client(), images);
          await pipeline(res, file);
          renameSync(temp, target);
        } catch (err) {
          file.destroy();
          rmSync(temp, { force: true });
          throw err;
        }
      }),
    );
}
