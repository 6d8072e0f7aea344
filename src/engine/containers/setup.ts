import { access, constants } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';

import { readAvailableCapabilities } from '../../runtime/capabilities.js';
import { crunUsable, isHybridWithUnifiedControllers, writeCrunWrapper } from '../../runtime/crun-wrapper.js';
import { readHostLimits } from '../../runtime/host-limits.js';
import type { Logger } from '../../util/log.js';
import { blockDevices, type SpecContext } from './spec.js';

/** Finds an executable by name on PATH (or checks an absolute path). */
export async function findExecutable(name: string): Promise<string | undefined> {
  const candidates = isAbsolute(name)
    ? [name]
    : [
        ...(process.env['PATH'] ?? '').split(delimiter),
        '/usr/local/sbin',
        '/usr/sbin',
        '/sbin',
        '/usr/bin',
        '/bin',
      ].map((d) => join(d, name));
  for (const path of candidates) {
    try {
      await access(path, constants.X_OK);
      return path;
    } catch {
      // next
    }
  }
  return undefined;
}

/**
 * The runtimes that can run containers on this host, name → binary. crun on
 * a hybrid-cgroup host runs through the verified wrapper script that hides
 * the unified mount from it (runtime-stack.md §3); runtimes that are not
 * installed are left out, with a log line.
 */
export async function usableRuntimes(
  configured: Record<string, string>,
  execRoot: string,
  logger: Logger,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, binary] of Object.entries(configured)) {
    const path = await findExecutable(binary);
    if (!path) {
      logger.info({ runtime: name, binary }, 'runtime not installed; containers cannot use it');
      continue;
    }
    if (
      (name === 'crun' || path.endsWith('/crun')) &&
      !(await crunUsable(path)) &&
      (await isHybridWithUnifiedControllers())
    ) {
      out[name] = await writeCrunWrapper(join(execRoot, 'bin'), {
        crunPath: path,
        fileName: `${name}-hybrid`,
      });
      continue;
    }
    out[name] = path;
  }
  return out;
}

export async function probeSpecContext(): Promise<SpecContext> {
  return {
    hostLimits: readHostLimits(),
    blockDevices: await blockDevices(),
    availableCapabilities: readAvailableCapabilities(),
  };
}

/** The static init berth bind-mounts for `--init` (Debian's tini-static). */
export async function findInit(): Promise<string | undefined> {
  for (const candidate of [
    '/usr/bin/tini-static',
    '/usr/bin/catatonit',
    '/usr/libexec/catatonit/catatonit',
  ]) {
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  return undefined;
}
