import { Readable } from 'node:stream';

import type { ImageManager } from '../../engine/images/manager.js';
import { InvalidParameterError, NotImplementedError } from '../../errors.js';
import type { AuthConfig } from '../../registry/client.js';
import { FilterArgs } from '../../util/filters.js';
import { queryBool, readJsonBody, sendJson, sendNoContent } from '../respond.js';
import type { RequestContext, Route } from '../router.js';
import { sendChunks } from '../streams/chunks.js';
import { streamProgress } from '../streams/progress.js';
import { toImageHistory, toImageInspect, toImageSummary } from '../wire/images.js';

/**
 * Decodes `X-Registry-Auth`: base64url (or standard base64) JSON of an
 * AuthConfig, as docker clients send it. Absent or `{}` means anonymous.
 */
export function registryAuth(ctx: RequestContext): AuthConfig | undefined {
  const header = ctx.req.headers['x-registry-auth'];
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  try {
    const json = Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
    const auth = JSON.parse(json) as AuthConfig;
    return auth !== null && typeof auth === 'object' && Object.keys(auth).length > 0 ? auth : undefined;
  } catch (err) {
    throw new InvalidParameterError('invalid X-Registry-Auth header: not base64-encoded JSON', {
      cause: err,
    });
  }
}

async function createImage(images: ImageManager, ctx: RequestContext): Promise<void> {
  const q = ctx.query;
  const fromImage = q.get('fromImage') ?? '';
  const fromSrc = q.get('fromSrc') ?? '';
  if (fromImage !== '' && fromSrc !== '') {
    throw new InvalidParameterError('only one of fromImage and fromSrc may be set');
  }
  if (fromImage !== '') {
    const auth = registryAuth(ctx);
    await streamProgress(ctx, (sink) =>
      images.pull(fromImage, q.get('tag') ?? '', q.get('platform') ?? '', auth, sink, ctx.signal),
    );
    return;
  }
  if (fromSrc === '') throw new InvalidParameterError('fromImage or fromSrc is required');
  const options = {
    repo: q.get('repo') || undefined,
    tag: q.get('tag') || undefined,
    message: q.get('message') || undefined,
    changes: q.getAll('changes').filter((c) => c !== ''),
  };
  await streamProgress(ctx, async (sink) => {
    if (fromSrc === '-') {
      await images.import(ctx.req, options, sink);
      return;
    }
    let url: URL;
    try {
      url = new URL(fromSrc);
    } catch {
      throw new InvalidParameterError(`invalid fromSrc: ${fromSrc} (a URL or -)`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new InvalidParameterError(`invalid fromSrc: ${fromSrc} (http or https URLs only)`);
    }
    sink({ status: 'Downloading from ' + fromSrc });
    const response = await fetch(url, { signal: ctx.signal });
    if (!response.ok || !response.body) {
      throw new InvalidParameterError(`error downloading ${fromSrc}: HTTP ${response.status}`);
    }
    await images.import(Readable.fromWeb(response.body), options, sink);
  });
}

export function imageRoutes(images: ImageManager): Route[] {
  return [
    {
      method: 'GET',
      path: '/images/json',
      handler: async (ctx) => {
        const filters = FilterArgs.fromJSON(ctx.query.get('filters'));
        const views = await images.list(filters, queryBool(ctx.query, 'all'));
        sendJson(
          ctx.res,
          200,
          views.map((v) => toImageSummary(v, ctx.apiVersion)),
        );
      },
    },
    { method: 'POST', path: '/images/create', handler: (ctx) => createImage(images, ctx) },
    {
      method: 'POST',
      path: '/images/load',
      handler: (ctx) =>
        streamProgress(ctx, async (sink) => {
          await images.load(ctx.req, queryBool(ctx.query, 'quiet'), sink);
        }),
    },
    {
      method: 'POST',
      path: '/images/prune',
      handler: async (ctx) => {
        const { deleted, reclaimed } = await images.prune(FilterArgs.fromJSON(ctx.query.get('filters')));
        sendJson(ctx.res, 200, {
          ImagesDeleted: deleted.length > 0 ? deleted : null,
          SpaceReclaimed: reclaimed,
        });
      },
    },
    {
      method: 'GET',
      path: '/images/search',
      handler: () => {
        throw new NotImplementedError('search is not supported by berth: it reaches no registry index');
      },
    },
    {
      method: 'GET',
      path: '/images/get',
      handler: async (ctx) => {
        const names = ctx.query
          .getAll('names')
          .flatMap((n) => n.split(','))
          .filter(Boolean);
        const tar = await images.save(names);
        ctx.res.writeHead(200, { 'Content-Type': 'application/x-tar' });
        await sendChunks(ctx.res, tar, (chunk) => images.recycleChunk(chunk));
      },
    },
    {
      method: 'GET',
      path: '/images/{name*}/get',
      handler: async (ctx) => {
        const tar = await images.save([ctx.params['name'] ?? '']);
        ctx.res.writeHead(200, { 'Content-Type': 'application/x-tar' });
        await sendChunks(ctx.res, tar, (chunk) => images.recycleChunk(chunk));
      },
    },
    {
      method: 'GET',
      path: '/images/{name*}/json',
      handler: async (ctx) => {
        const { view, dirs } = await images.inspect(ctx.params['name'] ?? '');
        sendJson(ctx.res, 200, toImageInspect(view, dirs, ctx.apiVersion));
      },
    },
    {
      method: 'GET',
      path: '/images/{name*}/history',
      handler: async (ctx) => {
        const { view, layerSizes } = await images.history(ctx.params['name'] ?? '');
        sendJson(ctx.res, 200, toImageHistory(view, layerSizes));
      },
    },
    {
      method: 'POST',
      path: '/images/{name*}/tag',
      handler: async (ctx) => {
        await images.tag(ctx.params['name'] ?? '', ctx.query.get('repo') ?? '', ctx.query.get('tag') ?? '');
        sendNoContent(ctx.res, 201);
      },
    },
    {
      method: 'POST',
      path: '/images/{name*}/push',
      handler: async (ctx) => {
        const auth = registryAuth(ctx);
        await streamProgress(ctx, (sink) =>
          images.push(ctx.params['name'] ?? '', ctx.query.get('tag') ?? '', auth, sink),
        );
      },
    },
    {
      method: 'DELETE',
      path: '/images/{name*}',
      handler: async (ctx) => {
        const records = await images.remove(
          ctx.params['name'] ?? '',
          queryBool(ctx.query, 'force'),
          queryBool(ctx.query, 'noprune'),
        );
        sendJson(ctx.res, 200, records);
      },
    },
    {
      method: 'GET',
      path: '/distribution/{name*}/json',
      handler: async (ctx) => {
        const { descriptor, platforms } = await images.distribution(
          ctx.params['name'] ?? '',
          registryAuth(ctx),
        );
        sendJson(ctx.res, 200, {
          Descriptor: { mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size },
          Platforms: platforms.map((p) => ({
            architecture: p.architecture,
            os: p.os,
            ...(p.variant ? { variant: p.variant } : {}),
            ...(p.osVersion ? { 'os.version': p.osVersion } : {}),
          })),
        });
      },
    },
    {
      method: 'POST',
      path: '/auth',
      handler: async (ctx) => {
        const auth = (await readJsonBody(ctx)) as AuthConfig;
        if (auth === null || typeof auth !== 'object')
          throw new InvalidParameterError('invalid auth configuration');
        const result = await images.login(auth);
        sendJson(ctx.res, 200, { Status: result.status, IdentityToken: result.identityToken ?? '' });
      },
    },
  ];
}
