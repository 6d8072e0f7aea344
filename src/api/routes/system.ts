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

export function systemRoutes(backend: SystemBackend): Route[] {
  return [
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
          Images: usage.images.map((v) => toImageSummary(v, ctx.apiVersion)),
          Containers: usage.containers.map(({ container, paths }) => toContainerSummary(container, paths)),
          Volumes: usage.volumes.map(({ view, usage: u }) => toVolume(view, u)),
          BuildCache: [],
        });
      },
    },
  ];
}
