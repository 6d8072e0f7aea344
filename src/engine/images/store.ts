import { mkdir, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';

import { readJsonFile, writeFileAtomic } from '../../storage/atomic.js';

/**
 * Image metadata: one record per image, and the references (tags and
 * digests) that name images. Blobs live in the content store and unpacked
 * layers in the layer store; this holds only what ties them together.
 *
 * On disk, under `<data-root>/image/`:
 *
 *   images/<config hex>.json   one ImageRecord per image (written atomically;
 *                              an image exists once its record does)
 *   repositories.json          { "refs": { "<full reference>": "sha256:<id>" } },
 *                              e.g. "docker.io/library/busybox:latest" and
 *                              "docker.io/library/busybox@sha256:<manifest>"
 *
 * Records are written before references, and references are removed before
 * records, so a crash at any point leaves no reference to a missing image;
 * at most an untagged image, which `image prune` removes.
 */

/** A layer of an image, with what is known of its compressed form for push. */
export interface ImageLayer {
  /** sha256 of the uncompressed tar (the config's rootfs.diff_ids entry). */
  diffId: string;
  /** Chain ID in the layer store. */
  chainId: string;
  /** Byte length of the uncompressed tar, when known (docker save writes it up front). */
  tarSize?: number | undefined;
  /** The registry blob this layer came from or was pushed as, if any. */
  blob?: { digest: string; mediaType: string; size: number } | undefined;
  /** Repositories (host/path) known to hold that blob, for cross-repository mounts. */
  sources?: string[] | undefined;
}

export interface ImageRecord {
  /** `sha256:<hex>` of the config blob. */
  id: string;
  layers: ImageLayer[];
  /** Sum of the layers' unpacked sizes. */
  size: number;
  /** RFC 3339 time the image was made (config.created). */
  created: string;
  /** Parent image ID (images built or committed locally). */
  parent?: string | undefined;
  /** When the image was last tagged here (Metadata.LastTagTime). */
  lastTagTime?: string | undefined;
}

interface RepositoriesFile {
  refs: Record<string, string>;
}

export class ImageMetadataStore {
  private readonly root: string;
  private readonly images = new Map<string, ImageRecord>();
  private refs = new Map<string, string>();

  private constructor(root: string) {
    this.root = root;
  }

  static async open(root: string): Promise<ImageMetadataStore> {
    const store = new ImageMetadataStore(root);
    await mkdir(join(root, 'images'), { recursive: true, mode: 0o700 });
    for (const name of await readdir(join(root, 'images'))) {
      if (!/^[a-f0-9]{64}\.json$/.test(name)) continue;
      const record = await readJsonFile<ImageRecord>(join(root, 'images', name)).catch(() => undefined);
      if (record && record.id === `sha256:${name.slice(0, 64)}`) store.images.set(record.id, record);
    }
    const repos = await readJsonFile<RepositoriesFile>(join(root, 'repositories.json')).catch(
      () => undefined,
    );
    for (const [ref, id] of Object.entries(repos?.refs ?? {})) {
      if (store.images.has(id)) store.refs.set(ref, id);
    }
    return store;
  }

  all(): ImageRecord[] {
    return [...this.images.values()];
  }

  get(id: string): ImageRecord | undefined {
    return this.images.get(id);
  }

  /** Images whose ID starts with `prefix` (with or without `sha256:`). */
  byIdPrefix(prefix: string): ImageRecord[] {
    const p = prefix.startsWith('sha256:') ? prefix : `sha256:${prefix}`;
    return this.all().filter((r) => r.id.startsWith(p));
  }

  async put(record: ImageRecord): Promise<void> {
    await writeFileAtomic(join(this.root, 'images', `${record.id.slice(7)}.json`), JSON.stringify(record));
    this.images.set(record.id, record);
  }

  async remove(id: string): Promise<void> {
    if ([...this.refs.values()].includes(id)) {
      for (const [ref, target] of [...this.refs]) if (target === id) this.refs.delete(ref);
      await this.saveRefs();
    }
    await unlink(join(this.root, 'images', `${id.slice(7)}.json`)).catch(() => undefined);
    this.images.delete(id);
  }

  /** The image a full reference string names. */
  resolve(ref: string): string | undefined {
    return this.refs.get(ref);
  }

  /** Full reference strings naming an image, sorted. */
  referencesTo(id: string): string[] {
    return [...this.refs]
      .filter(([, target]) => target === id)
      .map(([ref]) => ref)
      .sort();
  }

  allReferences(): [string, string][] {
    return [...this.refs];
  }

  async setReference(ref: string, id: string): Promise<string | undefined> {
    const previous = this.refs.get(ref);
    this.refs.set(ref, id);
    await this.saveRefs();
    return previous;
  }

  async deleteReference(ref: string): Promise<boolean> {
    if (!this.refs.delete(ref)) return false;
    await this.saveRefs();
    return true;
  }

  private async saveRefs(): Promise<void> {
    const file: RepositoriesFile = {
      refs: Object.fromEntries([...this.refs].sort(([a], [b]) => a.localeCompare(b))),
    };
    await writeFileAtomic(join(this.root, 'repositories.json'), JSON.stringify(file, null, 1));
  }
}
