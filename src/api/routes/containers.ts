import type { ContainerService, Container } from '../../engine/containers/service.js';
import type { HostConfig } from '../../engine/containers/model.js';
import { InvalidParameterError } from '../../errors.js';
import { FilterArgs } from '../../util/filters.js';
import { queryBool, queryInt, readJsonBody, sendJson, sendNoContent } from '../respond.js';
import type { RequestContext, Route } from '../router.js';
import {
  parseCreateBody,
  toContainerInspect,
  toContainerSummary,
  type ContainerPaths,
} from '../wire/containers.js';

/** What the container routes need beyond the service: facts for the wire form. */
export interface ContainerRouteBackend {
  service: ContainerService;
  paths(c: Container, withSize: boolean): Promise<ContainerPaths>;
}

function id(ctx: RequestContext): string {
  return ctx.params['id'] ?? '';
}

/** `t` (seconds) as Docker reads it; absent means the container's own timeout. */
function stopTimeout(ctx: RequestContext): number | undefined {
  const raw = ctx.query.get('t');
  if (raw === null || raw === '') return undefined;
  return queryInt(ctx.query, 't', 0);
}

export function containerRoutes(backend: ContainerRouteBackend): Route[] {
  const svc = backend.service;
  return [
    {
      method: 'POST',
      path: '/containers/create',
      handler: async (ctx) => {
        const body = parseCreateBody(await readJsonBody(ctx));
        const name = ctx.query.get('name') ?? undefined;
        const result = await svc.create(name === '' ? undefined : name, body);
        sendJson(ctx.res, 201, { Id: result.id, Warnings: result.warnings });
      },
    },
    {
      method: 'GET',
      path: '/containers/json',
      handler: async (ctx) => {
        const filters = FilterArgs.fromJSON(ctx.query.get('filters'));
        let limit = queryInt(ctx.query, 'limit', -1);
        if (queryBool(ctx.query, 'latest') || ctx.query.has('last')) limit = 1;
        const size = queryBool(ctx.query, 'size');
        const list = svc.list({ all: queryBool(ctx.query, 'all') || limit > 0, limit, filters });
        const out = [];
        for (const c of list) out.push(toContainerSummary(c, await backend.paths(c, size)));
        sendJson(ctx.res, 200, out);
      },
    },
    {
      method: 'POST',
      path: '/containers/prune',
      handler: async (ctx) => {
        const { deleted, reclaimed } = await svc.prune(FilterArgs.fromJSON(ctx.query.get('filters')));
        sendJson(ctx.res, 200, {
          ContainersDeleted: deleted.length > 0 ? deleted : null,
          SpaceReclaimed: reclaimed,
        });
      },
    },
    {
      method: 'GET',
      path: '/containers/{id}/json',
      handler: async (ctx) => {
        const c = svc.get(id(ctx));
        sendJson(ctx.res, 200, toContainerInspect(c, await backend.paths(c, queryBool(ctx.query, 'size'))));
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/start',
      handler: async (ctx) => {
        if (ctx.query.get('checkpoint'))
          throw new InvalidParameterError('checkpoints are not supported by berth');
        await svc.start(id(ctx));
        sendNoContent(ctx.res);
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/stop',
      handler: async (ctx) => {
        await svc.stop(id(ctx), stopTimeout(ctx), ctx.query.get('signal') || undefined);
        sendNoContent(ctx.res);
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/restart',
      handler: async (ctx) => {
        await svc.restart(id(ctx), stopTimeout(ctx), ctx.query.get('signal') || undefined);
        sendNoContent(ctx.res);
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/kill',
      handler: async (ctx) => {
        await svc.kill(id(ctx), ctx.query.get('signal') || 'SIGKILL');
        sendNoContent(ctx.res);
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/pause',
      handler: async (ctx) => {
        await svc.pause(id(ctx));
        sendNoContent(ctx.res);
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/unpause',
      handler: async (ctx) => {
        await svc.unpause(id(ctx));
        sendNoContent(ctx.res);
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/rename',
      handler: async (ctx) => {
        await svc.rename(id(ctx), ctx.query.get('name') ?? '');
        sendNoContent(ctx.res);
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/update',
      handler: async (ctx) => {
        const body = (await readJsonBody(ctx)) as Partial<HostConfig> | null;
        if (body === null || typeof body !== 'object')
          throw new InvalidParameterError('invalid update configuration');
        const warnings = await svc.update(id(ctx), body);
        sendJson(ctx.res, 200, { Warnings: warnings });
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/wait',
      handler: async (ctx) => {
        const c = svc.get(id(ctx));
        const condition = ctx.query.get('condition') ?? '';
        const waiting = svc.wait(c.id, condition, ctx.signal);
        // Headers go out at once so clients know the wait began (docker run waits before it starts).
        ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
        ctx.res.flushHeaders();
        try {
          const code = await waiting;
          ctx.res.end(JSON.stringify({ Error: null, StatusCode: code }) + '\n');
        } catch (err) {
          if (!ctx.res.destroyed)
            ctx.res.end(
              JSON.stringify({ Error: { Message: (err as Error).message }, StatusCode: -1 }) + '\n',
            );
        }
      },
    },
    {
      method: 'DELETE',
      path: '/containers/{id}',
      handler: async (ctx) => {
        if (queryBool(ctx.query, 'link'))
          throw new InvalidParameterError('legacy links are not supported by berth');
        await svc.remove(id(ctx), {
          force: queryBool(ctx.query, 'force'),
          volumes: queryBool(ctx.query, 'v'),
        });
        sendNoContent(ctx.res);
      },
    },
  ];
}
