import { readdirSync } from 'node:fs';

import type { Container } from '../../engine/containers/service.js';
import type { ImageView } from '../../engine/images/service.js';
import type { VolumeUsage, VolumeView } from '../../engine/volumes/service.js';
import { toContainerSummary, type ContainerPaths } from '../wire/containers.js';
import { toVolume } from '../wire/volumes.js';
import type { SystemInfo, VersionInfo } from '../../engine/system/system.js';
import { sendJson, sendText } from '../respond.js';
import type { RequestContext, Route } from '../router.js';
import { toImageSummary } from '../wire/images.js';
import { toInfoResponse, toVersionResponse } from '../wire/system.js';

/** What the system routes need from the engine. */
export interface SystemBackend {
  info(openFiles: number): SystemInfo;
  version(): VersionInfo;
  diskUsage(): Promise<{
    images: ImageView[];
    layersSize: number;
    containers: { container: Container; paths: ContainerPaths }[];
    volumes: { view: VolumeView; usage: VolumeUsage }[];
    /** Unpacked size of each layer by chain ID (its own diff, not its parents'). */
    layerSizes: Map<string, number>;
  }>;
}

function ping(ctx: RequestContext): void {
  const { res } = ctx;
  res.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate');
  res.setHeader('Pragma', 'no-cache');
  // berth's builder is the classic one; clients must not try BuildKit's session protocol.
  res.setHeader('Builder-Version', '1');
  res.setHeader('Swarm', 'inactive');
  if (ctx.method === 'HEAD') {
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': '0' });
    res.end();
    return;
  }
  sendText(res, 200, 'OK');
}

function openFileCount(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return 0;
  }
}

/**
 * What `/system/df` adds to each image: containers using it, and the bytes of
 * its layers that other images share (chain IDs in common).
 */
function imageUsage(
  view: ImageView,
  usage: Awaited<ReturnType<SystemBackend['diskUsage']>>,
): { containers: number; sharedSize: number } {
  const containers = usage.containers.filter(
    ({ container }) => container.record.Image === view.record.id,
  ).length;
  const others = new Set(
    usage.images
      .filter((o) => o.record.id !== view.record.id)
      .flatMap((o) => o.record.layers.map((l) => l.chainId)),
  );
  const shared = view.record.layers.filter((l) => others.has(l.chainId)).map((l) => l.chainId);
  const sharedSize = shared.reduce((sum, chain) => sum + (usage.layerSizes.get(chain) ?? 0), 0);
  return { containers, sharedSize };
}

export function systemRoutes(backend: SystemBackend): Route[] {
  return [
    {
      method: 'POST',
      path: '/build/prune',
      // berth has no builder yet, hence no build cache: nothing to reclaim (docker system prune asks).
      handler: (ctx) => sendJson(ctx.res, 200, { CachesDeleted: null, SpaceReclaimed: 0 }),
    },
    { method: 'GET', path: '/_ping', handler: ping },
    { method: 'HEAD', path: '/_ping', handler: ping },
    {
      method: 'GET',
      path: '/version',
      handler: (ctx) => sendJson(ctx.res, 200, toVersionResponse(backend.version())),
    },
    {
      method: 'GET',
      path: '/info',
      handler: (ctx) => sendJson(ctx.res, 200, toInfoResponse(backend.info(openFileCount()))),
    },
    {
      method: 'GET',
      path: '/system/df',
      handler: async (ctx) => {
        const usage = await backend.diskUsage();
        sendJson(ctx.res, 200, {
          LayersSize: usage.layersSize,
          Images: usage.images.map((v) => toImageSummary(v, ctx.apiVersion, true, imageUsage(v, usage))),
          Containers: usage.containers.map(({ container, paths }) => toContainerSummary(container, paths)),
          Volumes: usage.volumes.map(({ view, usage: u }) => toVolume(view, u)),
          BuildCache: [],
        });
      },
    },
  ];
}
