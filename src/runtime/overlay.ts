import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

import { SystemError } from '../errors.js';

const run = promisify(execFile);

/**
 * Overlay mounts for container root filesystems. The daemon owns mount and
 * unmount (runc/crun do not unmount the rootfs). Lower directories may be
 * relative to `cwd` (the layer store's short `l/` links), which keeps the
 * option string under the kernel's one-page limit for deep images.
 */
export interface OverlaySpec {
  /** Topmost first; absolute, or relative to `cwd`. */
  lowerDirs: string[];
  upperDir: string;
  workDir: string;
  target: string;
  cwd: string;
}

export async function mountOverlay(spec: OverlaySpec): Promise<void> {
  if (await isMounted(spec.target)) return;
  const options = `lowerdir=${spec.lowerDirs.join(':')},upperdir=${spec.upperDir},workdir=${spec.workDir}`;
  if (Buffer.byteLength(options) > 4000) {
    throw new SystemError(
      `overlay mount options too long (${Buffer.byteLength(options)} bytes) for ${spec.target}`,
    );
  }
  try {
    await run('mount', ['-t', 'overlay', 'overlay', '-o', options, spec.target], { cwd: spec.cwd });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new SystemError(
      `mounting the container rootfs at ${spec.target} failed: ${stderr || (err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

/** Unmounts if mounted; lazy-detaches as a last resort so a busy mount never blocks removal. */
export async function unmount(target: string): Promise<void> {
  if (!(await isMounted(target))) return;
  try {
    await run('umount', [target]);
  } catch {
    await run('umount', ['-l', target]).catch(() => undefined);
  }
}

/** Whether `target` is a mount point in this mount namespace. */
export async function isMounted(target: string): Promise<boolean> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const escaped = target.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  return info.split('\n').some((line) => line.split(' ')[4] === escaped);
}
