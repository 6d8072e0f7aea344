import type { Engine } from '../../engine/engine.js';
import type { Route } from '../router.js';
import { eventRoutes } from './events.js';
import { systemRoutes } from './system.js';

/** Every route of the API, from each resource's router file. */
export function allRoutes(engine: Engine): Route[] {
  return [
    ...systemRoutes({
      info: (openFiles) => engine.system.info(openFiles),
      version: () => engine.system.version(),
    }),
    ...eventRoutes({ stream: (options) => engine.events.stream(options) }),
  ];
}
