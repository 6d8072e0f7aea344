/**
 * Container stats over a {@link BerthClient}: Docker's `GET
 * /containers/{id}/stats` as the docker client calls it, and berth's history
 * extension. The docker CLI's formulas come along for the CLI.
 */
import type { StatsHistoryResponse, StatsResponse } from '../api/wire/stats.js';
import { readLines, type BerthClient } from './client.js';
import { trimId } from './containers.js';

export {
  blockIO,
  cpuPercent,
  memoryPercent,
  memoryUsage,
  networkIO,
  type HistoryPoint,
  type StatsHistoryResponse,
  type StatsResponse,
} from '../api/wire/stats.js';

export interface ContainerStatsOptions {
  /** One object per second until the stream ends (default), or a single one. */
  stream: boolean;
  /** With `stream: false`: one sample without a previous one (`one-shot=1`, API ≥ 1.41). */
  oneShot?: boolean;
  signal?: AbortSignal;
}

/**
 * `GET /containers/{id}/stats?stream=1|0`: the objects as they arrive. Ends
 * when the daemon ends the stream or `signal` aborts; an error status throws
 * ApiError before anything is yielded.
 */
export async function* containerStats(
  client: BerthClient,
  id: string,
  options: ContainerStatsOptions,
): AsyncGenerator<StatsResponse> {
  const path = `/containers/${encodeURIComponent(trimId('container', id))}/stats`;
  const res = await client.stream('GET', path, {
    query: {
      stream: options.stream ? '1' : '0',
      'one-shot': !options.stream && options.oneShot === true ? '1' : undefined,
    },
    signal: options.signal,
  });
  try {
    for await (const line of readLines(res)) yield JSON.parse(line) as StatsResponse;
  } catch (err) {
    if (options.signal?.aborted) return;
    throw err;
  } finally {
    res.destroy();
  }
}

/** `GET /berth/v1/containers/{id}/stats/history?since=`: berth's sampled history of a container. */
export function containerStatsHistory(
  client: BerthClient,
  id: string,
  sinceSeconds?: number,
): Promise<StatsHistoryResponse> {
  const path = `/berth/v1/containers/${encodeURIComponent(trimId('container', id))}/stats/history`;
  return client.json<StatsHistoryResponse>('GET', path, {
    query: { since: sinceSeconds },
  });
}
