import type { VolumeService } from '../../engine/volumes/service.js';
import { UnavailableError } from '../../errors.js';
import { FilterArgs } from '../../util/filters.js';
import { lessThan } from '../version.js';
import { queryBool, readJsonBody, sendJson, sendNoContent } from '../respond.js';
import type { Route } from '../router.js';
import { parseVolumeCreateBody, toVolume, toVolumeList, toVolumePruneReport } from '../wire/volumes.js';

/** The volume endpoints (moby's volume router, local volumes only). */
export function volumeRoutes(service: VolumeService): Route[] {
  return [
    {
      method: 'GET',
      path: '/volumes',
      handler: (ctx) => {
        const views = service.list(FilterArgs.fromJSON(ctx.query.get('filters')));
        sendJson(ctx.res, 200, toVolumeList(views));
      },
    },
    {
      method: 'POST',
      path: '/volumes/create',
      handler: async (ctx) => {
        const body = parseVolumeCreateBody(await readJsonBody(ctx, { allowEmpty: true }));
        const view = await service.create(body);
        sendJson(ctx.res, 201, toVolume(view));
      },
    },
    {
      method: 'POST',
      path: '/volumes/prune',
      minApiVersion: '1.25',
      handler: async (ctx) => {
        const filters = FilterArgs.fromJSON(ctx.query.get('filters'));
        // Before API 1.42 prune took every unused volume, not only anonymous ones.
        if (lessThan(ctx.apiVersion, '1.42')) filters.add('all', 'true');
        const { deleted, reclaimed } = await service.prune(filters);
        sendJson(ctx.res, 200, toVolumePruneReport(deleted, reclaimed));
      },
    },
    {
      method: 'GET',
      path: '/volumes/{name}',
      handler: (ctx) => {
        sendJson(ctx.res, 200, toVolume(service.get(ctx.params['name'] ?? '')));
      },
    },
    {
      method: 'PUT',
      path: '/volumes/{name}',
      minApiVersion: '1.42',
      handler: () => {
        // Only swarm cluster volumes can be updated, and berth has no swarm.
        throw new UnavailableError('volume update only valid for cluster volumes, but swarm is unavailable');
      },
    },
    {
      method: 'DELETE',
      path: '/volumes/{name}',
      handler: async (ctx) => {
        await service.remove(ctx.params['name'] ?? '', queryBool(ctx.query, 'force'));
        sendNoContent(ctx.res);
      },
    },
  ];
}
