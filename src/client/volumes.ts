/**
 * The volume endpoints of the Docker Engine API over a {@link BerthClient},
 * as moby's client (volume_*.go) calls them.
 */
import type { Volume, VolumeListResponse, VolumePruneResponse } from '../api/types/index.js';
import type { FilterArgs } from '../util/filters.js';
import type { BerthClient } from './client.js';
import { InvalidArgumentError } from './containers.js';
import { queryString } from './images.js';

/** moby's trimID for volumes: an empty name is refused before any request. */
function volumePath(name: string): string {
  const trimmed = name.trim();
  if (trimmed === '') throw new InvalidArgumentError('invalid volume name or ID: value is empty');
  return `/volumes/${encodeURIComponent(trimmed)}`;
}

function filtersParam(filters: FilterArgs | undefined): string | undefined {
  return filters && filters.size > 0 ? JSON.stringify(filters) : undefined;
}

async function readText(res: AsyncIterable<unknown>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export interface VolumeCreateOptions {
  Name?: string;
  Driver?: string;
  DriverOpts?: Record<string, string>;
  Labels?: Record<string, string>;
}

/** `POST /volumes/create`; empty fields are left out, as Go's `omitempty`. */
export function createVolume(client: BerthClient, options: VolumeCreateOptions = {}): Promise<Volume> {
  const body: VolumeCreateOptions = {};
  if (options.Driver) body.Driver = options.Driver;
  if (options.DriverOpts && Object.keys(options.DriverOpts).length > 0) body.DriverOpts = options.DriverOpts;
  if (options.Labels && Object.keys(options.Labels).length > 0) body.Labels = options.Labels;
  if (options.Name) body.Name = options.Name;
  return client.json<Volume>('POST', '/volumes/create', { body });
}

/** `GET /volumes?filters=`. */
export async function listVolumes(client: BerthClient, filters?: FilterArgs): Promise<VolumeListResponse> {
  return (
    (await client.json<VolumeListResponse | null>(
      'GET',
      '/volumes' + queryString({ filters: filtersParam(filters) }),
    )) ?? {}
  );
}

/** `GET /volumes/{name}`, parsed and as the daemon's raw JSON text (docker prints the latter). */
export async function inspectVolumeRaw(
  client: BerthClient,
  name: string,
): Promise<{ volume: Volume; raw: string }> {
  const res = await client.stream('GET', volumePath(name));
  const raw = await readText(res);
  return { volume: JSON.parse(raw) as Volume, raw };
}

/** `GET /volumes/{name}`. */
export async function inspectVolume(client: BerthClient, name: string): Promise<Volume> {
  return (await inspectVolumeRaw(client, name)).volume;
}

/** `DELETE /volumes/{name}?force=1`. */
export async function removeVolume(
  client: BerthClient,
  name: string,
  options: { force?: boolean } = {},
): Promise<void> {
  const res = await client.stream(
    'DELETE',
    volumePath(name) + queryString({ force: options.force ? '1' : undefined }),
  );
  await readText(res);
}

/** `POST /volumes/prune?filters=`. */
export async function pruneVolumes(client: BerthClient, filters?: FilterArgs): Promise<VolumePruneResponse> {
  return (
    (await client.json<VolumePruneResponse | null>(
      'POST',
      '/volumes/prune' + queryString({ filters: filtersParam(filters) }),
    )) ?? {}
  );
}
