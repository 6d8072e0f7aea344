/**
 * crun on hosts with a "hybrid" cgroup layout.
 *
 * crun refuses to create any container when /sys/fs/cgroup is a tmpfs of v1
 * hierarchies and cgroup2 is mounted at /sys/fs/cgroup/unified with a
 * non-empty `cgroup.controllers` ("cgroups in hybrid mode not supported, drop
 * all controllers from cgroupv2"). runc works there as is.
 *
 * The wrapper written here hides the unified mount from crun: every call runs
 * in a private mount namespace of its own, where `unified` is unmounted, and
 * then execs crun (the exec chain keeps the pid, so conmon's waitpid still
 * works). Only the crun process's view changes; mounts the daemon makes stay
 * in the host namespace.
 */
import { execFile } from 'node:child_process';
import { access, chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';

export const CGROUP_ROOT = '/sys/fs/cgroup';
export const UNIFIED_MOUNT = '/sys/fs/cgroup/unified';

export interface CgroupLayout {
  /** 'v2': /sys/fs/cgroup is cgroup2; 'hybrid': v1 plus a cgroup2 at unified/; 'v1': v1 only. */
  mode: 'v1' | 'v2' | 'hybrid';
  /** The controllers enabled in the unified hierarchy (hybrid or v2). */
  unifiedControllers: string[];
}

/** Reads the cgroup layout from /proc/self/mountinfo. */
export async function cgroupLayout(mountinfoPath = '/proc/self/mountinfo'): Promise<CgroupLayout> {
  const mountinfo = await readFile(mountinfoPath, 'utf8');
  let rootType: string | undefined;
  let unifiedIsCgroup2 = false;
  for (const line of mountinfo.split('\n')) {
    // <id> <parent> <maj:min> <root> <mountpoint> <options> [optional...] - <fstype> <source> <superopts>
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const mountPoint = line.slice(0, dash).split(' ')[4];
    const fsType = line.slice(dash + 3).split(' ')[0];
    if (mountPoint === CGROUP_ROOT) rootType = fsType;
    if (mountPoint === UNIFIED_MOUNT && fsType === 'cgroup2') unifiedIsCgroup2 = true;
  }
  if (rootType === 'cgroup2') {
    return { mode: 'v2', unifiedControllers: await controllers(join(CGROUP_ROOT, 'cgroup.controllers')) };
  }
  if (unifiedIsCgroup2) {
    return {
      mode: 'hybrid',
      unifiedControllers: await controllers(join(UNIFIED_MOUNT, 'cgroup.controllers')),
    };
  }
  return { mode: 'v1', unifiedControllers: [] };
}

async function controllers(path: string): Promise<string[]> {
  try {
    return (await readFile(path, 'utf8')).split(/\s+/).filter((c) => c !== '');
  } catch {
    return [];
  }
}

/**
 * True when the host has the layout crun refuses: cgroup2 at
 * /sys/fs/cgroup/unified with controllers enabled in it.
 */
export async function isHybridWithUnifiedControllers(): Promise<boolean> {
  const layout = await cgroupLayout();
  return layout.mode === 'hybrid' && layout.unifiedControllers.length > 0;
}

/** The wrapper script's text for a given crun binary. */
export function crunWrapperScript(crunPath = '/usr/bin/crun', unsharePath = 'unshare'): string {
  const quoted = shellQuote(crunPath);
  return [
    '#!/bin/sh',
    '# Written by berth: runs crun in a private mount namespace without /sys/fs/cgroup/unified,',
    '# because crun refuses the hybrid cgroup layout of this host.',
    `exec ${shellQuote(unsharePath)} --mount --propagation private sh -c 'umount ${UNIFIED_MOUNT} && exec "$0" "$@"' ${quoted} "$@"`,
    '',
  ].join('\n');
}

function shellQuote(value: string): string {
  if (/^[A-Za-z0-9_./=:-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export interface CrunWrapperOptions {
  crunPath?: string;
  unsharePath?: string;
  /** File name inside the dir. Default `crun-hybrid`. */
  fileName?: string;
}

/**
 * Writes the wrapper script (mode 0755) into `dir`, atomically, and returns
 * its path. Use the path as the runtime binary for conmon and OciRuntime.
 */
export async function writeCrunWrapper(dir: string, options: CrunWrapperOptions = {}): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, options.fileName ?? 'crun-hybrid');
  const temp = `${path}.tmp-${process.pid}`;
  await writeFile(temp, crunWrapperScript(options.crunPath, options.unsharePath), { mode: 0o755 });
  await chmod(temp, 0o755);
  await rename(temp, path);
  return path;
}

/**
 * True when plain crun can create containers here: the binary runs and the
 * cgroup layout is not the hybrid one crun refuses.
 */
export async function crunUsable(crunPath = '/usr/bin/crun'): Promise<boolean> {
  try {
    await access(crunPath, constants.X_OK);
  } catch {
    return false;
  }
  const runs = await new Promise<boolean>((resolve) => {
    execFile(crunPath, ['--version'], { timeout: 10_000 }, (err) => resolve(err === null));
  });
  if (!runs) return false;
  return !(await isHybridWithUnifiedControllers());
}
