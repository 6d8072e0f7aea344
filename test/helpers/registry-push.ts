// Pushes fixture images to a registry over plain HTTP with Node's fetch,
// independently of berth's own registry client, so pull tests get images
// berth did not push. Speaks the distribution API directly: monolithic blob
// uploads (POST then PUT with ?digest=) and manifest PUTs.
import { manifestByDigest, type BuiltIndex, type FixtureImage, type IndexDescriptor } from './images.js';

export type RegistryAuth = { username: string; password: string } | { bearer: string };

export type PushTarget = FixtureImage | { index: BuiltIndex; images: FixtureImage[] };

export interface PushOptions {
  /** Push the image's OCI manifest instead of its Docker one (single images only). */
  oci?: boolean;
}

export interface PushResult {
  /** Digest of the manifest (or index) the tag points at. */
  digest: string;
  mediaType: string;
  size: number;
}

/** A minimal registry client with basic, static bearer, or token-service (Bearer challenge) auth. */
class RegistryClient {
  readonly base: string;
  readonly auth: RegistryAuth | undefined;
  private token: string | undefined;

  constructor(host: string, auth: RegistryAuth | undefined) {
    this.base = /^https?:\/\//.test(host) ? host.replace(/\/+$/, '') : `http://${host}`;
    this.auth = auth;
    if (auth && 'bearer' in auth) this.token = auth.bearer;
  }

  private authorization(): string | undefined {
    if (this.token !== undefined) return `Bearer ${this.token}`;
    if (this.auth && 'username' in this.auth) {
      return `Basic ${Buffer.from(`${this.auth.username}:${this.auth.password}`).toString('base64')}`;
    }
    return undefined;
  }

  /** One request; on a 401 with a Bearer challenge and credentials, gets a token and retries once. */
  async request(
    method: string,
    pathOrUrl: string,
    init: { headers?: Record<string, string>; body?: Buffer } = {},
  ): Promise<Response> {
    const url = new URL(pathOrUrl, this.base);
    const send = (): Promise<Response> => {
      const authorization = this.authorization();
      return fetch(url, {
        method,
        headers: { ...init.headers, ...(authorization ? { authorization } : {}) },
        ...(init.body ? { body: init.body } : {}),
        redirect: 'follow',
      });
    };
    const res = await send();
    if (res.status !== 401 || !this.auth) return res;
    const challenge = res.headers.get('www-authenticate') ?? '';
    if (!/^bearer\s/i.test(challenge) || !('username' in this.auth)) return res;
    await res.body?.cancel();
    await this.fetchToken(challenge);
    return send();
  }

  private async fetchToken(challenge: string): Promise<void> {
    const params = new Map<string, string>();
    for (const m of challenge.slice(challenge.indexOf(' ') + 1).matchAll(/(\w+)="([^"]*)"/g)) {
      params.set(m[1] ?? '', m[2] ?? '');
    }
    const realm = params.get('realm');
    if (!realm) throw new Error(`bearer challenge without realm: ${challenge}`);
    const url = new URL(realm);
    const service = params.get('service');
    const scope = params.get('scope');
    if (service) url.searchParams.set('service', service);
    if (scope) url.searchParams.set('scope', scope);
    const auth = this.auth && 'username' in this.auth ? this.auth : undefined;
    const res = await fetch(url, {
      headers: auth
        ? { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` }
        : {},
    });
    if (!res.ok) throw new Error(`token request to ${url.href} failed: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new Error(`token response from ${url.href} has no token`);
    this.token = token;
  }
}

async function failure(what: string, res: Response): Promise<Error> {
  return new Error(`${what}: HTTP ${res.status} ${await res.text().catch(() => '')}`.trim());
}

async function pushBlob(client: RegistryClient, repo: string, digest: string, data: Buffer): Promise<void> {
  const head = await client.request('HEAD', `/v2/${repo}/blobs/${digest}`);
  await head.body?.cancel();
  if (head.status === 200) return;

  const start = await client.request('POST', `/v2/${repo}/blobs/uploads/`, {
    headers: { 'content-length': '0' },
  });
  if (start.status !== 202) throw await failure(`starting the upload of ${digest} to ${repo}`, start);
  await start.body?.cancel();
  const location = start.headers.get('location');
  if (!location) throw new Error(`upload of ${digest} to ${repo}: no Location in 202`);
  const url = new URL(location, client.base);
  url.searchParams.set('digest', digest);
  const put = await client.request('PUT', url.href, {
    headers: { 'content-type': 'application/octet-stream' },
    body: data,
  });
  if (put.status !== 201) throw await failure(`uploading ${digest} to ${repo}`, put);
  await put.body?.cancel();
}

async function pushManifest(
  client: RegistryClient,
  repo: string,
  reference: string,
  bytes: Buffer,
  mediaType: string,
  digest: string,
): Promise<void> {
  const res = await client.request('PUT', `/v2/${repo}/manifests/${reference}`, {
    headers: { 'content-type': mediaType },
    body: bytes,
  });
  if (res.status !== 201) throw await failure(`putting manifest ${repo}:${reference}`, res);
  await res.body?.cancel();
  const got = res.headers.get('docker-content-digest');
  if (got && got !== digest)
    throw new Error(`registry says ${repo}:${reference} is ${got}, expected ${digest}`);
}

async function pushImageBlobs(client: RegistryClient, repo: string, image: FixtureImage): Promise<void> {
  for (const layer of image.layers) await pushBlob(client, repo, layer.digest, layer.gzip);
  await pushBlob(client, repo, image.configDigest, image.config);
}

/**
 * Pushes a fixture image (its Docker manifest, or OCI with `options.oci`) or
 * an index with its images to `registryHost` (`127.0.0.1:port`, or a URL)
 * under `repo:tag`. A `tag` of `sha256:...` (or '') pushes by digest only.
 */
export async function pushFixture(
  registryHost: string,
  repo: string,
  tag: string,
  target: PushTarget,
  auth?: RegistryAuth,
  options: PushOptions = {},
): Promise<PushResult> {
  const client = new RegistryClient(registryHost, auth);
  let top: { bytes: Buffer; mediaType: string; digest: string };
  if ('index' in target) {
    const index = JSON.parse(target.index.bytes.toString()) as { manifests: IndexDescriptor[] };
    for (const child of index.manifests) {
      const image = target.images.find((img) => manifestByDigest(img, child.digest));
      const manifest = image && manifestByDigest(image, child.digest);
      if (!image || !manifest) throw new Error(`no image given for index entry ${child.digest}`);
      await pushImageBlobs(client, repo, image);
      await pushManifest(client, repo, child.digest, manifest.bytes, manifest.mediaType, child.digest);
    }
    top = { bytes: target.index.bytes, mediaType: target.index.mediaType, digest: target.index.digest };
  } else {
    await pushImageBlobs(client, repo, target);
    const digest = options.oci ? target.ociManifestDigest : target.manifestDigest;
    const manifest = manifestByDigest(target, digest);
    if (!manifest) throw new Error('unreachable: fixture image without its own manifest');
    top = { ...manifest, digest };
  }
  const reference = tag === '' || tag.startsWith('sha256:') ? top.digest : tag;
  await pushManifest(client, repo, reference, top.bytes, top.mediaType, top.digest);
  return { digest: top.digest, mediaType: top.mediaType, size: top.bytes.length };
}
