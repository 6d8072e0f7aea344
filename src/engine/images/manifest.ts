import { InvalidParameterError } from '../../errors.js';
import type { Platform } from './platform.js';

/** Media types of the manifests and blobs berth reads and writes. */
export const MediaType = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
} as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform | undefined;
  annotations?: Record<string, string> | undefined;
}

export interface ImageManifest {
  kind: 'manifest';
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface ImageIndex {
  kind: 'index';
  mediaType: string;
  manifests: Descriptor[];
}

const INDEX_TYPES: readonly string[] = [MediaType.dockerManifestList, MediaType.ociIndex];
const MANIFEST_TYPES: readonly string[] = [MediaType.dockerManifest, MediaType.ociManifest];

/** The image configuration (the config blob), as far as berth reads it. */
export interface ImageConfig {
  created?: string;
  author?: string;
  architecture?: string;
  variant?: string;
  os?: string;
  'os.version'?: string;
  config?: ContainerConfigFields;
  container_config?: ContainerConfigFields;
  docker_version?: string;
  comment?: string;
  rootfs?: { type: string; diff_ids: string[] };
  history?: HistoryEntry[];
}

export interface ContainerConfigFields {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object> | null;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  Healthcheck?: {
    Test?: string[];
    Interval?: number;
    Timeout?: number;
    Retries?: number;
    StartPeriod?: number;
  };
  OnBuild?: string[] | null;
  Shell?: string[];
  ArgsEscaped?: boolean;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/** Parses a manifest or index document; the media type comes from the registry or the document itself. */
export function parseManifest(bytes: Buffer, mediaTypeHint?: string): ImageManifest | ImageIndex {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new InvalidParameterError('invalid manifest: not JSON', { cause: err });
  }
  const declared = typeof doc['mediaType'] === 'string' ? doc['mediaType'] : undefined;
  const mediaType =
    declared ??
    (mediaTypeHint && mediaTypeHint !== 'application/json'
      ? mediaTypeHint
      : Array.isArray(doc['manifests'])
        ? MediaType.ociIndex
        : MediaType.ociManifest);
  if (
    INDEX_TYPES.includes(mediaType) ||
    (Array.isArray(doc['manifests']) && !MANIFEST_TYPES.includes(mediaType))
  ) {
    const manifests = (doc['manifests'] as unknown[]).map(descriptor);
    return { kind: 'index', mediaType, manifests };
  }
  if (MANIFEST_TYPES.includes(mediaType)) {
    if (doc['config'] === undefined || !Array.isArray(doc['layers'])) {
      throw new InvalidParameterError('invalid manifest: missing config or layers');
    }
    return {
      kind: 'manifest',
      mediaType,
      config: descriptor(doc['config']),
      layers: (doc['layers'] as unknown[]).map(descriptor),
    };
  }
  if (doc['schemaVersion'] === 1) {
    throw new InvalidParameterError(
      'support for Docker Image Format v1 and Docker Image manifest version 2, schema 1 has been removed; the image must be converted to a newer format',
    );
  }
  throw new InvalidParameterError(`unsupported manifest media type: ${mediaType}`);
}

function descriptor(raw: unknown): Descriptor {
  const d = raw as Record<string, unknown> | null;
  if (!d || typeof d['digest'] !== 'string' || typeof d['size'] !== 'number') {
    throw new InvalidParameterError('invalid manifest: bad descriptor');
  }
  const p = d['platform'] as Record<string, unknown> | undefined;
  return {
    mediaType: typeof d['mediaType'] === 'string' ? d['mediaType'] : '',
    digest: d['digest'],
    size: d['size'],
    platform:
      p && typeof p['os'] === 'string' && typeof p['architecture'] === 'string'
        ? {
            os: p['os'],
            architecture: p['architecture'],
            ...(typeof p['variant'] === 'string' ? { variant: p['variant'] } : {}),
            ...(typeof p['os.version'] === 'string' ? { osVersion: p['os.version'] } : {}),
          }
        : undefined,
    annotations: (d['annotations'] as Record<string, string> | undefined) ?? undefined,
  };
}

export function parseImageConfig(bytes: Buffer): ImageConfig {
  let config: ImageConfig;
  try {
    config = JSON.parse(bytes.toString('utf8')) as ImageConfig;
  } catch (err) {
    throw new InvalidParameterError('invalid image config: not JSON', { cause: err });
  }
  if (!config.rootfs || !Array.isArray(config.rootfs.diff_ids)) {
    throw new InvalidParameterError('invalid image config: missing rootfs.diff_ids');
  }
  return config;
}

/** Whether a layer media type is one berth can unpack. */
export function isLayerMediaType(mediaType: string): boolean {
  return (
    mediaType === '' ||
    mediaType.startsWith('application/vnd.docker.image.rootfs.') ||
    mediaType.startsWith('application/vnd.oci.image.layer.')
  );
}
