import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { dirname, join, normalize, posix } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { extract as tarExtract, pack as tarPack } from 'tar-stream';

import { InvalidParameterError, NotFoundError } from '../../errors.js';
import { chainId as chainIds, sha256Digest } from '../../storage/digest.js';
import { goArch } from '../../util/platform.js';
import { applyChanges } from './changes.js';
import { blobCompression, uncompressedLayer, unpackBlob } from './layer-io.js';
import { MediaType, parseImageConfig, parseManifest, type ImageConfig } from './manifest.js';
import { hostPlatform, selectManifest } from './platform.js';
import { shortId, type ProgressSink } from './progress.js';
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

/** Registers an image from a stored config and stored layer blobs (in order). */
async function registerImage(
  images: ImageService,
  configDigest: string,
  layerBlobs: { digest: string; size: number; mediaType?: string }[],
  progress: ProgressSink,
  quiet: boolean,
): Promise<string> {
  const config = parseImageConfig(await images.content.readBytes(configDigest));
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== layerBlobs.length) {
    throw new InvalidParameterError(
      `invalid image: ${layerBlobs.length} layers but ${diffIds.length} diff_ids in the config`,
    );
  }
  const chains = chainIds(diffIds);
  const layers: ImageLayer[] = [];
  let size = 0;
  for (const [i, blob] of layerBlobs.entries()) {
    const chainId = chains[i] ?? '';
    const diffId = diffIds[i] ?? '';
    let existing = await images.layers.get(chainId);
    let tarSize: number | undefined;
    if (!existing) {
      const id = shortId(diffId);
      const total = blob.size;
      tarSize = (
        await unpackBlob(
          images.content,
          images.layers,
          blob.digest,
          i > 0 ? chains[i - 1] : undefined,
          diffId,
          (n) => {
            if (!quiet) progress({ id, status: 'Loading layer', current: n, total });
          },
        )
      ).tarSize;
      existing = await images.layers.get(chainId);
    }
    size += existing?.size ?? 0;
    layers.push({
      diffId,
      chainId,
      tarSize,
      blob: {
        digest: blob.digest,
        size: blob.size,
        mediaType: blob.mediaType ?? layerMediaType(await blobCompression(images.content, blob.digest)),
      },
    });
  }
  const previous = images.meta.get(configDigest);
  await images.meta.put({
    id: configDigest,
    layers: previous?.layers.every((l, i) => l.blob?.digest === layers[i]?.blob?.digest)
      ? previous.layers
      : layers,
    size,
    created: config.created ?? new Date().toISOString(),
    parent: previous?.parent,
    lastTagTime: previous?.lastTagTime,
  });
  return configDigest;
}

/** A tar unpacked into a scratch dir: regular files only, paths kept inside, links resolved within. */
class ScratchArchive {
  readonly dir: string;
  private readonly links = new Map<string, string>();

  private constructor(dir: string) {
    this.dir = dir;
  }

  static async unpack(source: Readable, scratchRoot: string): Promise<ScratchArchive> {
    const dir = join(scratchRoot, `load-${randomBytes(8).toString('hex')}`);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const archive = new ScratchArchive(dir);
    const extractor = tarExtract();
    const done = new Promise<void>((resolve, reject) => {
      extractor.on('entry', (header, stream, next) => {
        const name = safeName(header.name);
        if (name === undefined || header.name.endsWith('/')) {
          stream.resume();
          next();
          return;
        }
        if (header.type === 'file' || header.type === 'contiguous-file') {
          const target = join(dir, name);
          mkdir(dirname(target), { recursive: true })
            .then(() => pipeline(stream, createWriteStream(target)))
            .then(() => next(), reject);
          return;
        }
        if ((header.type === 'symlink' || header.type === 'link') && header.linkname) {
          const base = header.type === 'symlink' ? posix.dirname(name) : '';
          const resolved = safeName(posix.join(base, header.linkname));
          if (resolved !== undefined) archive.links.set(name, resolved);
        }
        stream.resume();
        next();
      });
      extractor.on('finish', resolve);
      extractor.on('error', reject);
      source.on('error', reject);
    });
    source.pipe(extractor);
    try {
      await done;
    } catch (err) {
      await archive.remove();
      throw new InvalidParameterError(`invalid archive: ${(err as Error).message}`, { cause: err });
    }
    return archive;
  }

  resolve(name: string): string {
    let current = safeName(name) ?? name;
    for (let i = 0; i < 16 && this.links.has(current); i++) current = this.links.get(current) ?? current;
    return join(this.dir, current);
  }

  async exists(name: string): Promise<boolean> {
    return stat(this.resolve(name)).then(
      (s) => s.isFile(),
      () => false,
    );
  }

  async json<T>(name: string): Promise<T> {
    try {
      return JSON.parse(await readFile(this.resolve(name), 'utf8')) as T;
    } catch (err) {
      throw new InvalidParameterError(`invalid archive: cannot read ${name}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  stream(name: string): Readable {
    return createReadStream(this.resolve(name));
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
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

/** POST /images/load. Reports `Loaded image: x` per tag (or `Loaded image ID: ...`). Returns the image IDs. */
export async function loadImages(
  images: ImageService,
  source: Readable,
  scratchRoot: string,
  progress: ProgressSink,
  quiet: boolean,
): Promise<string[]> {
  const archive = await ScratchArchive.unpack(source, scratchRoot);
  const loaded: string[] = [];
  try {
    const found: { id: string; tags: ImageReference[] }[] = [];
    if (await archive.exists('manifest.json')) {
      const entries = await archive.json<SaveManifestEntry[]>('manifest.json');
      if (!Array.isArray(entries))
        throw new InvalidParameterError('invalid archive: manifest.json is not a list');
      for (const entry of entries) {
        const config = await storeBlob(
          images,
          archive.stream(entry.Config),
          `load-config-${randomBytes(6).toString('hex')}`,
        );
        const blobs = [];
        for (const layer of entry.Layers) {
          blobs.push(
            await storeBlob(images, archive.stream(layer), `load-layer-${randomBytes(6).toString('hex')}`),
          );
        }
        const id = await registerImage(images, config.digest, blobs, progress, quiet);
        found.push({ id, tags: (entry.RepoTags ?? []).map((t) => withDefaultTag(parseReference(t))) });
      }
    } else if (await archive.exists('index.json')) {
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
    await archive.remove();
  }
  return loaded;
}

async function loadOciLayout(
  images: ImageService,
  archive: ScratchArchive,
  progress: ProgressSink,
  quiet: boolean,
): Promise<{ id: string; tags: ImageReference[] }[]> {
  const index = parseManifest(await readFile(archive.resolve('index.json')), MediaType.ociIndex);
  if (index.kind !== 'index')
    throw new InvalidParameterError('invalid OCI layout: index.json is not an index');
  const out: { id: string; tags: ImageReference[] }[] = [];
  const blobPath = (digest: string): string => `blobs/${digest.replace(':', '/')}`;
  for (const desc of index.manifests) {
    let manifest = parseManifest(await readFile(archive.resolve(blobPath(desc.digest))), desc.mediaType);
    if (manifest.kind === 'index') {
      const chosen = selectManifest(manifest.manifests, hostPlatform());
      if (!chosen) continue;
      manifest = parseManifest(await readFile(archive.resolve(blobPath(chosen.digest))), chosen.mediaType);
      if (manifest.kind !== 'manifest') continue;
    }
    const config = await storeBlob(
      images,
      archive.stream(blobPath(manifest.config.digest)),
      `load-config-${randomBytes(6).toString('hex')}`,
    );
    const blobs = [];
    for (const layer of manifest.layers) {
      const stored = await storeBlob(
        images,
        archive.stream(blobPath(layer.digest)),
        `load-layer-${randomBytes(6).toString('hex')}`,
      );
      blobs.push({ ...stored, mediaType: layer.mediaType });
    }
    const id = await registerImage(images, config.digest, blobs, progress, quiet);
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
      if (!layer.blob || !(await images.content.has(layer.blob.digest))) {
        throw new NotFoundError(`layer ${layer.diffId} of image ${w.id} has no stored blob to save`);
      }
    }
  }

  const pack = tarPack();
  const out = new PassThrough();
  pack.pipe(out);
  const entry = (name: string, body: Buffer): Promise<void> =>
    new Promise((resolve, reject) =>
      pack.entry({ name, size: body.length, mode: 0o644, mtime: new Date(0) }, body, (err) =>
        err ? reject(err) : resolve(),
      ),
    );

  const write = async (): Promise<void> => {
    const written = new Set<string>();
    const manifestJson: SaveManifestEntry[] = [];
    const indexEntries: unknown[] = [];
    const repositories: Record<string, Record<string, string>> = {};
    for (const w of wanted) {
      const record = images.meta.get(w.id);
      if (!record) continue;
      const configBytes = await images.content.readBytes(w.id);
      if (!written.has(w.id)) {
        await entry(`blobs/sha256/${w.id.slice(7)}`, configBytes);
        written.add(w.id);
      }
      const layerNames: string[] = [];
      const layerDescs: unknown[] = [];
      for (const layer of record.layers) {
        const name = `blobs/sha256/${layer.diffId.slice(7)}`;
        layerNames.push(name);
        const tarSize = await layerTarSize(images, layer);
        layerDescs.push({ mediaType: MediaType.ociLayer, digest: layer.diffId, size: tarSize });
        if (!written.has(layer.diffId)) {
          const tar = await uncompressedLayer(images.content, layer.blob?.digest ?? '');
          await new Promise<void>((resolve, reject) => {
            const sink = pack.entry({ name, size: tarSize, mode: 0o644, mtime: new Date(0) }, (err) =>
              err ? reject(err) : resolve(),
            );
            tar.on('error', reject);
            tar.pipe(sink);
          });
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
        await entry(`blobs/sha256/${manifestDigest.slice(7)}`, manifest);
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
    await entry(
      'index.json',
      Buffer.from(
        JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: indexEntries }),
      ),
    );
    await entry('manifest.json', Buffer.from(JSON.stringify(manifestJson)));
    await entry('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
    if (Object.keys(repositories).length > 0)
      await entry('repositories', Buffer.from(JSON.stringify(repositories)));
    pack.finalize();
  };
  write().catch((err: unknown) => out.destroy(err as Error));
  return out;
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
  const blob = await storeBlob(images, source, `import-${randomBytes(8).toString('hex')}`);
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
