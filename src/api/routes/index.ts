import type { Engine } from '../../engine/engine.js';
import { FilterArgs } from '../../util/filters.js';
import type { Route } from '../router.js';
import { containerIORoutes } from './container-io.js';
import { containerRoutes } from './containers.js';
import { execRoutes } from './exec.js';
import { networkRoutes } from './networks.js';
import { statsRoutes } from './stats.js';
import { volumeRoutes } from './volumes.js';
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
        const containers = [];
        for (const c of engine.containers.all()) {
          const image = engine.images.service.meta.get(c.record.Image);
          const sizeRw = await engine.files.upperSize(c);
          containers.push({
            container: c,
            paths: {
              dir: engine.containers.dir(c),
              lowerDirs: image ? engine.images.service.lowerDirs(image) : [],
              execIds: [...c.execIds],
              sizeRw,
              sizeRootFs: sizeRw + (image?.size ?? 0),
            },
          });
        }
        return {
          images: views,
          layersSize: views.reduce((sum, v) => sum + v.record.size, 0),
          containers,
          volumes: await engine.volumes.diskUsage(),
          layerSizes: new Map(
            await Promise.all(
              [...new Set(views.flatMap((v) => v.record.layers.map((l) => l.chainId)))].map(
                async (chain) =>
                  [chain, await engine.images.service.layers.diffSize(chain).catch(() => 0)] as const,
              ),
            ),
          ),
        };
      },
    }),
    ...eventRoutes({ stream: (options) => engine.events.stream(options) }),
    ...imageRoutes(engine.images),
    ...containerRoutes({
      service: engine.containers,
      paths: async (c, withSize) => {
        const image = engine.images.service.meta.get(c.record.Image);
        const sizeRw = withSize ? await engine.files.upperSize(c) : undefined;
        return {
          dir: engine.containers.dir(c),
          lowerDirs: image ? engine.images.service.lowerDirs(image) : [],
          execIds: [...c.execIds],
          sizeRw,
          sizeRootFs: sizeRw === undefined ? undefined : sizeRw + (image?.size ?? 0),
        };
      },
    }),
    ...containerIORoutes({ service: engine.containers, io: engine.io, files: engine.files }),
    ...execRoutes({ containers: engine.containers, exec: engine.exec }),
    ...networkRoutes(engine.networks),
    ...volumeRoutes(engine.volumes),
    ...statsRoutes(engine.stats, (ref) => engine.containers.get(ref)),
  ];
}
