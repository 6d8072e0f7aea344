import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { readJsonFile, writeFileAtomic } from '../../storage/atomic.js';
import type { ContainerRecord, ContainerState } from './model.js';

/**
 * Containers on disk, under `<data-root>/containers/<id>/`:
 *
 *   record.json     ContainerRecord (create, rename, update)
 *   state.json      ContainerState (every transition)
 *   ctr.log[.N]     the k8s-file log conmon writes, and its rotated copies
 *   hosts, hostname, resolv.conf   bind-mounted into the container
 *   init/           the init layer (mount points for those files, /dev, /proc, ...)
 *   upper/ work/    overlay upper and work dirs
 *   merged/         the overlay mount point (mounted while the container runs)
 *   persist/        conmon's persist dir (exit and oom files)
 *
 * A container exists once record.json does. Removal deletes record.json
 * first, so a crash mid-removal leaves at most an orphan directory, which
 * is cleaned at the next start.
 */
export class ContainerStore {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  dir(id: string): string {
    return join(this.root, id);
  }

  async init(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o710 });
  }

  /** Every stored container; directories without a record (half-removed or half-created) are returned as orphans. */
  async loadAll(): Promise<{
    containers: { record: ContainerRecord; state: ContainerState }[];
    orphans: string[];
  }> {
    const containers: { record: ContainerRecord; state: ContainerState }[] = [];
    const orphans: string[] = [];
    for (const id of await readdir(this.root).catch(() => [] as string[])) {
      if (!/^[a-f0-9]{64}$/.test(id)) continue;
      const record = await readJsonFile<ContainerRecord>(join(this.root, id, 'record.json')).catch(
        () => undefined,
      );
      const state = await readJsonFile<ContainerState>(join(this.root, id, 'state.json')).catch(
        () => undefined,
      );
      if (!record || !state) orphans.push(id);
      else containers.push({ record, state });
    }
    return { containers, orphans };
  }

  async saveRecord(record: ContainerRecord): Promise<void> {
    await writeFileAtomic(join(this.root, record.ID, 'record.json'), JSON.stringify(record));
  }

  async saveState(id: string, state: ContainerState): Promise<void> {
    await writeFileAtomic(join(this.root, id, 'state.json'), JSON.stringify(state));
  }

  async remove(id: string): Promise<void> {
    await rm(join(this.root, id, 'record.json'), { force: true });
    await rm(join(this.root, id), { recursive: true, force: true });
  }
}
