/**
 * Container statistics.
 *
 * `GET /containers/{id}/stats?stream=&one-shot=` — Docker's endpoint, same
 * JSON (see wire/stats.ts):
 * - `stream` (default true): one object per second, each with the sample
 *   before as `precpu_stats`, until the client goes away or the container
 *   is removed. A stopped container streams Docker's zero stats, and real
 *   ones again once it restarts, as dockerd's collector does. Unlike
 *   dockerd, the first object already carries a previous sample.
 * - `stream=false`: one object with `precpu_stats`, answered at once from
 *   the sampler (dockerd waits a second for a second sample).
 * - `one-shot=true` (API ≥ 1.41, with `stream=false`): one sample, no
 *   previous one, as Docker. With `stream=true` it is refused, as before
 *   Docker 29: `cannot have stream=true and one-shot=true`.
 *
 * `GET /berth/v1/containers/{id}/stats/history?since=<seconds>` — a berth
 * extension, outside Docker's paths (Docker has no `/berth` resource, and
 * its own paths are bare or under `/v1.x`; like every berth route this one
 * is also served under a `/v1.x` prefix). The container's sampled history,
 * the last `since` seconds of it (default, and at most, 600):
 *
 *     { "id": "…", "name": "web", "intervalMs": 1000,
 *       "samples": [ { "time": "2026-11-27T10:00:00.000Z", "cpuPercent": 12.5,
 *                      "memoryUsage": 67108864, "memoryLimit": 268435456,
 *                      "netRx": 1234, "netTx": 567, "blockRead": 0,
 *                      "blockWrite": 4096, "pids": 3 }, … ] }
 *
 * Samples are oldest first; `cpuPercent`, `memoryUsage` follow the docker
 * CLI's formulas; network and block counters are cumulative bytes. A
 * watched container has one sample per `intervalMs`; others one per 10 s.
 */
import { InvalidParameterError, NotFoundError } from '../../errors.js';
import type { StatsHistory } from '../../engine/stats/sampler.js';
import type { StatsView } from '../../engine/stats/types.js';
import { queryBool, queryInt, sendJson, sendRawJson } from '../respond.js';
import type { RequestContext, Route } from '../router.js';
import { JsonLinesStream } from '../streams/json-lines.js';
import { atLeast } from '../version.js';
import { statsJson, statsLine } from '../wire/stats.js';

/** What the stats routes use of the engine's StatsService. */
export interface StatsBackend {
  snapshot(id: string, options: { previous: boolean }): Promise<StatsView | undefined>;
  stream(id: string, onView: (view: StatsView) => void, signal?: AbortSignal): Promise<void>;
  history(id: string, sinceMs?: number): StatsHistory | undefined;
}

/** Resolves a container reference (ID, name, ID prefix); throws NotFoundError as the container routes do. */
export type ContainerLookup = (ref: string) => { readonly id: string };

/** The longest history berth keeps, in seconds. */
const HISTORY_SECONDS = 600;

function boolOr(ctx: RequestContext, key: string, fallback: boolean): boolean {
  return ctx.query.has(key) ? queryBool(ctx.query, key) : fallback;
}

async function getStats(service: StatsBackend, lookup: ContainerLookup, ctx: RequestContext): Promise<void> {
  const { id } = lookup(ctx.params['id'] ?? '');
  const stream = boolOr(ctx, 'stream', true);
  const oneShot = atLeast(ctx.apiVersion, '1.41') && boolOr(ctx, 'one-shot', false);
  if (stream && oneShot) throw new InvalidParameterError('cannot have stream=true and one-shot=true');

  if (!stream) {
    const view = await service.snapshot(id, { previous: !oneShot });
    if (!view) throw new NotFoundError(`No such container: ${ctx.params['id'] ?? ''}`);
    sendRawJson(ctx.res, 200, statsJson(view));
    return;
  }

  const out = new JsonLinesStream(ctx.res, ctx.signal);
  // dockerd sets no Content-Type on the stream; Go's sniffing makes it this.
  out.open('text/plain; charset=utf-8');
  try {
    // Each view is encoded once for all the container's streams and written
    // from the sampler's tick; a client that does not keep up skips views.
    await service.stream(id, (view) => out.offer(statsLine(view)), ctx.signal);
  } finally {
    out.end();
  }
}

function getHistory(service: StatsBackend, lookup: ContainerLookup, ctx: RequestContext): void {
  const { id } = lookup(ctx.params['id'] ?? '');
  const since = queryInt(ctx.query, 'since', HISTORY_SECONDS);
  if (since < 0) throw new InvalidParameterError(`invalid value for since: ${since} is negative`);
  const history = service.history(id, since === 0 ? undefined : since * 1000);
  if (!history) throw new NotFoundError(`No such container: ${ctx.params['id'] ?? ''}`);
  sendJson(ctx.res, 200, history);
}

/** The stats routes: Docker's endpoint and berth's history extension. */
export function statsRoutes(service: StatsBackend, lookup: ContainerLookup): Route[] {
  return [
    { method: 'GET', path: '/containers/{id}/stats', handler: (ctx) => getStats(service, lookup, ctx) },
    {
      method: 'GET',
      path: '/berth/v1/containers/{id}/stats/history',
      handler: (ctx) => getHistory(service, lookup, ctx),
    },
  ];
}
