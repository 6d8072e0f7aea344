import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

import { InvalidParameterError } from '../../errors.js';
import { RegistryClient, type AuthConfig } from '../../registry/client.js';
import { LocalContentStore } from '../../storage/content.js';
import { LayerStore } from '../../storage/layers.js';
import { recycleTarChunk } from '../../storage/tar-split.js';
import type { FilterArgs } from '../../util/filters.js';
import type { Logger } from '../../util/log.js';
import type { EventBus } from '../events/bus.js';
import { importImage, loadImages, saveImages, type ImportOptions } from './archive.js';
import { parseManifest, type Descriptor } from './manifest.js';
import { parsePlatform, type Platform } from './platform.js';
import type { ProgressSink } from './progress.js';
import { pullAllTags, pullImage } from './pull.js';
import { pushImage } from './push.js';
import { parseReference, parseRepositoryAndTag, type ImageReference } from './reference.js';
import { ImageService, type DeleteRecord, type ImageView } from './service.js';
import { ImageMetadataStore } from './store.js';

export interface RegistrySettings {
  insecureRegistries: string[];
  registryMirrors: string[];
  userAgent: string;
}

/**
 * The image domain's entry point: owns the stores and the service, and runs
 * pull, push, load, save and import. Registry clients are made per request
 * with that request's credentials (X-Registry-Auth).
 *
 * On disk: `<data-root>/image/` holds `content/` (ContentStore), `layers/`
 * (LayerStore), `images/` + `repositories.json` (ImageMetadataStore). Loads
 * stream straight into the stores (no scratch copy).
 */
export class ImageManager {
  readonly service: ImageService;
  private readonly settings: RegistrySettings;

  private constructor(service: ImageService, settings: RegistrySettings) {
    this.service = service;
    this.settings = settings;
  }

  static async open(
    dataRoot: string,
    events: EventBus,
    logger: Logger,
    settings: RegistrySettings,
  ): Promise<ImageManager> {
    const root = join(dataRoot, 'image');
    await mkdir(root, { recursive: true, mode: 0o700 });
    await rm(join(root, 'tmp'), { recursive: true, force: true }); // scratch space of older versions
    const content = await LocalContentStore.open(join(root, 'content'));
    await content.cleanupIngests(24 * 3600 * 1000);
    // Only pulls resume (their refs name the digest); partial loads, imports and conversions never
    // can, and an ingest whose blob is already stored has nothing left to do.
    for (const ingest of await content.ingests()) {
      const done = ingest.expected?.digest !== undefined && (await content.has(ingest.expected.digest));
      if (done || /^(load|import|gzip|config)-/.test(ingest.ref)) {
        const writer = await content.writer(ingest.ref).catch(() => undefined);
        await writer?.abort().catch(() => undefined);
      }
    }
    const layers = await LayerStore.open(join(root, 'layers'));
    const meta = await ImageMetadataStore.open(root);
    const service = new ImageService({ meta, content, layers, events, logger });
    return new ImageManager(service, settings);
  }

  registry(auth: AuthConfig | undefined): RegistryClient {
    return new RegistryClient({
      insecureRegistries: this.settings.insecureRegistries,
      mirrors: this.settings.registryMirrors,
      userAgent: this.settings.userAgent,
      credentials: () => auth,
    });
  }

  list(filters: FilterArgs, all: boolean): Promise<ImageView[]> {
    return this.service.list(filters, all);
  }

  async inspect(name: string): Promise<{ view: ImageView; dirs: string[] }> {
    const record = this.service.resolve(name);
    return { view: await this.service.view(record), dirs: this.service.lowerDirs(record) };
  }

  async history(name: string): Promise<{ view: ImageView; layerSizes: number[] }> {
    const record = this.service.resolve(name);
    const sizes: number[] = [];
    for (const l of record.layers) {
      const own = await this.service.layers.diffSize(l.chainId).catch(() => 0);
      sizes.push(own);
    }
    return { view: await this.service.view(record), layerSizes: sizes };
  }

  tag(name: string, repo: string, tag: string): Promise<void> {
    return this.service.tag(name, repo, tag);
  }

  remove(name: string, force: boolean, noprune: boolean): Promise<DeleteRecord[]> {
    return this.service.remove(name, force, !noprune);
  }

  prune(filters: FilterArgs): Promise<{ deleted: DeleteRecord[]; reclaimed: number }> {
    return this.service.prune(filters);
  }

  /** POST /images/create?fromImage=&tag=&platform=. */
  async pull(
    fromImage: string,
    tag: string,
    platform: string,
    auth: AuthConfig | undefined,
    progress: ProgressSink,
    signal?: AbortSignal,
  ): Promise<void> {
    const ref = parseRepositoryAndTag(fromImage, tag);
    const wanted: Platform | undefined = platform ? parsePlatform(platform) : undefined;
    // A bare name is every tag (the CLI adds `latest` itself unless asked for --all-tags), as dockerd.
    if (ref.tag === undefined && ref.digest === undefined) {
      await pullAllTags(this.service, this.registry(auth), { ref, platform: wanted, progress, signal });
      return;
    }
    await pullImage(this.service, this.registry(auth), { ref, platform: wanted, progress, signal });
  }

  /** POST /images/create?fromSrc=-: import a rootfs tarball; reports the new ID as Docker does. */
  async import(source: Readable, options: ImportOptions, progress: ProgressSink): Promise<string> {
    const id = await importImage(this.service, source, options);
    progress({ status: id });
    return id;
  }

  /** POST /images/{name}/push?tag=. */
  async push(name: string, tag: string, auth: AuthConfig | undefined, progress: ProgressSink): Promise<void> {
    const ref = parseReference(name);
    if (ref.digest) throw new InvalidParameterError('cannot push a digest reference');
    const repository: ImageReference = { domain: ref.domain, path: ref.path };
    await pushImage(this.service, this.registry(auth), repository, tag || ref.tag, progress);
  }

  save(names: string[]): Promise<Readable> {
    return saveImages(this.service, names);
  }

  /** A chunk of a `save` stream its consumer is done with: its memory may be reused. */
  recycleChunk(chunk: Uint8Array): void {
    recycleTarChunk(chunk);
  }

  load(source: Readable, quiet: boolean, progress: ProgressSink): Promise<string[]> {
    return loadImages(this.service, source, progress, quiet);
  }

  /** GET /distribution/{name}/json: what the registry has for a reference, without pulling. */
  async distribution(
    name: string,
    auth: AuthConfig | undefined,
  ): Promise<{ descriptor: Descriptor; platforms: Platform[] }> {
    const ref = withLatest(parseReference(name));
    const registry = this.registry(auth);
    const m = await registry.getManifest(ref.domain, ref.path, ref.digest ?? ref.tag ?? 'latest');
    const parsed = parseManifest(m.bytes, m.mediaType);
    const descriptor: Descriptor = { mediaType: m.mediaType, digest: m.digest, size: m.size };
    if (parsed.kind === 'index') {
      return { descriptor, platforms: parsed.manifests.flatMap((d) => (d.platform ? [d.platform] : [])) };
    }
    const config = JSON.parse(
      (
        await streamToBuffer((await registry.getBlob(ref.domain, ref.path, parsed.config.digest)).stream)
      ).toString(),
    ) as {
      os?: string;
      architecture?: string;
      variant?: string;
    };
    return {
      descriptor,
      platforms: [
        {
          os: config.os ?? 'linux',
          architecture: config.architecture ?? '',
          ...(config.variant ? { variant: config.variant } : {}),
        },
      ],
    };
  }

  /** POST /auth. */
  login(auth: AuthConfig): Promise<{ status: string; identityToken?: string | undefined }> {
    const server = auth.serveraddress ?? '';
    const host = registryHostOf(server);
    return this.registry(auth).login(host, auth);
  }
}

function withLatest(ref: ImageReference): ImageReference {
  return ref.tag === undefined && ref.digest === undefined ? { ...ref, tag: 'latest' } : ref;
}

/** The registry host of a login server address (`https://index.docker.io/v1/` → docker.io). */
export function registryHostOf(server: string): string {
  if (
    server === '' ||
    /(^|\/\/)(index\.)?docker\.io(\/|$)/.test(server) ||
    server.includes('registry-1.docker.io')
  ) {
    return 'docker.io';
  }
  return server.replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '');
}

async function streamToBuffer(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
