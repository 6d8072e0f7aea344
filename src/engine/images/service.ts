import { ConflictError, InvalidParameterError, NotFoundError } from '../../errors.js';
import type { ContentStore } from '../../storage/content.js';
import type { LayerStore } from '../../storage/layers.js';
import { labelHolds, untilCutoff, type FilterArgs } from '../../util/filters.js';
import { pathMatch } from '../../util/glob.js';
import type { Logger } from '../../util/log.js';
import type { EventBus } from '../events/bus.js';
import { parseImageConfig, type ImageConfig } from './manifest.js';
import {
  familiarName,
  familiarString,
  isImageIdLike,
  parseReference,
  referenceString,
  withDefaultTag,
  type ImageReference,
} from './reference.js';
import type { ImageMetadataStore, ImageRecord } from './store.js';

/** Who uses an image (containers); other services register this. */
export interface ImageUsers {
  running: (imageId: string) => string[];
  stopped: (imageId: string) => string[];
  /** Resolves once removed containers no longer hold layers (their rootfs unmounted in the background). */
  settled?: () => Promise<void>;
}

export interface ImageView {
  record: ImageRecord;
  config: ImageConfig;
  /** Familiar tag references (`busybox:latest`). */
  repoTags: string[];
  /** Familiar digest references (`busybox@sha256:...`). */
  repoDigests: string[];
}

export interface DeleteRecord {
  Untagged?: string;
  Deleted?: string;
}

export const IMAGE_LIST_FILTERS = ['dangling', 'label', 'before', 'since', 'reference', 'until'] as const;
export const IMAGE_PRUNE_FILTERS = ['dangling', 'label', 'label!', 'until'] as const;

/**
 * Docker's image semantics over the metadata, content and layer stores:
 * lookup by name or ID prefix, tags, deletion with Docker's conflict rules,
 * pruning, and the image events. Pull, push and archives live beside it
 * (pull.ts, push.ts, archive.ts) and use it to register what they bring in.
 */
export class ImageService {
  readonly meta: ImageMetadataStore;
  readonly content: ContentStore;
  readonly layers: LayerStore;
  readonly events: EventBus;
  readonly logger: Logger;
  private users: ImageUsers = { running: () => [], stopped: () => [] };
  private readonly configs = new Map<string, ImageConfig>();

  constructor(deps: {
    meta: ImageMetadataStore;
    content: ContentStore;
    layers: LayerStore;
    events: EventBus;
    logger: Logger;
  }) {
    this.meta = deps.meta;
    this.content = deps.content;
    this.layers = deps.layers;
    this.events = deps.events;
    this.logger = deps.logger;
  }

  setUsers(users: ImageUsers): void {
    this.users = users;
  }

  /** Number of images, for `GET /info`. */
  count(): number {
    return this.meta.all().length;
  }

  async config(id: string): Promise<ImageConfig> {
    let config = this.configs.get(id);
    if (!config) {
      config = parseImageConfig(await this.content.readBytes(id));
      this.configs.set(id, config);
    }
    return config;
  }

  /**
   * The image a user names: a full ID, an ID prefix, or a reference (tag
   * defaulting to latest, or digest). 404 `No such image: …` otherwise.
   */
  resolve(name: string): ImageRecord {
    const found = this.tryResolve(name);
    if (!found) throw noSuchImage(name);
    return found;
  }

  tryResolve(name: string): ImageRecord | undefined {
    if (name === '') return undefined;
    const full = /^sha256:[a-f0-9]{64}$/.test(name) ? name : undefined;
    if (full) return this.meta.get(full);
    let ref: ImageReference | undefined;
    try {
      ref = withDefaultTag(parseReference(name));
    } catch {
      ref = undefined;
    }
    if (ref) {
      const id = this.meta.resolve(referenceString(ref));
      if (id) return this.meta.get(id);
    }
    if (isImageIdLike(name)) {
      const matches = this.meta.byIdPrefix(name);
      if (matches.length === 1) return matches[0];
      if (matches.length > 1) return undefined;
    }
    if (!ref) throw new InvalidParameterError('invalid reference format');
    return undefined;
  }

  async view(record: ImageRecord): Promise<ImageView> {
    const refs = this.meta.referencesTo(record.id).map((r) => parseReference(r));
    return {
      record,
      config: await this.config(record.id),
      repoTags: refs.filter((r) => r.tag !== undefined && r.digest === undefined).map(familiarString),
      repoDigests: refs.filter((r) => r.digest !== undefined).map(familiarString),
    };
  }

  async list(filters: FilterArgs, all: boolean): Promise<ImageView[]> {
    filters.validate(IMAGE_LIST_FILTERS);
    const dangling = filters.get('dangling');
    for (const d of dangling) {
      if (!['true', 'false', '1', '0'].includes(d))
        throw new InvalidParameterError(`invalid filter 'dangling=${d}'`);
    }
    const before = filters.get('before').map((n) => this.resolve(n).created);
    const since = filters.get('since').map((n) => this.resolve(n).created);
    const until = filters.get('until').map((u) => untilCutoff(u));
    const views: ImageView[] = [];
    for (const record of this.meta.all()) {
      const view = await this.view(record);
      const isDangling = view.repoTags.length === 0 && view.repoDigests.length === 0;
      if (!all && isDangling && dangling.length === 0 && this.hasChild(record.id)) continue;
      if (dangling.length > 0) {
        const want = dangling.includes('true') || dangling.includes('1');
        if (want !== (view.repoTags.length === 0)) continue;
      }
      if (before.some((t) => Date.parse(record.created) >= Date.parse(t))) continue;
      if (since.some((t) => Date.parse(record.created) <= Date.parse(t))) continue;
      if (until.some((t) => Date.parse(record.created) > t)) continue;
      if (!filters.matchKVList('label', view.config.config?.Labels ?? {})) continue;
      const patterns = filters.get('reference');
      if (patterns.length > 0) {
        const refs = this.meta.referencesTo(record.id).map((r) => parseReference(r));
        const hit = refs.some((r) =>
          patterns.some((p) => pathMatch(p, familiarString(r)) || pathMatch(p, familiarName(r))),
        );
        if (!hit) continue;
      }
      views.push(view);
    }
    return views.sort((a, b) => Date.parse(b.record.created) - Date.parse(a.record.created));
  }

  private hasChild(id: string): boolean {
    return this.meta.all().some((r) => r.parent === id);
  }

  /** Adds a tag; `repo` may carry the tag itself when `tag` is empty. Publishes `image tag`. */
  async tag(name: string, repo: string, tag: string): Promise<void> {
    const record = this.resolve(name);
    const target = parseTagTarget(repo, tag);
    await this.meta.setReference(referenceString(target), record.id);
    await this.meta.put({ ...record, lastTagTime: new Date().toISOString() });
    await this.publish(record.id, 'tag', familiarString(target));
  }

  /** Points a reference at an image (pull, load, import), untagging what it pointed at before. */
  async setReference(ref: ImageReference, id: string): Promise<void> {
    const previous = await this.meta.setReference(referenceString(ref), id);
    if (previous && previous !== id)
      this.logger.debug({ ref: referenceString(ref), previous }, 'reference moved');
  }

  async publish(id: string, action: string, name?: string): Promise<void> {
    const record = this.meta.get(id);
    const labels = record ? ((await this.config(id).catch(() => undefined))?.config?.Labels ?? {}) : {};
    this.events.publish({
      Type: 'image',
      Action: action,
      Actor: { ID: id, Attributes: { ...labels, ...(name ? { name } : {}) } },
    });
  }

  /** DELETE /images/{name}: untag and/or delete, with moby's conflict rules. */
  async remove(name: string, force: boolean, prune: boolean): Promise<DeleteRecord[]> {
    const record = this.resolve(name);
    const id = record.id;
    const records: DeleteRecord[] = [];
    const byId = id.startsWith(name) || id.slice(7).startsWith(name);
    let repoRefs = this.meta.referencesTo(id).map((r) => parseReference(r));
    let quiet = false;

    if (!byId) {
      if (!force && isSingleReference(repoRefs)) {
        const user = [...this.users.running(id), ...this.users.stopped(id)][0];
        if (user) {
          throw new ConflictError(
            `conflict: unable to remove repository reference "${name}" (must force) - container ${user.slice(0, 12)} is using its referenced image ${id.slice(7, 19)}`,
          );
        }
      }
      const ref = parseReference(name);
      const target = ref.digest !== undefined ? ref : withDefaultTag(ref);
      await this.meta.deleteReference(referenceString(target));
      records.push({ Untagged: familiarString(target) });
      await this.publish(id, 'untag', id);
      repoRefs = this.meta.referencesTo(id).map((r) => parseReference(r));
      if (target.digest === undefined) {
        const sameRepoTag = repoRefs.some((r) => r.digest === undefined && sameRepository(r, target));
        if (!sameRepoTag) {
          for (const r of repoRefs.filter((x) => x.digest !== undefined && sameRepository(x, target))) {
            await this.meta.deleteReference(referenceString(r));
            records.push({ Untagged: familiarString(r) });
          }
          repoRefs = this.meta.referencesTo(id).map((r) => parseReference(r));
        }
      }
      if (repoRefs.length > 0) return records;
      quiet = true;
    } else if (isSingleReference(repoRefs)) {
      this.checkConflicts(id, force ? 'hard' : 'hard+stopped');
      for (const r of repoRefs) {
        await this.meta.deleteReference(referenceString(r));
        await this.publish(id, 'untag', id);
        records.push({ Untagged: familiarString(r) });
      }
    }
    await this.deleteImage(id, records, force, prune, quiet);
    return records;
  }

  private checkConflicts(id: string, mask: 'hard' | 'hard+stopped' | 'all'): void {
    if (this.hasChild(id)) {
      throw new ConflictError(
        `conflict: unable to delete ${id.slice(7, 19)} (cannot be forced) - image has dependent child images`,
      );
    }
    const running = this.users.running(id)[0];
    if (running) {
      throw new ConflictError(
        `conflict: unable to delete ${id.slice(7, 19)} (cannot be forced) - image is being used by running container ${running.slice(0, 12)}`,
      );
    }
    if (mask === 'all' && this.meta.referencesTo(id).length > 0) {
      throw new ConflictError(
        `conflict: unable to delete ${id.slice(7, 19)} (must be forced) - image is referenced in multiple repositories`,
      );
    }
    if (mask !== 'hard') {
      const stopped = this.users.stopped(id)[0];
      if (stopped) {
        throw new ConflictError(
          `conflict: unable to delete ${id.slice(7, 19)} (must be forced) - image is being used by stopped container ${stopped.slice(0, 12)}`,
        );
      }
    }
  }

  private async deleteImage(
    id: string,
    records: DeleteRecord[],
    force: boolean,
    prune: boolean,
    quiet: boolean,
  ): Promise<void> {
    try {
      this.checkConflicts(id, force ? 'hard' : 'all');
    } catch (err) {
      if (quiet) return;
      throw err;
    }
    const record = this.meta.get(id);
    for (const ref of this.meta.referencesTo(id)) {
      await this.meta.deleteReference(ref);
      await this.publish(id, 'untag', id);
      records.push({ Untagged: familiarString(parseReference(ref)) });
    }
    await this.publish(id, 'delete', id);
    await this.meta.remove(id);
    this.configs.delete(id);
    records.push({ Deleted: id });
    await this.collectGarbage();
    if (prune && record?.parent) {
      const parent = this.meta.get(record.parent);
      if (parent && this.meta.referencesTo(parent.id).length === 0) {
        await this.deleteImage(parent.id, records, false, true, true);
      }
    }
  }

  /**
   * Removes layers and blobs no image needs any more. Blobs kept: every
   * image's config and known layer blobs; the ingest area is left alone.
   */
  async collectGarbage(): Promise<number> {
    await this.users.settled?.();
    const keepLayers = new Set<string>();
    const keepBlobs = new Set<string>();
    for (const r of this.meta.all()) {
      keepBlobs.add(r.id);
      const top = r.layers.at(-1);
      if (top) keepLayers.add(top.chainId);
      for (const l of r.layers) if (l.blob) keepBlobs.add(l.blob.digest);
    }
    for (const extra of this.extraLayerRoots) for (const c of extra()) keepLayers.add(c);
    const freed = await this.layers.garbageCollect(keepLayers);
    let blobBytes = 0;
    for (const info of await this.content.list()) {
      if (keepBlobs.has(info.digest)) continue;
      await this.content.delete(info.digest);
      blobBytes += info.size;
    }
    return freedBytes(freed) + blobBytes;
  }

  private readonly extraLayerRoots: (() => Iterable<string>)[] = [];

  /** Other services (containers) keep layers alive that no image names any more. */
  addLayerRoots(roots: () => Iterable<string>): void {
    this.extraLayerRoots.push(roots);
  }

  /** POST /images/prune. */
  async prune(filters: FilterArgs): Promise<{ deleted: DeleteRecord[]; reclaimed: number }> {
    filters.validate(IMAGE_PRUNE_FILTERS);
    const danglingOnly = !filters.get('dangling').some((d) => ['false', '0'].includes(d));
    const until = filters.get('until').map((u) => untilCutoff(u));
    const deleted: DeleteRecord[] = [];
    let reclaimed = 0;
    for (const record of this.meta.all()) {
      if (!this.meta.get(record.id)) continue;
      const refs = this.meta.referencesTo(record.id);
      if (danglingOnly && refs.length > 0) continue;
      if (this.users.running(record.id).length + this.users.stopped(record.id).length > 0) continue;
      if (this.hasChild(record.id)) continue;
      if (until.some((t) => Date.parse(record.created) > t)) continue;
      const labels = (await this.config(record.id)).config?.Labels ?? {};
      if (!filters.matchKVList('label', labels)) continue;
      if (filters.get('label!').some((l) => labelHolds(l, labels))) continue;
      for (const ref of refs) {
        await this.meta.deleteReference(ref);
        deleted.push({ Untagged: familiarString(parseReference(ref)) });
      }
      await this.publish(record.id, 'delete', record.id);
      await this.meta.remove(record.id);
      this.configs.delete(record.id);
      deleted.push({ Deleted: record.id });
      reclaimed += record.size;
    }
    if (deleted.length > 0) await this.collectGarbage();
    this.events.publish({
      Type: 'image',
      Action: 'prune',
      Actor: { ID: '', Attributes: { reclaimed: String(reclaimed) } },
    });
    return { deleted, reclaimed };
  }

  /** Lower directories of an image's rootfs, topmost first (for containers). */
  lowerDirs(record: ImageRecord): string[] {
    const top = record.layers.at(-1);
    return top ? this.layers.lowerDirs(top.chainId) : [];
  }
}

function freedBytes(freed: unknown): number {
  if (Array.isArray(freed)) {
    return freed.reduce<number>((sum, l) => sum + ((l as { size?: number }).size ?? 0), 0);
  }
  return typeof freed === 'number' ? freed : 0;
}

function sameRepository(a: ImageReference, b: ImageReference): boolean {
  return a.domain === b.domain && a.path === b.path;
}

/** At most one tag reference, and all references in one repository (moby's isSingleReference). */
function isSingleReference(refs: ImageReference[]): boolean {
  const tags = refs.filter((r) => r.digest === undefined);
  if (tags.length > 1) return false;
  const repos = new Set(refs.map((r) => `${r.domain}/${r.path}`));
  return repos.size <= 1;
}

/** `POST /images/{name}/tag?repo=&tag=`: the new reference. */
export function parseTagTarget(repo: string, tag: string): ImageReference {
  if (repo === '') throw new InvalidParameterError('repository name must have at least one component');
  const ref = parseReference(tag ? `${repo}:${tag}` : repo);
  if (ref.digest !== undefined)
    throw new InvalidParameterError('refusing to create a tag with a digest reference');
  return withDefaultTag(ref);
}

/**
 * 404 for an image a user named, worded as moby's ErrImageDoesNotExist: a
 * name without tag or digest is shown with `:latest` (`No such image:
 * busybox:latest`), a 64-hex ID as `sha256:<hex>`, anything that is no
 * reference as given.
 */
export function noSuchImage(name: string): NotFoundError {
  let shown = name;
  const id = /^(?:sha256:)?([0-9a-f]{64})$/.exec(name);
  if (id !== null) shown = `sha256:${id[1]}`;
  else {
    try {
      shown = familiarString(withDefaultTag(parseReference(name)));
    } catch {
      // not a reference: as given
    }
  }
  return new NotFoundError(`No such image: ${shown}`);
}
