import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';

import { NotFoundError } from '../../errors.js';
import type { RegistryClient } from '../../registry/client.js';
import { chainId as chainIds } from '../../storage/digest.js';
import { unpackBlob } from './layer-io.js';
import {
  isLayerMediaType,
  parseImageConfig,
  parseManifest,
  type Descriptor,
  type ImageManifest,
} from './manifest.js';
import { formatPlatform, hostPlatform, platformMatches, selectManifest, type Platform } from './platform.js';
import { ProgressThrottle, shortId, type ProgressSink } from './progress.js';
import { familiarName, familiarString, type ImageReference } from './reference.js';
import type { ImageService } from './service.js';
import type { ImageLayer } from './store.js';

/** Layers downloaded at once, as Docker does. */
const CONCURRENT_DOWNLOADS = 3;

export interface PullOptions {
  /** A reference with a tag or a digest. */
  ref: ImageReference;
  platform?: Platform | undefined;
  progress: ProgressSink;
  signal?: AbortSignal | undefined;
  /** Leave out the final `Status:` line (a pull of all tags writes one for them all). */
  noStatus?: boolean;
}

/** What a pull did: the image ID, and whether anything new came (layers, or the tag moved). */
export interface PullResult {
  id: string;
  newer: boolean;
}

/**
 * Pulls an image from its registry into the stores, with Docker's progress
 * stream. Blobs land in the content store only once verified; layers are
 * downloaded three at a time and unpacked in order; the image record and its
 * references are written last, so an interrupted pull leaves no image, and
 * the next pull reuses the layers that were complete.
 * Returns the image ID.
 */
export async function pullImage(
  images: ImageService,
  registry: RegistryClient,
  options: PullOptions,
): Promise<PullResult> {
  const { ref, progress, signal } = options;
  const reference = ref.digest ?? ref.tag ?? 'latest';
  const host = ref.domain;
  const repo = ref.path;
  const top = await registry.getManifest(host, repo, reference);
  progress({ id: reference, status: `Pulling from ${repo}` });
  let parsed = parseManifest(top.bytes, top.mediaType);
  const singlePlatform = parsed.kind !== 'index';
  const wanted = options.platform ?? hostPlatform();
  if (parsed.kind === 'index') {
    const chosen = selectManifest(parsed.manifests, wanted);
    if (!chosen) {
      throw new NotFoundError(
        `no matching manifest for ${formatPlatform(wanted)} in the manifest list entries`,
      );
    }
    const m = await registry.getManifest(host, repo, chosen.digest);
    parsed = parseManifest(m.bytes, m.mediaType);
    if (parsed.kind !== 'manifest')
      throw new NotFoundError(`manifest ${chosen.digest} is not an image manifest`);
  }
  const manifest: ImageManifest = parsed;

  const configDigest = manifest.config.digest;
  if (!(await images.content.has(configDigest))) {
    const blob = await registry.getBlob(host, repo, configDigest, { signal });
    const chunks: Buffer[] = [];
    for await (const chunk of blob.stream) chunks.push(chunk as Buffer);
    await images.content.put(Buffer.concat(chunks), configDigest);
  }
  const config = parseImageConfig(await images.content.readBytes(configDigest));
  const layerDescs = manifest.layers.filter((l) => isLayerMediaType(l.mediaType));
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== layerDescs.length) {
    throw new NotFoundError(
      `invalid image ${familiarString(ref)}: ${layerDescs.length} layers in the manifest but ${diffIds.length} in the config`,
    );
  }
  const chains = chainIds(diffIds);

  const existing = images.meta.get(configDigest);
  const upToDate = existing !== undefined && (await allLayersPresent(images, chains));

  const layers: ImageLayer[] = layerDescs.map((d, i) => ({
    diffId: diffIds[i] ?? '',
    chainId: chains[i] ?? '',
    blob: { digest: d.digest, mediaType: d.mediaType, size: d.size },
    sources: [`${host}/${repo}`],
  }));

  if (!upToDate) await fetchAndUnpack(images, registry, host, repo, layerDescs, layers, progress, signal);

  let size = 0;
  for (const l of layers) size += (await images.layers.get(l.chainId))?.size ?? 0;
  const sources = (l: ImageLayer, i: number): string[] => [
    ...new Set([...(existing?.layers[i]?.sources ?? []), ...(l.sources ?? [])]),
  ];
  await images.meta.put({
    id: configDigest,
    layers: layers.map((l, i) => ({
      ...l,
      tarSize: l.tarSize ?? existing?.layers[i]?.tarSize,
      sources: sources(l, i),
    })),
    size,
    created: config.created ?? new Date(0).toISOString(),
    parent: existing?.parent,
    lastTagTime: existing?.lastTagTime,
  });
  const repoRef: ImageReference = { domain: host, path: repo };
  const previousTagTarget = ref.tag ? images.meta.resolve(`${host}/${repo}:${ref.tag}`) : undefined;
  if (ref.tag) await images.setReference({ ...repoRef, tag: ref.tag }, configDigest);
  await images.setReference({ ...repoRef, digest: top.digest }, configDigest);

  progress({ status: `Digest: ${top.digest}` });
  const newer = !upToDate || (ref.tag !== undefined && previousTagTarget !== configDigest);
  if (options.noStatus !== true) progress({ status: pullStatus(familiarString(ref), newer) });
  if (options.platform !== undefined && singlePlatform) {
    // A single-platform image is pulled whatever --platform says (moby keeps that for compatibility), with a warning.
    const actual: Platform = {
      os: config.os ?? '',
      architecture: config.architecture ?? '',
      ...(config.variant ? { variant: config.variant } : {}),
    };
    if (!platformMatches(options.platform, actual)) {
      progress({
        status:
          `WARNING: image with reference ${familiarName(ref)} was found but does not match the specified ` +
          `platform: wanted ${formatPlatform(options.platform)}, actual: ${formatPlatform(actual)}`,
      });
    }
  }
  const labels = config.config?.Labels ?? {};
  images.events.publish({
    Type: 'image',
    Action: 'pull',
    Actor: { ID: familiarString(ref), Attributes: { ...labels, name: familiarName(ref) } },
  });
  return { id: configDigest, newer };
}

/** The last line of a pull, as Docker words it. */
export function pullStatus(name: string, newer: boolean): string {
  return newer ? `Status: Downloaded newer image for ${name}` : `Status: Image is up to date for ${name}`;
}

/**
 * `docker pull --all-tags`: a name without tag or digest pulls every tag
 * the registry lists, one after another, each reported as a pull of its
 * own, with one `Status:` line for the repository at the end (moby's
 * pullRepository).
 */
export async function pullAllTags(
  images: ImageService,
  registry: RegistryClient,
  options: Omit<PullOptions, 'noStatus'>,
): Promise<void> {
  const { ref } = options;
  const tags = await registry.listTags(ref.domain, ref.path);
  if (tags.length === 0) throw new NotFoundError(`repository ${familiarString(ref)} has no tags`);
  let newer = false;
  for (const tag of tags) {
    const pulled = await pullImage(images, registry, { ...options, ref: { ...ref, tag }, noStatus: true });
    newer ||= pulled.newer;
  }
  options.progress({ status: pullStatus(familiarString(ref), newer) });
}

async function allLayersPresent(images: ImageService, chains: string[]): Promise<boolean> {
  for (const c of chains) if (!(await images.layers.get(c))) return false;
  return true;
}

async function fetchAndUnpack(
  images: ImageService,
  registry: RegistryClient,
  host: string,
  repo: string,
  descs: Descriptor[],
  layers: ImageLayer[],
  progress: ProgressSink,
  signal: AbortSignal | undefined,
): Promise<void> {
  const present = await Promise.all(
    layers.map(async (l) => (await images.layers.get(l.chainId)) !== undefined),
  );
  // A layer whose chain exists is already unpacked; so are all below it.
  const lastPresent = present.lastIndexOf(true);
  const needed = descs.map((_, i) => i > lastPresent);
  const toFetch: number[] = [];
  descs.forEach((d, i) => {
    if (!needed[i]) progress({ id: shortId(d.digest), status: 'Already exists', detail: true });
    else toFetch.push(i);
  });
  for (const i of toFetch)
    progress({ id: shortId(descs[i]?.digest ?? ''), status: 'Pulling fs layer', detail: true });
  toFetch
    .slice(CONCURRENT_DOWNLOADS)
    .forEach((i) => progress({ id: shortId(descs[i]?.digest ?? ''), status: 'Waiting', detail: true }));

  // One promise per layer, settled when its blob is verified in the content store.
  const downloaded = new Map<
    number,
    { resolve: () => void; reject: (e: unknown) => void; done: Promise<void> }
  >();
  for (const i of toFetch) {
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    done.catch(() => undefined);
    downloaded.set(i, { resolve, reject, done });
  }
  const downloads = (async () => {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < toFetch.length) {
        const i = toFetch[next++];
        const slot = downloaded.get(i);
        try {
          await downloadBlob(images, registry, host, repo, descs[i], progress, signal);
          slot?.resolve();
        } catch (err) {
          slot?.reject(err);
          throw err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENT_DOWNLOADS, toFetch.length) }, worker));
  })();
  downloads.catch(() => undefined);

  for (const i of toFetch) {
    const desc = descs[i];
    await downloaded.get(i)?.done;
    const id = shortId(desc.digest);
    const throttle = new ProgressThrottle(desc.size);
    const layer = layers[i];
    const parent = i > 0 ? layers[i - 1]?.chainId : undefined;
    const unpacked = await unpackBlob(
      images.content,
      images.layers,
      desc.digest,
      parent,
      layer.diffId,
      (n) => {
        if (throttle.shouldReport(n)) progress({ id, status: 'Extracting', current: n, total: desc.size });
      },
    );
    layer.tarSize = unpacked.tarSize;
    progress({ id, status: 'Extracting', current: desc.size, total: desc.size });
    progress({ id, status: 'Pull complete', detail: true });
  }
  await downloads;
}

async function downloadBlob(
  images: ImageService,
  registry: RegistryClient,
  host: string,
  repo: string,
  desc: Descriptor,
  progress: ProgressSink,
  signal: AbortSignal | undefined,
): Promise<void> {
  const id = shortId(desc.digest);
  if (await images.content.has(desc.digest)) {
    // A partial ingest of a blob stored meanwhile (an earlier, interrupted pull) is of no use any more.
    const stale = await images.content.writer(`pull-${desc.digest.slice(7)}`).catch(() => undefined);
    await stale?.abort().catch(() => undefined);
    progress({ id, status: 'Download complete', detail: true });
    return;
  }
  const writer = await images.content.writer(`pull-${desc.digest.slice(7)}`, {
    digest: desc.digest,
    size: desc.size,
  });
  try {
    const blob = await registry.getBlob(host, repo, desc.digest, { offset: writer.offset, signal });
    if (blob.offset !== writer.offset) {
      await writer.abort();
      return downloadBlob(images, registry, host, repo, desc, progress, signal);
    }
    let current = blob.offset;
    const throttle = new ProgressThrottle(desc.size);
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        current += chunk.length;
        if (throttle.shouldReport(current))
          progress({ id, status: 'Downloading', current, total: desc.size });
        cb(null, chunk);
      },
    });
    await pipeline(blob.stream, counter, writer.stream());
    progress({ id, status: 'Verifying Checksum', detail: true });
    await writer.commit(desc.digest, desc.size);
    progress({ id, status: 'Download complete', detail: true });
  } catch (err) {
    if (!signal?.aborted) await writer.abort().catch(() => undefined);
    throw err;
  }
}
