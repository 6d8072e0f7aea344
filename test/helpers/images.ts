// Image fixtures for the image, registry and container tests. The machines
// have no internet, so the tests make their own images: a minimal busybox
// rootfs, small extra layers, image configs and manifests, manifest lists, and
// the archive formats `docker save`, `docker load`, `docker import` and OCI
// layouts use. Everything is deterministic (fixed mtimes, uid/gid 0, sorted
// entries), so the same call gives the same digests.
import { createCipheriv, createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gunzip as gunzipCallback, gzip as gzipCallback } from 'node:zlib';

import { extract, pack, type Header } from 'tar-stream';

/** A tar header to write: a name and what differs from tar-stream's defaults. */
export type TarHeader = Partial<Header> & Pick<Header, 'name'>;

const gzipAsync = promisify(gzipCallback);
const gunzipAsync = promisify(gunzipCallback);

/** The host's static busybox, copied into the fixture rootfs. */
export const BUSYBOX_PATH = process.env['BERTH_TEST_BUSYBOX'] ?? '/bin/busybox';

/** The mtime of every fixture tar entry (unless a caller picks another). */
export const FIXTURE_MTIME = new Date('2024-01-01T00:00:00Z');
/** The `created` time of fixture image configs. */
export const FIXTURE_CREATED = '2024-01-01T00:00:00Z';
/** The default `PATH` of fixture images (as Docker's). */
export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** What `helloWorldImage()` prints first. */
export const HELLO_GREETING = 'Hello from berth!';

export const MEDIA_TYPES = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

/** Applets linked to `busybox` in `bin/` of the fixture rootfs. */
export const BUSYBOX_APPLETS: readonly string[] = [
  'cat',
  'date',
  'dd',
  'echo',
  'env',
  'false',
  'grep',
  'head',
  'hostname',
  'httpd',
  'id',
  'kill',
  'ls',
  'mkdir',
  'nc',
  'ping',
  'ps',
  'rm',
  'sh',
  'sleep',
  'stat',
  'top',
  'touch',
  'true',
  'uname',
  'wget',
  'whoami',
];

// ---------------------------------------------------------------------------
// Digests and tar plumbing

/** `sha256:<hex>` of some bytes. */
export function sha256Digest(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** The hex part of a `sha256:<hex>` digest. */
export function digestHex(digest: string): string {
  const hex = digest.startsWith('sha256:') ? digest.slice('sha256:'.length) : digest;
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`not a sha256 digest: ${digest}`);
  return hex;
}

export function gzipBuffer(data: Buffer): Promise<Buffer> {
  return gzipAsync(data);
}

interface TarItem {
  header: TarHeader;
  data?: Buffer;
}

/** Packs entries, in the order given, into one uncompressed tar. */
async function packTar(items: TarItem[]): Promise<Buffer> {
  const tar = pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    tar.on('data', (chunk) => chunks.push(chunk as Buffer));
    tar.once('end', () => resolve());
    tar.once('error', reject);
  });
  for (const item of items) {
    await new Promise<void>((resolve, reject) => {
      tar.entry(item.header, item.data ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
    });
  }
  tar.finalize();
  await done;
  return Buffer.concat(chunks);
}

export interface TarEntryRead {
  header: Header;
  data: Buffer;
}

/** Reads a tar (gzip'ed or not) back into its entries, contents whole. */
export async function readTarEntries(archive: Buffer): Promise<TarEntryRead[]> {
  const plain = archive[0] === 0x1f && archive[1] === 0x8b ? await gunzipAsync(archive) : archive;
  const ex = extract();
  const out: TarEntryRead[] = [];
  const reading = (async () => {
    for await (const entry of ex) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      out.push({ header: entry.header, data: Buffer.concat(chunks) });
    }
  })();
  ex.end(plain);
  await reading;
  return out;
}

/** The entries of a tar as a map from name (directories keep their trailing `/`). */
export async function readTarMap(archive: Buffer): Promise<Map<string, TarEntryRead>> {
  const map = new Map<string, TarEntryRead>();
  for (const entry of await readTarEntries(archive)) map.set(entry.header.name, entry);
  return map;
}

// ---------------------------------------------------------------------------
// Layers

/**
 * One entry of a layer. A string or Buffer is a regular file (mode 0644, or
 * 0755 when it starts with `#!`). A whiteout's key is the path it deletes
 * (`etc/hosts` becomes `etc/.wh.hosts`); an opaque's key is the directory it
 * makes opaque (`var/lib` gets `var/lib/.wh..wh..opq`).
 */
export type LayerEntry =
  | string
  | Buffer
  | {
      type: 'file' | 'symlink' | 'hardlink' | 'dir' | 'whiteout' | 'opaque';
      /** Contents of a `file`. */
      content?: string | Buffer;
      /** Target of a `symlink` (as written) or a `hardlink` (a path in the same layer). */
      target?: string;
      mode?: number;
      uid?: number;
      gid?: number;
    };

export type LayerFiles = Record<string, LayerEntry>;

export interface LayerTarOptions {
  mtime?: Date;
  /** Add entries for parent directories not given explicitly (as Docker's diffs do); default true. */
  parents?: boolean;
}

function normalizePath(path: string): string {
  const clean = path
    .replace(/^(\.\/|\/)+/, '')
    .replace(/\/+$/, '')
    .replace(/\/\/+/g, '/');
  if (clean === '' || clean === '.') throw new Error(`invalid layer path: ${JSON.stringify(path)}`);
  return clean;
}

function parentOf(path: string): string | undefined {
  const i = path.lastIndexOf('/');
  return i === -1 ? undefined : path.slice(0, i);
}

function baseOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function layerItems(files: LayerFiles, options: LayerTarOptions = {}): TarItem[] {
  const mtime = options.mtime ?? FIXTURE_MTIME;
  const items = new Map<string, TarItem>();
  const base = (name: string, extra: Partial<Header>): TarHeader => ({
    name,
    mtime,
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
    ...extra,
  });
  const dir = (path: string, mode = 0o755, uid = 0, gid = 0): TarItem => ({
    header: base(`${path}/`, { type: 'directory', mode, uid, gid }),
  });
  const file = (path: string, data: Buffer, mode: number, uid = 0, gid = 0): TarItem => ({
    header: base(path, { type: 'file', mode, uid, gid, size: data.length }),
    data,
  });

  for (const [rawPath, entry] of Object.entries(files)) {
    const path = normalizePath(rawPath);
    if (typeof entry === 'string' || Buffer.isBuffer(entry)) {
      const data = Buffer.isBuffer(entry) ? entry : Buffer.from(entry);
      items.set(path, file(path, data, data.subarray(0, 2).toString() === '#!' ? 0o755 : 0o644));
      continue;
    }
    const uid = entry.uid ?? 0;
    const gid = entry.gid ?? 0;
    switch (entry.type) {
      case 'file': {
        const content = entry.content ?? '';
        const data = Buffer.isBuffer(content) ? content : Buffer.from(content);
        items.set(path, file(path, data, entry.mode ?? 0o644, uid, gid));
        break;
      }
      case 'dir':
        items.set(path, dir(path, entry.mode ?? 0o755, uid, gid));
        break;
      case 'symlink':
      case 'hardlink':
        if (entry.target === undefined) throw new Error(`${entry.type} ${path} needs a target`);
        items.set(path, {
          header: base(path, {
            type: entry.type === 'symlink' ? 'symlink' : 'link',
            linkname: entry.type === 'symlink' ? entry.target : normalizePath(entry.target),
            mode: entry.mode ?? 0o777,
            uid,
            gid,
            size: 0,
          }),
        });
        break;
      case 'whiteout': {
        const parent = parentOf(path);
        const name = `${parent === undefined ? '' : `${parent}/`}.wh.${baseOf(path)}`;
        items.set(name, file(name, Buffer.alloc(0), entry.mode ?? 0o644, uid, gid));
        break;
      }
      case 'opaque': {
        if (!items.has(path)) items.set(path, dir(path, entry.mode ?? 0o755, uid, gid));
        const name = `${path}/.wh..wh..opq`;
        items.set(name, file(name, Buffer.alloc(0), 0o644, uid, gid));
        break;
      }
    }
  }

  if (options.parents ?? true) {
    for (const path of [...items.keys()]) {
      for (let p = parentOf(path); p !== undefined; p = parentOf(p)) {
        if (!items.has(p)) items.set(p, dir(p));
      }
    }
  }
  return [...items.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, item]) => item);
}

/** A small uncompressed layer tar from a description of its entries. */
export function layerTar(files: LayerFiles, options: LayerTarOptions = {}): Promise<Buffer> {
  return packTar(layerItems(files, options));
}

let busyboxBinary: Promise<Buffer> | undefined;

/** The bytes of the host's busybox (read once). */
export function busyboxBytes(): Promise<Buffer> {
  busyboxBinary ??= readFile(BUSYBOX_PATH);
  return busyboxBinary;
}

export const FIXTURE_PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'app:x:1000:1000:app:/home/app:/bin/sh',
  'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
  '',
].join('\n');

export const FIXTURE_GROUP = ['root:x:0:', 'app:x:1000:', 'nobody:x:65534:', ''].join('\n');

export const FIXTURE_HOSTS = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n';

async function busyboxRootfsFiles(extraFiles: LayerFiles = {}): Promise<LayerFiles> {
  const files: LayerFiles = {
    bin: { type: 'dir' },
    'bin/busybox': { type: 'file', content: await busyboxBytes(), mode: 0o755 },
    dev: { type: 'dir' },
    etc: { type: 'dir' },
    'etc/group': FIXTURE_GROUP,
    'etc/hosts': FIXTURE_HOSTS,
    'etc/passwd': FIXTURE_PASSWD,
    home: { type: 'dir' },
    'home/app': { type: 'dir', uid: 1000, gid: 1000 },
    proc: { type: 'dir' },
    root: { type: 'dir', mode: 0o700 },
    sys: { type: 'dir' },
    tmp: { type: 'dir', mode: 0o1777 },
    usr: { type: 'dir' },
    'usr/bin': { type: 'dir' },
    var: { type: 'dir' },
  };
  for (const applet of BUSYBOX_APPLETS) files[`bin/${applet}`] = { type: 'symlink', target: 'busybox' };
  for (const [path, entry] of Object.entries(extraFiles)) files[normalizePath(path)] = entry;
  return files;
}

let defaultBusyboxLayer: Promise<Buffer> | undefined;

/**
 * An uncompressed, deterministic tar of a minimal rootfs: `bin/busybox` with
 * applet symlinks, the usual top-level directories (`tmp` 1777, `root` 0700),
 * `etc/passwd` (root, app 1000, nobody), `etc/group` and `etc/hosts`.
 * `extraFiles` add or replace entries.
 */
export async function busyboxRootfsLayer(
  options: { extraFiles?: LayerFiles; mtime?: Date } = {},
): Promise<Buffer> {
  if (options.extraFiles === undefined && options.mtime === undefined) {
    defaultBusyboxLayer ??= busyboxRootfsFiles().then((files) => layerTar(files));
    return Buffer.from(await defaultBusyboxLayer);
  }
  return layerTar(await busyboxRootfsFiles(options.extraFiles), { mtime: options.mtime ?? FIXTURE_MTIME });
}

/** The flattened busybox rootfs as a `docker import` source, gzip'ed on request. */
export async function rootfsTarball(
  options: { gzip?: boolean; extraFiles?: LayerFiles } = {},
): Promise<Buffer> {
  const tar = await busyboxRootfsLayer(options.extraFiles ? { extraFiles: options.extraFiles } : {});
  return options.gzip ? gzipBuffer(tar) : tar;
}

/**
 * A layer of about `sizeBytes` of pseudo-random (AES-CTR keystream seeded by
 * `seed`: deterministic, incompressible, generated at memory speed) file
 * contents, split into files of `fileSize` (16 MiB) under `data/`.
 */
export function bigLayer(
  sizeBytes: number,
  seed: number | string = 0,
  options: { fileSize?: number } = {},
): Promise<Buffer> {
  const fileSize = Math.max(1, options.fileSize ?? 16 * 1024 * 1024);
  const key = createHash('sha256').update(`berth-big-layer:${seed}`).digest();
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
  const items: TarItem[] = [
    { header: { name: 'data/', type: 'directory', mode: 0o755, mtime: FIXTURE_MTIME, uid: 0, gid: 0 } },
  ];
  let remaining = Math.max(0, Math.floor(sizeBytes));
  for (let i = 0; remaining > 0; i++) {
    const n = Math.min(fileSize, remaining);
    remaining -= n;
    const data = cipher.update(Buffer.alloc(n));
    const name = `data/blob-${String(i).padStart(6, '0')}`;
    items.push({
      header: { name, type: 'file', mode: 0o644, mtime: FIXTURE_MTIME, uid: 0, gid: 0, size: n },
      data,
    });
  }
  return packTar(items);
}

// ---------------------------------------------------------------------------
// Images

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface HealthcheckConfig {
  Test: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** The `config` section of an image config; unknown keys are passed through. */
export interface ImageConfigFields {
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  Env?: string[];
  WorkingDir?: string;
  User?: string;
  Labels?: Record<string, string>;
  ExposedPorts?: Record<string, Record<string, never>>;
  Volumes?: Record<string, Record<string, never>>;
  StopSignal?: string;
  Healthcheck?: HealthcheckConfig;
  [key: string]: unknown;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface BuildImageOptions {
  /** Uncompressed layer tars, bottom first. */
  layers: Buffer[];
  /** Merged over the defaults `Env: [PATH=...]`, `Cmd: ["sh"]` (a given key replaces the default). */
  config?: ImageConfigFields;
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  author?: string;
  /** Replaces the default history (one `created_by` entry per layer). */
  history?: HistoryEntry[];
}

export interface FixtureLayer {
  uncompressed: Buffer;
  gzip: Buffer;
  /** sha256 of the uncompressed tar (the config's diff_id). */
  diffId: string;
  /** sha256 of the gzip blob (the manifest's layer digest). */
  digest: string;
  /** Size of the gzip blob (the manifest's layer size). */
  size: number;
}

export interface FixtureImage {
  config: Buffer;
  /** sha256 of the config: the image ID. */
  configDigest: string;
  layers: FixtureLayer[];
  platform: Platform;
  /** Docker schema2 manifest, gzip layers. */
  manifest: Buffer;
  manifestDigest: string;
  /** OCI manifest of the same config and blobs. */
  ociManifest: Buffer;
  ociManifestDigest: string;
}

export interface ImageConfigJSON {
  architecture: string;
  os: string;
  variant?: string;
  created: string;
  author?: string;
  config: ImageConfigFields;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history: HistoryEntry[];
}

/** Builds an image (config, gzip'ed layers, Docker and OCI manifests) from layer tars. */
export async function buildImage(options: BuildImageOptions): Promise<FixtureImage> {
  const created = options.created ?? FIXTURE_CREATED;
  const layers = await Promise.all(
    options.layers.map(async (uncompressed): Promise<FixtureLayer> => {
      const gzip = await gzipBuffer(uncompressed);
      return {
        uncompressed,
        gzip,
        diffId: sha256Digest(uncompressed),
        digest: sha256Digest(gzip),
        size: gzip.length,
      };
    }),
  );
  const history =
    options.history ??
    layers.map((layer, i) => ({
      created,
      created_by:
        i === 0
          ? `/bin/sh -c #(nop) ADD file:${digestHex(layer.diffId)} in / `
          : `COPY layer-${i} / # buildkit`,
      comment: 'berth test fixture',
    }));
  const platform: Platform = {
    os: options.os ?? 'linux',
    architecture: options.architecture ?? 'amd64',
    ...(options.variant !== undefined ? { variant: options.variant } : {}),
  };
  const configJSON: ImageConfigJSON = {
    architecture: platform.architecture,
    ...(options.author !== undefined ? { author: options.author } : {}),
    config: { Env: [DEFAULT_PATH_ENV], Cmd: ['sh'], ...options.config },
    created,
    history: history.map((h) => ({ created, ...h })),
    os: platform.os,
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    ...(platform.variant !== undefined ? { variant: platform.variant } : {}),
  };
  const config = Buffer.from(JSON.stringify(configJSON));
  const configDigest = sha256Digest(config);

  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.dockerManifest,
      config: { mediaType: MEDIA_TYPES.dockerConfig, size: config.length, digest: configDigest },
      layers: layers.map((l) => ({ mediaType: MEDIA_TYPES.dockerLayerGzip, size: l.size, digest: l.digest })),
    }),
  );
  const ociManifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: { mediaType: MEDIA_TYPES.ociConfig, digest: configDigest, size: config.length },
      layers: layers.map((l) => ({ mediaType: MEDIA_TYPES.ociLayerGzip, digest: l.digest, size: l.size })),
    }),
  );
  return {
    config,
    configDigest,
    layers,
    platform,
    manifest,
    manifestDigest: sha256Digest(manifest),
    ociManifest,
    ociManifestDigest: sha256Digest(ociManifest),
  };
}

/** The image's manifest with this digest (Docker or OCI) and its media type. */
export function manifestByDigest(
  image: FixtureImage,
  digest: string,
): { bytes: Buffer; mediaType: string } | undefined {
  if (digest === image.manifestDigest)
    return { bytes: image.manifest, mediaType: MEDIA_TYPES.dockerManifest };
  if (digest === image.ociManifestDigest)
    return { bytes: image.ociManifest, mediaType: MEDIA_TYPES.ociManifest };
  return undefined;
}

export interface IndexEntry {
  image: FixtureImage;
  /** Defaults to the image's own platform. */
  platform?: Platform;
  /** Reference the image's OCI manifest instead of its Docker one. */
  oci?: boolean;
  annotations?: Record<string, string>;
}

export interface BuiltIndex {
  bytes: Buffer;
  digest: string;
  mediaType: string;
  size: number;
}

export interface IndexDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

/**
 * A Docker manifest list or an OCI index over images. It is an OCI index
 * when `options.oci` says so, or (by default) when every entry is `oci`.
 */
export function buildIndex(
  entries: IndexEntry[],
  options: { oci?: boolean; annotations?: Record<string, string> } = {},
): BuiltIndex {
  const oci = options.oci ?? (entries.length > 0 && entries.every((e) => e.oci === true));
  const mediaType = oci ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.dockerManifestList;
  const manifests: IndexDescriptor[] = entries.map((entry) => {
    const platform = entry.platform ?? entry.image.platform;
    return {
      mediaType: entry.oci ? MEDIA_TYPES.ociManifest : MEDIA_TYPES.dockerManifest,
      digest: entry.oci ? entry.image.ociManifestDigest : entry.image.manifestDigest,
      size: entry.oci ? entry.image.ociManifest.length : entry.image.manifest.length,
      platform: {
        architecture: platform.architecture,
        os: platform.os,
        ...(platform.variant !== undefined ? { variant: platform.variant } : {}),
      },
      ...(entry.annotations ? { annotations: entry.annotations } : {}),
    };
  });
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      manifests,
      ...(options.annotations ? { annotations: options.annotations } : {}),
    }),
  );
  return { bytes, digest: sha256Digest(bytes), mediaType, size: bytes.length };
}

let helloWorld: Promise<FixtureImage> | undefined;

/** The script `helloWorldImage()` runs. */
export const HELLO_SCRIPT = [
  '#!/bin/sh',
  `echo "${HELLO_GREETING}"`,
  'echo "This message shows that your installation appears to be working correctly."',
  '',
].join('\n');

/** The busybox layer plus `/hello` (a script printing HELLO_GREETING), `Cmd: ["/hello"]`. Built once. */
export function helloWorldImage(): Promise<FixtureImage> {
  helloWorld ??= (async () =>
    buildImage({
      layers: [
        await busyboxRootfsLayer(),
        await layerTar({ hello: { type: 'file', content: HELLO_SCRIPT, mode: 0o755 } }),
      ],
      config: { Cmd: ['/hello'] },
    }))();
  return helloWorld;
}

/** A fixture image of just the busybox rootfs (`Cmd: ["sh"]`). */
export async function busyboxImage(
  options: Omit<BuildImageOptions, 'layers'> & { extraLayers?: Buffer[] } = {},
): Promise<FixtureImage> {
  const { extraLayers, ...rest } = options;
  return buildImage({ ...rest, layers: [await busyboxRootfsLayer(), ...(extraLayers ?? [])] });
}

// ---------------------------------------------------------------------------
// Archives: docker save (Docker 25+ and legacy), OCI layouts

export interface SaveEntry {
  image: FixtureImage;
  /** `name:tag` references (`busybox:latest`, `localhost:5000/x:1`); may be empty. */
  repoTags: string[];
}

interface ParsedRef {
  /** The name as Docker shows it (`busybox`, `localhost:5000/x`). */
  familiarName: string;
  /** The fully qualified name (`docker.io/library/busybox`). */
  fullName: string;
  tag: string;
}

function parseRepoTag(ref: string): ParsedRef {
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  const name = colon > slash ? ref.slice(0, colon) : ref;
  const tag = colon > slash ? ref.slice(colon + 1) : 'latest';
  const first = name.split('/')[0] ?? name;
  const hasDomain =
    name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  const fullName = hasDomain ? name : name.includes('/') ? `docker.io/${name}` : `docker.io/library/${name}`;
  const familiarName = fullName.startsWith('docker.io/library/')
    ? fullName.slice('docker.io/library/'.length)
    : fullName.startsWith('docker.io/')
      ? fullName.slice('docker.io/'.length)
      : fullName;
  return { familiarName, fullName, tag };
}

const EPOCH = new Date(0);

/** Files of an archive, by path; directories are derived from the paths. */
async function archiveTar(files: Map<string, Buffer>, mtime: Date = EPOCH): Promise<Buffer> {
  const layerFiles: LayerFiles = {};
  for (const [path, data] of files) layerFiles[path] = { type: 'file', content: data, mode: 0o644 };
  return packTar(layerItems(layerFiles, { mtime }));
}

function json(value: unknown, newline = false): Buffer {
  return Buffer.from(JSON.stringify(value) + (newline ? '\n' : ''));
}

const OCI_LAYOUT = json({ imageLayoutVersion: '1.0.0' });

function blobPath(digest: string): string {
  return `blobs/sha256/${digestHex(digest)}`;
}

/**
 * A `docker save` archive as Docker 25+ writes it: `manifest.json`,
 * `repositories`, and an OCI layout (`oci-layout`, `index.json`,
 * `blobs/sha256/...`) sharing the blobs.
 *
 * - `store: 'graphdriver'` (default, the classic image store): layers are
 *   stored uncompressed under their diff_id, and the OCI manifest is one made
 *   for the archive (`application/vnd.oci.image.layer.v1.tar` layers).
 * - `store: 'containerd'` (the containerd image store): the image's original
 *   Docker manifest and gzip layers, and no `repositories`.
 */
export function dockerSaveTarball(
  images: SaveEntry[],
  options: { store?: 'graphdriver' | 'containerd' } = {},
): Promise<Buffer> {
  const containerd = options.store === 'containerd';
  const files = new Map<string, Buffer>();
  const manifestJSON: { Config: string; RepoTags: string[]; Layers: string[] }[] = [];
  const descriptors: IndexDescriptor[] = [];
  const repositories: Record<string, Record<string, string>> = {};

  for (const { image, repoTags } of images) {
    files.set(blobPath(image.configDigest), image.config);
    let manifest: Buffer;
    let mediaType: string;
    let layerPaths: string[];
    if (containerd) {
      for (const layer of image.layers) files.set(blobPath(layer.digest), layer.gzip);
      manifest = image.manifest;
      mediaType = MEDIA_TYPES.dockerManifest;
      layerPaths = image.layers.map((l) => blobPath(l.digest));
    } else {
      for (const layer of image.layers) files.set(blobPath(layer.diffId), layer.uncompressed);
      manifest = json({
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociManifest,
        config: { mediaType: MEDIA_TYPES.ociConfig, digest: image.configDigest, size: image.config.length },
        layers: image.layers.map((l) => ({
          mediaType: MEDIA_TYPES.ociLayer,
          digest: l.diffId,
          size: l.uncompressed.length,
        })),
      });
      mediaType = MEDIA_TYPES.ociManifest;
      layerPaths = image.layers.map((l) => blobPath(l.diffId));
    }
    const manifestDigest = sha256Digest(manifest);
    files.set(blobPath(manifestDigest), manifest);

    const refs = repoTags.map(parseRepoTag);
    const descriptor: IndexDescriptor = { mediaType, digest: manifestDigest, size: manifest.length };
    if (refs.length === 0) descriptors.push(descriptor);
    for (const ref of refs) {
      descriptors.push({
        ...descriptor,
        annotations: {
          'io.containerd.image.name': `${ref.fullName}:${ref.tag}`,
          'org.opencontainers.image.ref.name': ref.tag,
        },
      });
      const top = image.layers.at(-1);
      if (!containerd && top) (repositories[ref.familiarName] ??= {})[ref.tag] = digestHex(top.diffId);
    }
    manifestJSON.push({
      Config: blobPath(image.configDigest),
      RepoTags: refs.map((r) => `${r.familiarName}:${r.tag}`),
      Layers: layerPaths,
    });
  }

  files.set(
    'index.json',
    json({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: descriptors }),
  );
  files.set('manifest.json', json(manifestJSON, true));
  files.set('oci-layout', OCI_LAYOUT);
  if (Object.keys(repositories).length > 0) files.set('repositories', json(repositories, true));
  return archiveTar(files);
}

/**
 * A `docker save` archive as Docker before 25 wrote it: one directory per
 * layer (`<v1 id>/layer.tar`, `json`, `VERSION`), `<config hex>.json`,
 * `manifest.json` and `repositories`.
 */
export function legacyDockerSaveTarball(images: SaveEntry[]): Promise<Buffer> {
  const files = new Map<string, Buffer>();
  const manifestJSON: { Config: string; RepoTags: string[]; Layers: string[] }[] = [];
  const repositories: Record<string, Record<string, string>> = {};

  for (const { image, repoTags } of images) {
    const config = JSON.parse(image.config.toString()) as ImageConfigJSON;
    const layerPaths: string[] = [];
    let chainId = '';
    let parent = '';
    image.layers.forEach((layer, i) => {
      chainId = i === 0 ? layer.diffId : sha256Digest(`${chainId} ${layer.diffId}`);
      const top = i === image.layers.length - 1;
      const v1: Record<string, unknown> = top
        ? {
            architecture: config.architecture,
            config: config.config,
            created: config.created,
            os: config.os,
          }
        : { created: '1970-01-01T00:00:00Z', container_config: { Cmd: null }, os: config.os };
      const id = digestHex(
        sha256Digest(JSON.stringify({ ...v1, layer_id: chainId, ...(parent ? { parent } : {}) })),
      );
      const v1JSON = json({ id, ...(parent ? { parent: digestHex(parent) } : {}), ...v1 });
      files.set(`${id}/VERSION`, Buffer.from('1.0'));
      files.set(`${id}/json`, v1JSON);
      files.set(`${id}/layer.tar`, layer.uncompressed);
      layerPaths.push(`${id}/layer.tar`);
      parent = `sha256:${id}`;
    });
    const configName = `${digestHex(image.configDigest)}.json`;
    files.set(configName, image.config);
    const refs = repoTags.map(parseRepoTag);
    for (const ref of refs) {
      if (parent) (repositories[ref.familiarName] ??= {})[ref.tag] = digestHex(parent);
    }
    manifestJSON.push({
      Config: configName,
      RepoTags: refs.map((r) => `${r.familiarName}:${r.tag}`),
      Layers: layerPaths,
    });
  }
  files.set('manifest.json', json(manifestJSON, true));
  if (Object.keys(repositories).length > 0) files.set('repositories', json(repositories, true));
  return archiveTar(files);
}

export type OciLayoutEntry =
  | { image: FixtureImage; refName?: string; docker?: boolean }
  | { index: BuiltIndex; images: FixtureImage[]; refName?: string };

/**
 * An OCI image layout tarball (`oci-layout`, `index.json`, `blobs/sha256/`)
 * with gzip layers. An image entry references its OCI manifest (its Docker one
 * with `docker: true`); an index entry references the index, whose images'
 * blobs and referenced manifests are included. `refName` becomes the
 * `org.opencontainers.image.ref.name` annotation.
 */
export function ociLayoutTarball(entries: OciLayoutEntry[]): Promise<Buffer> {
  const files = new Map<string, Buffer>();
  const descriptors: IndexDescriptor[] = [];
  const addImageBlobs = (image: FixtureImage): void => {
    files.set(blobPath(image.configDigest), image.config);
    for (const layer of image.layers) files.set(blobPath(layer.digest), layer.gzip);
  };
  for (const entry of entries) {
    const annotations = entry.refName
      ? { annotations: { 'org.opencontainers.image.ref.name': entry.refName } }
      : {};
    if ('index' in entry) {
      const index = JSON.parse(entry.index.bytes.toString()) as { manifests: IndexDescriptor[] };
      for (const child of index.manifests) {
        const image = entry.images.find((img) => manifestByDigest(img, child.digest));
        const manifest = image && manifestByDigest(image, child.digest);
        if (!image || !manifest) throw new Error(`no image given for index entry ${child.digest}`);
        addImageBlobs(image);
        files.set(blobPath(child.digest), manifest.bytes);
      }
      files.set(blobPath(entry.index.digest), entry.index.bytes);
      descriptors.push({
        mediaType: entry.index.mediaType,
        digest: entry.index.digest,
        size: entry.index.size,
        ...annotations,
      });
    } else {
      const { image } = entry;
      addImageBlobs(image);
      const bytes = entry.docker ? image.manifest : image.ociManifest;
      const digest = entry.docker ? image.manifestDigest : image.ociManifestDigest;
      files.set(blobPath(digest), bytes);
      descriptors.push({
        mediaType: entry.docker ? MEDIA_TYPES.dockerManifest : MEDIA_TYPES.ociManifest,
        digest,
        size: bytes.length,
        platform: image.platform,
        ...annotations,
      });
    }
  }
  files.set(
    'index.json',
    json({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: descriptors }),
  );
  files.set('oci-layout', OCI_LAYOUT);
  return archiveTar(files);
}
