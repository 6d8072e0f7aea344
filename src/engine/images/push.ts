import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';

import { NotFoundError } from '../../errors.js';
import type { RegistryClient } from '../../registry/client.js';
import { gzipStream } from '../../storage/compression.js';
import { blobCompression, uncompressedLayer, withConcurrency } from './layer-io.js';
import { MediaType } from './manifest.js';
import { ProgressThrottle, shortId, type ProgressSink } from './progress.js';
import {
  familiarName,
  familiarString,
  fullName,
  parseReference,
  referenceString,
  type ImageReference,
} from './reference.js';
import type { ImageService } from './service.js';
import type { ImageLayer, ImageRecord } from './store.js';

/** Layers uploaded at once, as Docker does. */
const CONCURRENT_UPLOADS = 5;

/**
 * Pushes the tags of a repository (one tag, or all of them) to its registry
 * with Docker's progress stream: per layer "Preparing", then "Layer already
 * exists", "Mounted from <repo>" or "Pushing" → "Pushed"; then the config,
 * the manifest, and the `<tag>: digest: ... size: ...` line with its aux
 * record. Uncompressed layers are gzip-compressed once and the compressed
 * blob kept for later pushes.
 */
export async function pushImage(
  images: ImageService,
  registry: RegistryClient,
  repository: ImageReference,
  tag: string | undefined,
  progress: ProgressSink,
): Promise<void> {
  const host = repository.domain;
  const repo = repository.path;
  const tags = tag
    ? [tag]
    : images.meta
        .allReferences()
        .map(([r]) => parseReference(r))
        .filter((r) => r.domain === host && r.path === repo && r.tag !== undefined && r.digest === undefined)
        .map((r) => r.tag as string)
        .sort();
  // moby's wording: the full repository name here, its errors below.
  progress({ status: `The push refers to repository [${fullName(repository)}]` });
  if (tags.length === 0) throw new NotFoundError(`no tags to push for ${familiarName(repository)}`);

  for (const t of tags) {
    const ref: ImageReference = { domain: host, path: repo, tag: t };
    const id = images.meta.resolve(referenceString(ref));
    const record = id ? images.meta.get(id) : undefined;
    if (!record) throw new NotFoundError(`tag does not exist: ${familiarString(ref)}`);
    await pushOne(images, registry, ref, record, progress);
  }
}

async function pushOne(
  images: ImageService,
  registry: RegistryClient,
  ref: ImageReference,
  record: ImageRecord,
  progress: ProgressSink,
): Promise<void> {
  const host = ref.domain;
  const repo = ref.path;
  const target = `${host}/${repo}`;
  const layers = record.layers.map((l) => ({ ...l }));
  const order = [...layers.keys()].reverse();
  for (const i of order)
    progress({ id: shortId(layers[i]?.diffId ?? ''), status: 'Preparing', detail: true });
  order
    .slice(CONCURRENT_UPLOADS)
    .forEach((i) => progress({ id: shortId(layers[i]?.diffId ?? ''), status: 'Waiting', detail: true }));

  await withConcurrency(order, CONCURRENT_UPLOADS, async (i) => {
    const layer = layers[i];
    const id = shortId(layer.diffId);
    const blob = await ensureCompressedBlob(images, layer);
    layer.blob = blob;
    if ((await registry.blobExists(host, repo, blob.digest)) !== undefined) {
      progress({ id, status: 'Layer already exists', detail: true });
    } else {
      const from = (layer.sources ?? []).find((s) => s.startsWith(`${host}/`) && s !== target);
      const fromRepo = from?.slice(host.length + 1);
      if (fromRepo && (await registry.mountBlob(host, repo, fromRepo, blob.digest).catch(() => false))) {
        progress({ id, status: `Mounted from ${fromRepo}`, detail: true });
      } else {
        const throttle = new ProgressThrottle(blob.size);
        await registry.pushBlob(
          host,
          repo,
          blob.digest,
          blob.size,
          () => createReadStream(images.content.path(blob.digest)),
          (sent: number) => {
            if (throttle.shouldReport(sent))
              progress({ id, status: 'Pushing', current: sent, total: blob.size });
          },
        );
        progress({ id, status: 'Pushing', current: blob.size, total: blob.size });
        progress({ id, status: 'Pushed', detail: true });
      }
    }
    layer.sources = [...new Set([...(layer.sources ?? []), target])];
  });

  const configBytes = await images.content.readBytes(record.id);
  if ((await registry.blobExists(host, repo, record.id)) === undefined) {
    await registry.pushBlob(host, repo, record.id, configBytes.length, () =>
      createReadStream(images.content.path(record.id)),
    );
  }
  // Docker's schema 2 can only say gzip or plain tar; anything else (zstd, OCI types) needs an OCI manifest.
  const oci = layers.some((l) => (l.blob?.mediaType ?? '').startsWith('application/vnd.oci.'));
  const manifestType = oci ? MediaType.ociManifest : MediaType.dockerManifest;
  const layerType = (mediaType: string | undefined): string | undefined => {
    if (oci) {
      if (mediaType === MediaType.dockerLayerGzip) return MediaType.ociLayerGzip;
      if (mediaType === MediaType.dockerLayer) return MediaType.ociLayer;
      return mediaType;
    }
    if (mediaType === MediaType.ociLayerGzip) return MediaType.dockerLayerGzip;
    if (mediaType === MediaType.ociLayer) return MediaType.dockerLayer;
    return mediaType;
  };
  const manifest = Buffer.from(
    JSON.stringify(
      {
        schemaVersion: 2,
        mediaType: manifestType,
        config: {
          mediaType: oci ? MediaType.ociConfig : MediaType.dockerConfig,
          size: configBytes.length,
          digest: record.id,
        },
        layers: layers.map((l) => ({
          mediaType: layerType(l.blob?.mediaType),
          size: l.blob?.size,
          digest: l.blob?.digest,
        })),
      },
      null,
      3,
    ),
  );
  const digest = await registry.putManifest(host, repo, ref.tag ?? 'latest', manifestType, manifest);
  await images.meta.put({ ...record, layers });
  await images.setReference({ domain: host, path: repo, digest }, record.id);
  progress({ status: `${ref.tag ?? 'latest'}: digest: ${digest} size: ${manifest.length}` });
  progress({ detail: true, aux: { Tag: ref.tag ?? 'latest', Digest: digest, Size: manifest.length } });
  const labels = (await images.config(record.id)).config?.Labels ?? {};
  images.events.publish({
    Type: 'image',
    Action: 'push',
    Actor: { ID: familiarString(ref), Attributes: { ...labels, name: familiarName(ref) } },
  });
}

/** The layer's compressed blob: the stored one if compressed, else a gzip made now and kept. */
async function ensureCompressedBlob(
  images: ImageService,
  layer: ImageLayer,
): Promise<{ digest: string; mediaType: string; size: number }> {
  const blob = layer.blob;
  let tar: Readable | undefined;
  if (blob && (await images.content.has(blob.digest))) {
    if ((await blobCompression(images.content, blob.digest)) !== 'none') return blob;
    tar = await uncompressedLayer(images.content, blob.digest);
  } else if (images.layers.hasTarSplit(layer.chainId)) {
    // A loaded layer: its exact tar is rebuilt from the layer store.
    tar = (await images.layers.tarStream(layer.chainId))?.stream;
  }
  if (tar === undefined) throw new NotFoundError(`layer ${layer.diffId} has no stored content to push`);
  const writer = await images.content.writer(`gzip-${randomBytes(8).toString('hex')}`);
  const { createHash } = await import('node:crypto');
  const hash = createHash('sha256');
  let size = 0;
  const gz = gzipStream();
  gz.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    size += chunk.length;
  });
  try {
    await pipeline(tar, gz, writer.stream());
    const digest = `sha256:${hash.digest('hex')}`;
    await writer.commit(digest, size);
    return { digest, size, mediaType: MediaType.dockerLayerGzip };
  } catch (err) {
    await writer.abort().catch(() => undefined);
    throw err;
  }
}
