import type { Engine } from '../../engine/engine.js';
import { FilterArgs } from '../../util/filters.js';
import type { Route } from '../router.js';
import { eventRoutes } from './events.js';
import { imageRoutes } from './images.js';
import { systemRoutes } from './system.js';

/** Every route of the API, from each resource's router file. */
export function allRoutes(engine: Engine): Route[] {
  return [
    ...systemRoutes({
      info: (openFiles) => engine.system.info(openFiles),
      version: () => engine.system.version(),
      diskUsage: async () => {
        const views = await engine.images.list(new FilterArgs(), true);
        return { images: views, layersSize: views.reduce((sum, v) => sum + v.record.size, 0) };
      },
    }),
    ...eventRoutes({ stream: (options) => engine.events.stream(options) }),
    ...imageRoutes(engine.images),
  ];
}
