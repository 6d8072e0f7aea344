/**
 * The network endpoints of the Docker Engine API over a {@link BerthClient},
 * as moby's client (network_*.go) calls them.
 */
import type {
  EndpointSettings,
  IPAM,
  Network,
  NetworkCreateResponse,
  NetworkPruneResponse,
} from '../api/types/index.js';
import type { FilterArgs } from '../util/filters.js';
import type { BerthClient } from './client.js';
import { InvalidArgumentError, trimId } from './containers.js';
import { queryString } from './images.js';

/** moby's trimID for networks: an empty reference is refused before any request. */
function networkPath(ref: string, suffix = ''): string {
  const trimmed = ref.trim();
  if (trimmed === '') throw new InvalidArgumentError('invalid network name or ID: value is empty');
  return `/networks/${encodeURIComponent(trimmed)}${suffix}`;
}

function filtersParam(filters: FilterArgs | undefined): string | undefined {
  return filters && filters.size > 0 ? JSON.stringify(filters) : undefined;
}

async function readText(res: AsyncIterable<unknown>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** What `docker network create` sends besides the name (moby's network.CreateOptions). */
export interface NetworkCreateOptions {
  Driver?: string;
  Scope?: string;
  /** Sent only when set (`--ipv4`/`--ipv6` given), as Go's `*bool` with `omitempty`. */
  EnableIPv4?: boolean;
  EnableIPv6?: boolean;
  IPAM?: IPAM;
  Internal?: boolean;
  Attachable?: boolean;
  Ingress?: boolean;
  ConfigOnly?: boolean;
  ConfigFrom?: { Network: string };
  Options?: Record<string, string>;
  Labels?: Record<string, string>;
}

/**
 * The JSON body of `POST /networks/create` as moby's client marshals
 * network.CreateRequest: every field present (Go has no `omitempty` on
 * most), the `*bool` ones only when set.
 */
export function networkCreateBody(name: string, options: NetworkCreateOptions = {}): Record<string, unknown> {
  const body: Record<string, unknown> = {
    Name: name,
    Driver: options.Driver ?? '',
    Scope: options.Scope ?? '',
  };
  if (options.EnableIPv4 !== undefined) body['EnableIPv4'] = options.EnableIPv4;
  if (options.EnableIPv6 !== undefined) body['EnableIPv6'] = options.EnableIPv6;
  Object.assign(body, {
    IPAM: options.IPAM ?? null,
    Internal: options.Internal ?? false,
    Attachable: options.Attachable ?? false,
    Ingress: options.Ingress ?? false,
    ConfigOnly: options.ConfigOnly ?? false,
    ConfigFrom: options.ConfigFrom ?? null,
    Options: options.Options ?? null,
    Labels: options.Labels ?? null,
  });
  return body;
}

/** `POST /networks/create`. */
export function createNetwork(
  client: BerthClient,
  name: string,
  options: NetworkCreateOptions = {},
): Promise<NetworkCreateResponse> {
  return client.json<NetworkCreateResponse>('POST', '/networks/create', {
    body: networkCreateBody(name, options),
  });
}

/** `GET /networks?filters=`. */
export async function listNetworks(client: BerthClient, filters?: FilterArgs): Promise<Network[]> {
  return (
    (await client.json<Network[] | null>(
      'GET',
      '/networks' + queryString({ filters: filtersParam(filters) }),
    )) ?? []
  );
}

/** `GET /networks/{id}?verbose=true`, parsed and as the daemon's raw JSON text (docker prints the latter). */
export async function inspectNetworkRaw(
  client: BerthClient,
  ref: string,
  options: { verbose?: boolean } = {},
): Promise<{ network: Network; raw: string }> {
  const res = await client.stream(
    'GET',
    networkPath(ref) + queryString({ verbose: options.verbose ? 'true' : undefined }),
  );
  const raw = await readText(res);
  return { network: JSON.parse(raw) as Network, raw };
}

/** `GET /networks/{id}`. */
export async function inspectNetwork(
  client: BerthClient,
  ref: string,
  options: { verbose?: boolean } = {},
): Promise<Network> {
  return (await inspectNetworkRaw(client, ref, options)).network;
}

/** `DELETE /networks/{id}`. */
export async function removeNetwork(client: BerthClient, ref: string): Promise<void> {
  await readText(await client.stream('DELETE', networkPath(ref)));
}

/** `POST /networks/prune?filters=`. */
export async function pruneNetworks(
  client: BerthClient,
  filters?: FilterArgs,
): Promise<NetworkPruneResponse> {
  return (
    (await client.json<NetworkPruneResponse | null>(
      'POST',
      '/networks/prune' + queryString({ filters: filtersParam(filters) }),
    )) ?? {}
  );
}

/** `POST /networks/{id}/connect` with the container and its endpoint settings. */
export async function connectNetwork(
  client: BerthClient,
  ref: string,
  container: string,
  endpoint?: EndpointSettings,
): Promise<void> {
  const path = networkPath(ref, '/connect');
  const body = { Container: trimId('container', container), EndpointConfig: endpoint ?? null };
  await readText(await client.stream('POST', path, { body }));
}

/** `POST /networks/{id}/disconnect`. */
export async function disconnectNetwork(
  client: BerthClient,
  ref: string,
  container: string,
  options: { force?: boolean } = {},
): Promise<void> {
  const path = networkPath(ref, '/disconnect');
  const body = { Container: trimId('container', container), Force: options.force === true };
  await readText(await client.stream('POST', path, { body }));
}
