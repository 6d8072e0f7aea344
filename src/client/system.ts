/**
 * The system endpoints of the Docker Engine API that are not on
 * {@link BerthClient} itself: disk usage (moby's client DiskUsage).
 */
import type { SystemDataUsageResponse } from '../api/types/index.js';
import type { BerthClient } from './client.js';
import { queryString } from './images.js';

/** The object kinds `GET /system/df?type=` can be limited to. */
export type DiskUsageType = 'container' | 'image' | 'volume' | 'build-cache';

/** `GET /system/df` (all kinds unless `types` names some). */
export async function diskUsage(
  client: BerthClient,
  options: { types?: readonly DiskUsageType[] } = {},
): Promise<SystemDataUsageResponse> {
  return (
    (await client.json<SystemDataUsageResponse | null>(
      'GET',
      '/system/df' +
        queryString({ type: options.types && options.types.length > 0 ? options.types : undefined }),
    )) ?? {}
  );
}
