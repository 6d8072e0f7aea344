import { randomBytes } from 'node:crypto';
import { normalize, posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { InvalidParameterError, NotFoundError, SystemError } from '../../errors.js';
import { detectCompression } from '../../storage/compression.js';
import { chainId as chainIds, sha256Digest } from '../../storage/digest.js';
import type { StagedLayer } from '../../storage/layers.js';
import { TAR_END, encodeTarHeader } from '../../storage/tar-export.js';
import { isTarHeader, readTarEntries } from '../../storage/tar-extract.js';
import { goArch } from '../../util/platform.js';
import { applyChanges } from './changes.js';
import { TOOL_COMPRESSIONS, archiveBytes, peek } from './decompress.js';
import { blobCompression, bufferStream, uncompressedLayer, unpackBlob } from './layer-io.js';
import { MediaType, parseImageConfig, parseManifest, type ImageConfig } from './manifest.js';
import { hostPlatform, selectManifest } from './platform.js';
import { ProgressThrottle, shortId, type ProgressSink } from './progress.js';
import {
  familiarString,
  parseReference,
  referenceString,
  withDefaultTag,
  type ImageReference,
} from './reference.js';
import type { ImageService } from './service.js';
import type { ImageLayer } from './store.js';

/**
 * Image archives: `docker load` (docker-save tarballs, old and new, and OCI
 * image layouts), `docker save` (Docker 25+'s combined OCI layout +
 * manifest.json), and `docker import` (a rootfs tarball made an image).
 */

/** Stores a stream as a blob; returns its digest and size. */
async function storeBlob(
  images: ImageService,
  source: Readable,
  ref: string,
): Promise<{ digest: string; size: number }> {
  const writer = await images.content.writer(ref);
  if (writer.offset > 0) {
    await writer.abort();
    return storeBlob(images, source, ref);
  }
  try {
    // The writer hashes what it stores; the digest it computed is what gets committed.
    await pipeline(source, writer.stream());
    const info = await writer.commit(writer.digest(), writer.offset);
    return { digest: info.digest, size: info.size };
  } catch (err) {
    await writer.abort().catch(() => undefined);
    throw err;
  }
}

function layerMediaType(kind: 'gzip' | 'zstd' | 'none'): string {
  return kind === 'gzip'
    ? MediaType.dockerLayerGzip
    : kind === 'zstd'
      ? MediaType.ociLayerZstd
      : MediaType.dockerLayer;
}

/**
 * Where one of an image's layers comes from in a load: extracted already
 * while the archive streamed in (an uncompressed layer tar), a small tar
 * held in memory, or a compressed blob put in the content store.
 */
type LayerSource =
  | { kind: 'staged'; name: string; staged: StagedLayer }
  | { kind: 'bytes'; name: string; bytes: Buffer }
  | { kind: 'blob'; name: string; digest: string; size: number; mediaType?: string | undefined };

/** Registers an image from a stored config and its layers' sources (bottom first). */
async function registerImage(
  images: ImageService,
  configDigest: string,
  sources: LayerSource[],
  progress: ProgressSink,
  quiet: boolean,
): Promise<string> {
  const config = parseImageConfig(await images.content.readBytes(configDigest));
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== sources.length) {
    throw new InvalidParameterError(
      `invalid image: ${sources.length} layers but ${diffIds.length} diff_ids in the config`,
    );
  }
  const chains = chainIds(diffIds);
  const layers: ImageLayer[] = [];
  let size = 0;
  for (const [i, source] of sources.entries()) {
    const chainId = chains[i] ?? '';
    const diffId = diffIds[i] ?? '';
    const parent = i > 0 ? chains[i - 1] : undefined;
    let blob: ImageLayer['blob'];
    let tarSize: number | undefined;
    if (source.kind === 'staged' && source.staged.diffId !== diffId) {
      throw new InvalidParameterError(
        `invalid image: layer ${source.name} has diff ID ${source.staged.diffId}, the config says ${diffId}`,
      );
    }
    let existing = await images.layers.get(chainId);
    if (source.kind === 'staged') {
      tarSize = source.staged.tarSize;
      if (!existing) existing = await images.layers.commitStaged(source.staged, parent);
    } else if (source.kind === 'bytes') {
      tarSize = source.bytes.length;
      if (!existing) existing = await images.layers.register(bufferStream(source.bytes), parent, diffId);
    } else {
      blob = {
        digest: source.digest,
        size: source.size,
        mediaType: source.mediaType ?? layerMediaType(await blobCompression(images.content, source.digest)),
      };
      if (!existing) {
        const id = shortId(diffId);
        const total = source.size;
        tarSize = (
          await unpackBlob(images.content, images.layers, source.digest, parent, diffId, (n) => {
            if (!quiet) progress({ id, status: 'Loading layer', current: n, total });
          })
        ).tarSize;
        existing = await images.layers.get(chainId);
      }
    }
    size += existing?.size ?? 0;
    layers.push({ diffId, chainId, tarSize, blob });
  }
  const previous = images.meta.get(configDigest);
  await images.meta.put({
    id: configDigest,
    // An image known already (from a pull) keeps its registry blobs, for push and cross-repository mounts.
    layers: layers.map((l, i) => {
      const before = previous?.layers[i];
      return before?.chainId === l.chainId
        ? { ...before, tarSize: before.tarSize ?? l.tarSize, blob: before.blob ?? l.blob }
        : l;
    }),
    size,
    created: config.created ?? new Date().toISOString(),
    parent: previous?.parent,
    lastTagTime: previous?.lastTagTime,
  });
  return configDigest;
}

/** Archive members up to this size are held in memory (manifests, configs, small layers). */
const SMALL_MEMBER = 1 << 20;

/**
 * An image archive read in one pass: small members in memory, large
 * uncompressed tars (layers) extracted into the layer store as they
 * arrive, other large members (compressed layers) put in the content
 * store. Nothing is written twice and no scratch copy is made; which
 * members are layers of which image is only known at the end (Docker puts
 * manifest.json last), when {@link registerImage} places them.
 */
class StreamedArchive {
  private readonly small = new Map<string, Buffer>();
  private readonly staged = new Map<string, StagedLayer>();
  private readonly blobs = new Map<string, { digest: string; size: number }>();
  private readonly links = new Map<string, string>();

  private readonly images: ImageService;

  private constructor(images: ImageService) {
    this.images = images;
  }

  static async read(
    images: ImageService,
    source: Readable,
    progress: ProgressSink,
    quiet: boolean,
  ): Promise<StreamedArchive> {
    const archive = new StreamedArchive(images);
    try {
      for await (const member of readTarEntries(archiveBytes(source))) {
        const { entry } = member;
        const name = safeName(entry.name);
        if (name === undefined) continue;
        if ((entry.type === 'symlink' || entry.type === 'link') && entry.linkname) {
          const base = entry.type === 'symlink' ? posix.dirname(name) : '';
          const resolved = safeName(posix.join(base, entry.linkname));
          if (resolved !== undefined) archive.links.set(name, resolved);
          continue;
        }
        if (entry.type !== 'file') continue;
        await archive.member(name, entry.size, member.body(), progress, quiet);
      }
      // Every layer is staged: their syncfs runs while the manifest is read and the images placed.
      images.layers.flushStaged();
    } catch (err) {
      await archive.discard();
      if (err instanceof InvalidParameterError && err.message.startsWith('invalid ')) throw err;
      throw new InvalidParameterError(`invalid archive: ${(err as Error).message}`, { cause: err });
    }
    return archive;
  }

  private async member(
    name: string,
    size: number,
    body: AsyncGenerator<Buffer>,
    progress: ProgressSink,
    quiet: boolean,
  ): Promise<void> {
    if (size <= SMALL_MEMBER) {
      const parts: Buffer[] = [];
      for await (const chunk of body) parts.push(chunk);
      this.small.set(name, Buffer.concat(parts));
      return;
    }
    const id = shortId(/^blobs\/sha256\/([0-9a-f]{64})$/.exec(name)?.[1] ?? name.split('/')[0] ?? name);
    const throttle = new ProgressThrottle(size);
    let seen = 0;
    const { head, all } = await peek(body, 512, (chunk) => {
      seen += chunk.length;
      if (!quiet && throttle.shouldReport(seen, seen === size))
        progress({ id, status: 'Loading layer', current: seen, total: size });
    });
    if (detectCompression(head) === 'none' && isTarHeader(head)) {
      // Large files are flushed as they are written; one syncfs for all layers when placed.
      this.staged.set(name, await this.images.layers.stage(all, undefined, { deferSync: true }));
    } else {
      const stored = await storeBlob(
        this.images,
        Readable.from(all),
        `load-blob-${randomBytes(6).toString('hex')}`,
      );
      this.blobs.set(name, stored);
    }
  }

  private resolve(name: string): string {
    let current = safeName(name) ?? name;
    for (let i = 0; i < 16 && this.links.has(current); i++) current = this.links.get(current) ?? current;
    return current;
  }

  has(name: string): boolean {
    const n = this.resolve(name);
    return this.small.has(n) || this.staged.has(n) || this.blobs.has(n);
  }

  /** A small member's bytes (manifests, configs). */
  bytes(name: string): Buffer {
    const n = this.resolve(name);
    const buf = this.small.get(n);
    if (buf !== undefined) return buf;
    throw new InvalidParameterError(
      this.has(name)
        ? `invalid archive: ${name} is too large for a manifest or config`
        : `invalid archive: no ${name} in the archive`,
    );
  }

  json<T>(name: string): T {
    try {
      return JSON.parse(this.bytes(name).toString('utf8')) as T;
    } catch (err) {
      if (err instanceof InvalidParameterError) throw err;
      throw new InvalidParameterError(`invalid archive: cannot read ${name}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /** Stores a member (a config) as a blob. */
  async storeConfig(name: string): Promise<string> {
    return (await this.images.content.put(this.bytes(name))).digest;
  }

  /** Where a layer member's content is; a small compressed one is put in the content store first. */
  async layer(name: string, mediaType?: string): Promise<LayerSource> {
    const n = this.resolve(name);
    const staged = this.staged.get(n);
    if (staged !== undefined) return { kind: 'staged', name, staged };
    const bytes = this.small.get(n);
    if (bytes !== undefined && detectCompression(bytes) === 'none') return { kind: 'bytes', name, bytes };
    if (bytes !== undefined) {
      this.blobs.set(n, await this.images.content.put(bytes));
      this.small.delete(n);
    }
    const blob = this.blobs.get(n);
    if (blob !== undefined) return { kind: 'blob', name, ...blob, mediaType };
    throw new InvalidParameterError(`invalid archive: no layer ${name} in the archive`);
  }

  /** Drops staged layers no image took, and stored blobs no image refers to. */
  async discard(): Promise<void> {
    for (const staged of this.staged.values()) await this.images.layers.discardStaged(staged);
    const referenced = new Set<string>();
    for (const r of this.images.meta.all())
      for (const l of r.layers) if (l.blob) referenced.add(l.blob.digest);
    for (const { digest } of this.blobs.values()) {
      if (!referenced.has(digest)) await this.images.content.delete(digest).catch(() => false);
    }
  }
}

function safeName(name: string): string | undefined {
  const n = normalize(`/${name}`).slice(1).replace(/\/+$/, '');
  if (n === '' || n.startsWith('..')) return undefined;
  return n;
}

interface SaveManifestEntry {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

/**
 * POST /images/load: docker-save tarballs (Docker 25+'s and the legacy
 * form) and OCI image layouts, read in one pass. Reports `Loaded image: x`
 * per tag (or `Loaded image ID: ...`). Returns the image IDs.
 */
export async function loadImages(
  images: ImageService,
  source: Readable,
  progress: ProgressSink,
  quiet: boolean,
): Promise<string[]> {
  const archive = await StreamedArchive.read(images, source, progress, quiet);
  const loaded: string[] = [];
  try {
    const found: { id: string; tags: ImageReference[] }[] = [];
    if (archive.has('manifest.json')) {
      const entries = archive.json<SaveManifestEntry[]>('manifest.json');
      if (!Array.isArray(entries))
        throw new InvalidParameterError('invalid archive: manifest.json is not a list');
      for (const entry of entries) {
        if (typeof entry?.Config !== 'string' || !Array.isArray(entry.Layers))
          throw new InvalidParameterError('invalid archive: a manifest.json entry lacks Config or Layers');
        const config = await archive.storeConfig(entry.Config);
        const layers = [];
        for (const l of entry.Layers) layers.push(await archive.layer(l));
        const id = await registerImage(images, config, layers, progress, quiet);
        found.push({ id, tags: (entry.RepoTags ?? []).map((t) => withDefaultTag(parseReference(t))) });
      }
    } else if (archive.has('index.json')) {
      found.push(...(await loadOciLayout(images, archive, progress, quiet)));
    } else {
      throw new InvalidParameterError(
        'invalid archive: no manifest.json or index.json (not a docker save tarball or OCI layout)',
      );
    }
    for (const { id, tags } of found) {
      for (const tag of tags) {
        await images.setReference(tag, id);
        progress({ stream: `Loaded image: ${familiarString(tag)}\n` });
      }
      if (tags.length === 0) progress({ stream: `Loaded image ID: ${id}\n` });
      await images.publish(id, 'load');
      loaded.push(id);
    }
  } finally {
    await archive.discard();
  }
  return loaded;
}

async function loadOciLayout(
  images: ImageService,
  archive: StreamedArchive,
  progress: ProgressSink,
  quiet: boolean,
): Promise<{ id: string; tags: ImageReference[] }[]> {
  const index = parseManifest(archive.bytes('index.json'), MediaType.ociIndex);
  if (index.kind !== 'index')
    throw new InvalidParameterError('invalid OCI layout: index.json is not an index');
  const out: { id: string; tags: ImageReference[] }[] = [];
  const blobPath = (digest: string): string => `blobs/${digest.replace(':', '/')}`;
  for (const desc of index.manifests) {
    let manifest = parseManifest(archive.bytes(blobPath(desc.digest)), desc.mediaType);
    if (manifest.kind === 'index') {
      const chosen = selectManifest(manifest.manifests, hostPlatform());
      if (!chosen) continue;
      manifest = parseManifest(archive.bytes(blobPath(chosen.digest)), chosen.mediaType);
      if (manifest.kind !== 'manifest') continue;
    }
    const config = await archive.storeConfig(blobPath(manifest.config.digest));
    if (config !== manifest.config.digest)
      throw new InvalidParameterError(
        `invalid OCI layout: config ${manifest.config.digest} has digest ${config}`,
      );
    const layers = [];
    for (const l of manifest.layers) layers.push(await archive.layer(blobPath(l.digest), l.mediaType));
    const id = await registerImage(images, config, layers, progress, quiet);
    const name =
      desc.annotations?.['io.containerd.image.name'] ??
      desc.annotations?.['org.opencontainers.image.ref.name'];
    const tags: ImageReference[] = [];
    if (name) {
      try {
        tags.push(withDefaultTag(parseReference(name)));
      } catch {
        // a bare tag annotation ("latest") names no repository: load untagged
      }
    }
    out.push({ id, tags });
  }
  return out;
}

/**
 * GET /images/get: a tarball of the named images in Docker 25+'s format —
 * an OCI image layout (index.json, blobs/sha256/...) plus manifest.json and
 * repositories for older tools. Layers are written uncompressed, named by
 * their diff ID.
 */
export async function saveImages(images: ImageService, names: string[]): Promise<Readable> {
  if (names.length === 0) throw new InvalidParameterError('no images given');
  const wanted: { id: string; tags: ImageReference[] }[] = [];
  for (const name of names) {
    const record = images.resolve(name);
    let tags: ImageReference[] = [];
    try {
      const ref = parseReference(name);
      if (!record.id.slice(7).startsWith(name.replace(/^sha256:/, '')))
        tags = ref.digest ? [] : [withDefaultTag(ref)];
    } catch {
      tags = [];
    }
    if (tags.length === 0 && record.id.slice(7).startsWith(name.replace(/^sha256:/, ''))) {
      tags = images.meta
        .referencesTo(record.id)
        .map((r) => parseReference(r))
        .filter((r) => r.digest === undefined);
    }
    const existing = wanted.find((w) => w.id === record.id);
    if (existing) existing.tags.push(...tags);
    else wanted.push({ id: record.id, tags });
  }
  for (const w of wanted) {
    for (const layer of images.meta.get(w.id)?.layers ?? []) {
      if (images.layers.hasTarSplit(layer.chainId)) continue;
      if (!layer.blob || !(await images.content.has(layer.blob.digest))) {
        throw new NotFoundError(`layer ${layer.diffId} of image ${w.id} has no stored content to save`);
      }
    }
  }

  const header = (name: string, size: number): Buffer =>
    encodeTarHeader({ name, type: 'file', mode: 0o644, uid: 0, gid: 0, size, mtime: 0 });
  const padding = (size: number): Buffer => Buffer.alloc((512 - (size % 512)) % 512);
  const entry = (name: string, body: Buffer): Buffer =>
    Buffer.concat([header(name, body.length), body, padding(body.length)]);

  async function* archive(): AsyncGenerator<Buffer> {
    const written = new Set<string>();
    const manifestJson: SaveManifestEntry[] = [];
    const indexEntries: unknown[] = [];
    const repositories: Record<string, Record<string, string>> = {};
    for (const w of wanted) {
      const record = images.meta.get(w.id);
      if (!record) continue;
      const configBytes = await images.content.readBytes(w.id);
      if (!written.has(w.id)) {
        yield entry(`blobs/sha256/${w.id.slice(7)}`, configBytes);
        written.add(w.id);
      }
      const layerNames: string[] = [];
      const layerDescs: unknown[] = [];
      for (const layer of record.layers) {
        const name = `blobs/sha256/${layer.diffId.slice(7)}`;
        layerNames.push(name);
        const { size: tarSize, open: openTar } = await layerTar(images, layer);
        layerDescs.push({ mediaType: MediaType.ociLayer, digest: layer.diffId, size: tarSize });
        if (!written.has(layer.diffId)) {
          yield header(name, tarSize);
          let sent = 0;
          for await (const chunk of await openTar()) {
            sent += (chunk as Buffer).length;
            if (sent > tarSize) break;
            yield chunk as Buffer;
          }
          if (sent !== tarSize) {
            throw new SystemError(`layer ${layer.diffId} is ${sent} bytes, not the ${tarSize} recorded`);
          }
          yield padding(tarSize);
          written.add(layer.diffId);
        }
      }
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.ociManifest,
          config: { mediaType: MediaType.ociConfig, digest: w.id, size: configBytes.length },
          layers: layerDescs,
        }),
      );
      const manifestDigest = sha256Digest(manifest);
      if (!written.has(manifestDigest)) {
        yield entry(`blobs/sha256/${manifestDigest.slice(7)}`, manifest);
        written.add(manifestDigest);
      }
      const descriptor = { mediaType: MediaType.ociManifest, digest: manifestDigest, size: manifest.length };
      if (w.tags.length === 0) indexEntries.push(descriptor);
      for (const tag of w.tags) {
        indexEntries.push({
          ...descriptor,
          annotations: {
            'io.containerd.image.name': referenceString(tag),
            'org.opencontainers.image.ref.name': tag.tag ?? '',
          },
        });
        const repo = familiarString({ domain: tag.domain, path: tag.path });
        repositories[repo] = {
          ...(repositories[repo] ?? {}),
          [tag.tag ?? 'latest']: record.layers.at(-1)?.diffId.slice(7) ?? '',
        };
      }
      manifestJson.push({
        Config: `blobs/sha256/${w.id.slice(7)}`,
        RepoTags: w.tags.map(familiarString),
        Layers: layerNames,
      });
      await images.publish(w.id, 'save', w.id);
    }
    yield entry(
      'index.json',
      Buffer.from(
        JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: indexEntries }),
      ),
    );
    yield entry('manifest.json', Buffer.from(JSON.stringify(manifestJson)));
    yield entry('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
    if (Object.keys(repositories).length > 0)
      yield entry('repositories', Buffer.from(JSON.stringify(repositories)));
    yield TAR_END;
  }
  // Buffers as they are (object mode: no re-chunking copies), reading a few ahead while the client
  // drains what was sent.
  return Readable.from(archive(), { objectMode: true, highWaterMark: 4 });
}

/**
 * A layer's uncompressed tar for save: rebuilt from the layer store (its
 * files and tar-split) when it can be, else read from the stored blob.
 */
async function layerTar(
  images: ImageService,
  layer: ImageLayer,
): Promise<{ size: number; open: () => Promise<Readable> }> {
  const exact = await images.layers.tarStream(layer.chainId);
  if (exact !== undefined) return { size: exact.size, open: () => Promise.resolve(exact.stream) };
  return {
    size: await layerTarSize(images, layer),
    open: () => uncompressedLayer(images.content, layer.blob?.digest ?? ''),
  };
}

/** The byte length of a layer's uncompressed tar: recorded at unpack, else counted once and recorded. */
async function layerTarSize(images: ImageService, layer: ImageLayer): Promise<number> {
  if (layer.tarSize !== undefined) return layer.tarSize;
  let size = 0;
  for await (const chunk of await uncompressedLayer(images.content, layer.blob?.digest ?? ''))
    size += (chunk as Buffer).length;
  layer.tarSize = size;
  return size;
}

export interface ImportOptions {
  repo?: string | undefined;
  tag?: string | undefined;
  message?: string | undefined;
  changes?: string[] | undefined;
  platform?: { os: string; architecture: string; variant?: string | undefined } | undefined;
}

/** POST /images/create?fromSrc=: a rootfs tarball (any compression) as a one-layer image. Returns the ID. */
export async function importImage(
  images: ImageService,
  source: Readable,
  options: ImportOptions,
): Promise<string> {
  const target = options.repo ? parseTarget(options.repo, options.tag) : undefined;
  // A gzip or zstd tarball is kept as the layer blob as it is; xz and bzip2 cannot be layers.
  const blob = await storeBlob(
    images,
    Readable.from(archiveBytes(source, TOOL_COMPRESSIONS)),
    `import-${randomBytes(8).toString('hex')}`,
  );
  const { chainId, tarSize, diffId } = await unpackBlob(
    images.content,
    images.layers,
    blob.digest,
    undefined,
    undefined,
  );
  const layerInfo = await images.layers.get(chainId);
  const created = new Date().toISOString();
  const platform = options.platform ?? { os: 'linux', architecture: goArch(process.arch) };
  const config: ImageConfig = {
    architecture: platform.architecture,
    ...(platform.variant ? { variant: platform.variant } : {}),
    os: platform.os,
    created,
    comment: options.message ?? '',
    config: applyChanges({}, options.changes ?? []),
    rootfs: { type: 'layers', diff_ids: [diffId] },
    history: [{ created, comment: options.message || 'Imported from -', created_by: '' }],
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const imageId = sha256Digest(configBytes);
  await images.content.put(configBytes, imageId);
  const mediaType = layerMediaType(await blobCompression(images.content, blob.digest));
  await images.meta.put({
    id: imageId,
    layers: [{ diffId, chainId, tarSize, blob: { digest: blob.digest, size: blob.size, mediaType } }],
    size: layerInfo?.size ?? 0,
    created,
  });
  if (target) await images.setReference(target, imageId);
  await images.publish(imageId, 'import', imageId);
  return imageId;
}

function parseTarget(repo: string, tag: string | undefined): ImageReference {
  const ref = parseReference(tag ? `${repo}:${tag}` : repo);
  if (ref.digest) throw new InvalidParameterError('cannot import digest reference');
  return withDefaultTag(ref);
}
