/**
 * The container and exec endpoints of the Docker Engine API over a
 * {@link BerthClient}, shaped as the docker client (moby/client
 * container_*.go) calls them: the same query parameters (`all=1`, `v=1`,
 * `t=`…), the same bodies, the same client-side checks (an empty container
 * reference is refused before any request).
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';

import type {
  ContainerCreateRequest,
  ContainerCreateResponse,
  ContainerInspectResponse,
  ContainerPruneResponse,
  ContainerSummary,
  ContainerTopResponse,
  ContainerUpdateRequest,
  ContainerUpdateResponse,
  ContainerWaitResponse,
  ExecConfig,
  ExecInspectResponse,
  FilesystemChange,
  IdResponse,
} from '../api/types/index.js';
import type { FilterArgs } from '../util/filters.js';
import type { BerthClient } from './client.js';
import { hijack, type HijackedConnection } from './hijack.js';
import { queryString, requestRaw } from './images.js';

/** A client-side refusal (empty IDs, bad console sizes), before any request. */
export class InvalidArgumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidArgumentError';
  }
}

/** moby's trimID: the reference without surrounding spaces; an empty one is refused. */
export function trimId(kind: 'container' | 'exec', id: string): string {
  const trimmed = id.trim();
  if (trimmed === '') throw new InvalidArgumentError(`invalid ${kind} name or ID: value is empty`);
  return trimmed;
}

function containerPath(id: string, suffix = ''): string {
  return `/containers/${encodeURIComponent(trimId('container', id))}${suffix}`;
}

function execPath(id: string, suffix = ''): string {
  return `/exec/${encodeURIComponent(trimId('exec', id))}${suffix}`;
}

function filtersParam(filters: FilterArgs | undefined): string | undefined {
  return filters && filters.size > 0 ? JSON.stringify(filters) : undefined;
}

async function drain(res: IncomingMessage): Promise<void> {
  for await (const chunk of res) void chunk;
}

async function readText(res: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** moby's normalizeCap: upper case, `CAP_` prefixed (except `ALL`). */
export function normalizeCapability(cap: string): string {
  const upper = cap.toUpperCase();
  if (upper === 'ALL') return upper;
  return upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
}

/** moby's normalizeCapabilities: normalized, de-duplicated, sorted. */
export function normalizeCapabilities(caps: readonly string[]): string[] {
  return [...new Set(caps.map(normalizeCapability))].sort();
}

// ---------------------------------------------------------------------------
// Lifecycle

export interface ContainerCreateOptions {
  /** `--name`. */
  name?: string;
  /** `os[/arch[/variant]]`. */
  platform?: string;
}

/**
 * `POST /containers/create?name=&platform=`. Capabilities in the host config
 * are normalized first (`net_admin` is `CAP_NET_ADMIN`), as the docker client does.
 */
export async function createContainer(
  client: BerthClient,
  config: ContainerCreateRequest,
  options: ContainerCreateOptions = {},
): Promise<ContainerCreateResponse> {
  if (!config.Image) throw new InvalidArgumentError('config.Image or Image is required');
  let body = config;
  const host = config.HostConfig;
  if (host && (host.CapAdd !== undefined || host.CapDrop !== undefined)) {
    body = {
      ...config,
      HostConfig: {
        ...host,
        ...(host.CapAdd !== undefined ? { CapAdd: normalizeCapabilities(host.CapAdd) } : {}),
        ...(host.CapDrop !== undefined ? { CapDrop: normalizeCapabilities(host.CapDrop) } : {}),
      },
    };
  }
  return client.json<ContainerCreateResponse>(
    'POST',
    '/containers/create' +
      queryString({ name: options.name || undefined, platform: options.platform || undefined }),
    { body },
  );
}

export interface ContainerListOptions {
  all?: boolean;
  /** Only the `limit` most recently created (ignored when not positive). */
  limit?: number;
  size?: boolean;
  filters?: FilterArgs;
}

/** `GET /containers/json?all=1&limit=&size=1&filters=`. */
export async function listContainers(
  client: BerthClient,
  options: ContainerListOptions = {},
): Promise<ContainerSummary[]> {
  const list = await client.json<ContainerSummary[] | null>(
    'GET',
    '/containers/json' +
      queryString({
        all: options.all ? '1' : undefined,
        limit: options.limit !== undefined && options.limit > 0 ? String(options.limit) : undefined,
        size: options.size ? '1' : undefined,
        filters: filtersParam(options.filters),
      }),
  );
  return list ?? [];
}

/** `GET /containers/{id}/json?size=1`, parsed and as the daemon's JSON text. */
export async function inspectContainerRaw(
  client: BerthClient,
  id: string,
  options: { size?: boolean } = {},
): Promise<{ container: ContainerInspectResponse; raw: string }> {
  const res = await client.stream(
    'GET',
    containerPath(id, '/json') + queryString({ size: options.size ? '1' : undefined }),
  );
  const raw = await readText(res);
  return { container: JSON.parse(raw) as ContainerInspectResponse, raw };
}

/** `GET /containers/{id}/json`. */
export async function inspectContainer(
  client: BerthClient,
  id: string,
  options: { size?: boolean } = {},
): Promise<ContainerInspectResponse> {
  return (await inspectContainerRaw(client, id, options)).container;
}

/** `POST /containers/{id}/start`. */
export async function startContainer(client: BerthClient, id: string): Promise<void> {
  await drain(await client.stream('POST', containerPath(id, '/start')));
}

export interface ContainerStopOptions {
  /** Seconds to wait before killing (`t`); the container's StopTimeout when undefined. */
  timeout?: number;
  /** The signal to stop with; the container's StopSignal when empty. */
  signal?: string;
}

/** The `?t=&signal=` of stop and restart. */
function stopQuery(options: ContainerStopOptions): string {
  return queryString({
    t: options.timeout !== undefined ? String(options.timeout) : undefined,
    signal: options.signal || undefined,
  });
}

/** `POST /containers/{id}/stop?t=&signal=`. */
export async function stopContainer(
  client: BerthClient,
  id: string,
  options: ContainerStopOptions = {},
): Promise<void> {
  await drain(await client.stream('POST', containerPath(id, '/stop') + stopQuery(options)));
}

/** `POST /containers/{id}/restart?t=&signal=`. */
export async function restartContainer(
  client: BerthClient,
  id: string,
  options: ContainerStopOptions = {},
): Promise<void> {
  await drain(await client.stream('POST', containerPath(id, '/restart') + stopQuery(options)));
}

/** `POST /containers/{id}/kill?signal=` (the daemon's default, SIGKILL, when empty). */
export async function killContainer(client: BerthClient, id: string, signal?: string): Promise<void> {
  await drain(
    await client.stream('POST', containerPath(id, '/kill') + queryString({ signal: signal || undefined })),
  );
}

/** `POST /containers/{id}/pause`. */
export async function pauseContainer(client: BerthClient, id: string): Promise<void> {
  await drain(await client.stream('POST', containerPath(id, '/pause')));
}

/** `POST /containers/{id}/unpause`. */
export async function unpauseContainer(client: BerthClient, id: string): Promise<void> {
  await drain(await client.stream('POST', containerPath(id, '/unpause')));
}

/** `POST /containers/{id}/rename?name=`. */
export async function renameContainer(client: BerthClient, id: string, newName: string): Promise<void> {
  await drain(await client.stream('POST', containerPath(id, '/rename') + queryString({ name: newName })));
}

/** `POST /containers/{id}/update` with resources and a restart policy. */
export async function updateContainer(
  client: BerthClient,
  id: string,
  update: ContainerUpdateRequest,
): Promise<ContainerUpdateResponse> {
  return (
    (await client.json<ContainerUpdateResponse | null>('POST', containerPath(id, '/update'), {
      body: update,
    })) ?? {}
  );
}

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

/** A wait the daemon has accepted: `result` settles when the condition is met. */
export interface PendingWait {
  result: Promise<ContainerWaitResponse>;
  /** Stops waiting (the request is aborted; `result` rejects). */
  cancel(): void;
  /** True once cancel() has been called. */
  readonly cancelled: boolean;
}

/**
 * `POST /containers/{id}/wait?condition=`. Resolves once the daemon has
 * answered with its headers, i.e. once the wait is registered (so a start
 * issued afterwards cannot be missed, as docker run relies on); the exit
 * status comes with `result`. Errors before the headers (no such container)
 * reject this promise; a body that is not JSON rejects `result` with its text.
 */
export async function waitContainer(
  client: BerthClient,
  id: string,
  condition?: WaitCondition,
): Promise<PendingWait> {
  const controller = new AbortController();
  const res = await client.stream(
    'POST',
    containerPath(id, '/wait') + queryString({ condition: condition || undefined }),
    { signal: controller.signal },
  );
  const result = readText(res).then((text) => {
    try {
      return JSON.parse(text) as ContainerWaitResponse;
    } catch {
      throw new Error(text.trim());
    }
  });
  result.catch(() => {
    // observed by the caller when it awaits `result`
  });
  return {
    result,
    cancel: () => controller.abort(),
    get cancelled(): boolean {
      return controller.signal.aborted;
    },
  };
}

export interface ContainerRemoveOptions {
  force?: boolean;
  /** Remove anonymous volumes (`v=1`). */
  volumes?: boolean;
  /** Remove the link, not the container (`link=1`). */
  link?: boolean;
}

/** `DELETE /containers/{id}?force=1&v=1&link=1`. */
export async function removeContainer(
  client: BerthClient,
  id: string,
  options: ContainerRemoveOptions = {},
): Promise<void> {
  const query = queryString({
    v: options.volumes ? '1' : undefined,
    link: options.link ? '1' : undefined,
    force: options.force ? '1' : undefined,
  });
  await drain(await client.stream('DELETE', containerPath(id) + query));
}

/** `POST /containers/prune?filters=`. */
export async function pruneContainers(
  client: BerthClient,
  filters?: FilterArgs,
): Promise<ContainerPruneResponse> {
  return (
    (await client.json<ContainerPruneResponse | null>(
      'POST',
      '/containers/prune' + queryString({ filters: filtersParam(filters) }),
    )) ?? {}
  );
}

// ---------------------------------------------------------------------------
// Inside the container

/** `GET /containers/{id}/top?ps_args=` (the arguments joined by spaces). */
export async function topContainer(
  client: BerthClient,
  id: string,
  psArgs: readonly string[] = [],
): Promise<ContainerTopResponse> {
  return client.json<ContainerTopResponse>(
    'GET',
    containerPath(id, '/top') + queryString({ ps_args: psArgs.length > 0 ? psArgs.join(' ') : undefined }),
  );
}

/** `GET /containers/{id}/changes`. */
export async function containerChanges(client: BerthClient, id: string): Promise<FilesystemChange[]> {
  return (await client.json<FilesystemChange[] | null>('GET', containerPath(id, '/changes'))) ?? [];
}

/** `GET /containers/{id}/export`: the tar stream of the container's filesystem. */
export async function exportContainer(
  client: BerthClient,
  id: string,
  options: { signal?: AbortSignal } = {},
): Promise<IncomingMessage> {
  return client.stream('GET', containerPath(id, '/export'), { signal: options.signal });
}

/** What `X-Docker-Container-Path-Stat` says of a path in a container. */
export interface PathStat {
  name: string;
  size: number;
  /** Go's os.FileMode bits: permissions plus type bits (directory 1<<31, symlink 1<<27…). */
  mode: number;
  mtime: string;
  linkTarget: string;
}

/** Go's os.FileMode type bits. */
export const FILE_MODE = {
  dir: 2 ** 31,
  append: 2 ** 30,
  exclusive: 2 ** 29,
  temporary: 2 ** 28,
  symlink: 2 ** 27,
  device: 2 ** 26,
  namedPipe: 2 ** 25,
  socket: 2 ** 24,
  setuid: 2 ** 23,
  setgid: 2 ** 22,
  charDevice: 2 ** 21,
  sticky: 2 ** 20,
  irregular: 2 ** 19,
} as const;

/** True when the FileMode has the given type bit. */
export function hasModeBit(mode: number, bit: number): boolean {
  return Math.floor(mode / bit) % 2 === 1;
}

/** Decodes the base64 JSON of an `X-Docker-Container-Path-Stat` header. */
export function decodePathStat(header: string | string[] | undefined): PathStat {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value === '') {
    return { name: '', size: 0, mode: 0, mtime: '', linkTarget: '' };
  }
  let raw: Partial<PathStat>;
  try {
    raw = JSON.parse(Buffer.from(value, 'base64').toString('utf8')) as Partial<PathStat>;
  } catch (err) {
    throw new Error(`unable to decode container path stat header: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return {
    name: raw.name ?? '',
    size: raw.size ?? 0,
    mode: raw.mode ?? 0,
    mtime: raw.mtime ?? '',
    linkTarget: raw.linkTarget ?? '',
  };
}

const STAT_HEADER = 'x-docker-container-path-stat';

/** `HEAD /containers/{id}/archive?path=`: stats a path in the container. */
export async function statContainerPath(client: BerthClient, id: string, path: string): Promise<PathStat> {
  const res = await requestRaw(client, 'HEAD', containerPath(id, '/archive') + queryString({ path }));
  res.resume();
  return decodePathStat(res.headers[STAT_HEADER]);
}

/** `GET /containers/{id}/archive?path=`: a tar of the path, and its stat. */
export async function getContainerArchive(
  client: BerthClient,
  id: string,
  path: string,
  options: { signal?: AbortSignal } = {},
): Promise<{ content: IncomingMessage; stat: PathStat }> {
  const res = await client.stream('GET', containerPath(id, '/archive') + queryString({ path }), {
    signal: options.signal,
  });
  return { content: res, stat: decodePathStat(res.headers[STAT_HEADER]) };
}

export interface PutArchiveOptions {
  /** Let a file replace a directory and vice versa (docker never does). */
  allowOverwriteDirWithFile?: boolean;
  /** Keep the archive's uid/gid (`docker cp -a`). */
  copyUIDGID?: boolean;
  signal?: AbortSignal;
}

/** `PUT /containers/{id}/archive?path=&noOverwriteDirNonDir=true&copyUIDGID=true` with a tar body. */
export async function putContainerArchive(
  client: BerthClient,
  id: string,
  path: string,
  content: Readable | Buffer,
  options: PutArchiveOptions = {},
): Promise<void> {
  const query = queryString({
    path,
    noOverwriteDirNonDir: options.allowOverwriteDirWithFile ? undefined : 'true',
    copyUIDGID: options.copyUIDGID ? 'true' : undefined,
  });
  const res = await requestRaw(client, 'PUT', containerPath(id, '/archive') + query, {
    body: content,
    headers: { 'Content-Type': 'application/x-tar' },
    signal: options.signal,
  });
  await drain(res);
}

// ---------------------------------------------------------------------------
// Streams

export interface ContainerLogsOptions {
  stdout?: boolean;
  stderr?: boolean;
  follow?: boolean;
  /** A Unix timestamp (`1700000000.000000000`), as the CLI computes from `--since`. */
  since?: string;
  until?: string;
  timestamps?: boolean;
  details?: boolean;
  /** A number of lines; `all` (or empty) is not sent. */
  tail?: string;
  signal?: AbortSignal;
}

/**
 * `GET /containers/{id}/logs`: the stream, stdcopy-framed unless the
 * container has a TTY (see demuxStream in hijack.ts).
 */
export async function containerLogs(
  client: BerthClient,
  id: string,
  options: ContainerLogsOptions = {},
): Promise<IncomingMessage> {
  const query = queryString({
    stdout: options.stdout ? '1' : undefined,
    stderr: options.stderr ? '1' : undefined,
    since: options.since || undefined,
    until: options.until || undefined,
    timestamps: options.timestamps ? '1' : undefined,
    details: options.details ? '1' : undefined,
    follow: options.follow ? '1' : undefined,
    tail:
      options.tail === undefined || options.tail === '' || options.tail === 'all' ? undefined : options.tail,
  });
  return client.stream('GET', containerPath(id, '/logs') + query, { signal: options.signal });
}

export interface ContainerAttachOptions {
  stream?: boolean;
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  /** The detach sequence (`ctrl-p,ctrl-q`); the daemon's default when empty. */
  detachKeys?: string;
  /** Replay the logs first. */
  logs?: boolean;
}

/** `POST /containers/{id}/attach?stream=1&stdin=1&stdout=1&stderr=1&detachKeys=`, hijacked. */
export async function attachContainer(
  client: BerthClient,
  id: string,
  options: ContainerAttachOptions,
): Promise<HijackedConnection> {
  const query = queryString({
    stream: options.stream ? '1' : undefined,
    stdin: options.stdin ? '1' : undefined,
    stdout: options.stdout ? '1' : undefined,
    stderr: options.stderr ? '1' : undefined,
    detachKeys: options.detachKeys || undefined,
    logs: options.logs ? '1' : undefined,
  });
  return hijack(client, containerPath(id, '/attach') + query, { contentType: 'text/plain' });
}

/** `POST /containers/{id}/resize?h=&w=`. */
export async function resizeContainer(
  client: BerthClient,
  id: string,
  height: number,
  width: number,
): Promise<void> {
  await resizeAt(client, containerPath(id, '/resize'), height, width);
}

/** `POST <path>?h=&w=` (a container's or an exec's TTY). */
async function resizeAt(client: BerthClient, path: string, height: number, width: number): Promise<void> {
  await drain(await client.stream('POST', path + queryString({ h: String(height), w: String(width) })));
}

// ---------------------------------------------------------------------------
// Exec

/** The console size docker sends: `[height, width]` with a TTY, nothing without. */
export function consoleSize(
  tty: boolean,
  size: { height: number; width: number } | undefined,
): number[] | undefined {
  if (size === undefined || (size.height === 0 && size.width === 0)) return undefined;
  if (!tty) throw new InvalidArgumentError('console size is only supported when TTY is enabled');
  return [size.height, size.width];
}

/** `POST /containers/{id}/exec`. */
export async function execCreate(client: BerthClient, id: string, config: ExecConfig): Promise<IdResponse> {
  return client.json<IdResponse>('POST', containerPath(id, '/exec'), { body: config });
}

export interface ExecStartOptions {
  tty?: boolean;
  /** `{ height, width }` of the terminal (TTY only). */
  consoleSize?: { height: number; width: number };
}

/** `POST /exec/{id}/start` with `Detach: true`: starts it and returns at once. */
export async function execStartDetached(
  client: BerthClient,
  id: string,
  options: ExecStartOptions = {},
): Promise<void> {
  const body = {
    Detach: true,
    Tty: options.tty === true,
    ConsoleSize: consoleSize(options.tty === true, options.consoleSize) ?? null,
  };
  await drain(await client.stream('POST', execPath(id, '/start'), { body }));
}

/** `POST /exec/{id}/start` with `Detach: false`, hijacked: the exec's stdio. */
export async function execStartAttached(
  client: BerthClient,
  id: string,
  options: ExecStartOptions = {},
): Promise<HijackedConnection> {
  const body = {
    Detach: false,
    Tty: options.tty === true,
    ConsoleSize: consoleSize(options.tty === true, options.consoleSize) ?? null,
  };
  return hijack(client, execPath(id, '/start'), { body, contentType: 'application/json' });
}

/** `POST /exec/{id}/resize?h=&w=`. */
export async function execResize(
  client: BerthClient,
  id: string,
  height: number,
  width: number,
): Promise<void> {
  await resizeAt(client, execPath(id, '/resize'), height, width);
}

/** `GET /exec/{id}/json`. */
export async function execInspect(client: BerthClient, id: string): Promise<ExecInspectResponse> {
  return client.json<ExecInspectResponse>('GET', execPath(id, '/json'));
}
