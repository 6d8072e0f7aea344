import { pipeline } from 'node:stream/promises';

import type { ContainerFiles } from '../../engine/containers/fsops.js';
import type { ContainerIO, OutputChunk } from '../../engine/containers/io.js';
import type { ContainerService } from '../../engine/containers/service.js';
import { ConflictError, InvalidParameterError } from '../../errors.js';
import { formatLogTimestamp } from '../../runtime/logs.js';
import { nowNano } from '../../util/time.js';
import { queryBool, queryInt, sendJson, sendNoContent } from '../respond.js';
import type { RequestContext, Route } from '../router.js';
import { parseDetachKeys, pipeOutput, pipeStdin } from '../streams/raw-stream.js';
import { atLeast } from '../version.js';
import { parseEventTime } from './events.js';

export interface ContainerIOBackend {
  service: ContainerService;
  io: ContainerIO;
  files: ContainerFiles;
}

const id = (ctx: RequestContext): string => ctx.params['id'] ?? '';

function streamMediaType(tty: boolean, apiVersion: string): string {
  if (tty) return 'application/vnd.docker.raw-stream';
  return atLeast(apiVersion, '1.42')
    ? 'application/vnd.docker.multiplexed-stream'
    : 'application/vnd.docker.raw-stream';
}

async function* withTimestamps(source: AsyncIterable<OutputChunk>): AsyncGenerator<OutputChunk> {
  for await (const chunk of source) {
    const stamp = formatLogTimestamp(chunk.timeNano ?? nowNano());
    yield { ...chunk, data: Buffer.concat([Buffer.from(`${stamp} `), chunk.data]) };
  }
}

async function getLogs(b: ContainerIOBackend, ctx: RequestContext): Promise<void> {
  const c = b.service.get(id(ctx));
  const stdout = queryBool(ctx.query, 'stdout');
  const stderr = queryBool(ctx.query, 'stderr');
  if (!stdout && !stderr)
    throw new InvalidParameterError('Bad parameters: you must choose at least one stream');
  const tailRaw = ctx.query.get('tail') ?? 'all';
  const tail = tailRaw === 'all' || tailRaw === '' ? -1 : Number.parseInt(tailRaw, 10);
  const now = nowNano();
  const since = parseEventTime('since', ctx.query.get('since'), now);
  const until = parseEventTime('until', ctx.query.get('until'), now);
  const source = b.io.logs(c, {
    stdout,
    stderr,
    follow: queryBool(ctx.query, 'follow'),
    sinceNano: since === 0n ? undefined : since,
    untilNano: until === 0n ? undefined : until,
    tail: Number.isNaN(tail) ? -1 : tail,
    signal: ctx.signal,
  });
  // The first read surfaces errors (e.g. a driver that cannot be read) before the status goes out.
  const first = await source.next();
  ctx.res.writeHead(200, { 'Content-Type': streamMediaType(c.record.Config.Tty, ctx.apiVersion) });
  ctx.res.flushHeaders();
  const all = (async function* (): AsyncGenerator<OutputChunk> {
    if (!first.done) yield first.value;
    yield* source;
  })();
  await pipeOutput(queryBool(ctx.query, 'timestamps') ? withTimestamps(all) : all, ctx.res, {
    tty: c.record.Config.Tty,
    signal: ctx.signal,
  });
}

async function attach(b: ContainerIOBackend, ctx: RequestContext): Promise<void> {
  const c = b.service.get(id(ctx));
  const q = ctx.query;
  const detachKeys = parseDetachKeys(q.get('detachKeys') ?? undefined);
  const wantStdin = queryBool(q, 'stdin');
  const wantStdout = queryBool(q, 'stdout');
  const wantStderr = queryBool(q, 'stderr');
  const logs = queryBool(q, 'logs');
  const stream = queryBool(q, 'stream');
  // A stopped container's attach waits for its next start (docker start -a attaches first);
  // refusing to attach to a stopped container is the docker CLI's own check.

  const socket = ctx.hijack();
  b.service.publish(c, 'attach');
  const tty = c.record.Config.Tty;
  const controller = new AbortController();
  const onClose = (): void => controller.abort();
  socket.once('close', onClose);
  try {
    if (logs) {
      await pipeOutput(
        b.io.logs(c, {
          stdout: wantStdout,
          stderr: wantStderr,
          follow: false,
          tail: -1,
          signal: controller.signal,
        }),
        socket,
        {
          tty,
          end: false,
          signal: controller.signal,
        },
      );
    }
    if (stream) {
      const live = await b.io.attach(c);
      if (live) {
        let detached = false;
        if (wantStdin && c.record.Config.OpenStdin) {
          void pipeStdin(
            socket,
            { write: (d) => live.connection.write(d), end: () => live.connection.closeStdin() },
            {
              detachKeys,
              closeStdin: c.record.Config.StdinOnce,
              signal: controller.signal,
            },
          ).then((result) => {
            if (result === 'detach') {
              detached = true;
              b.service.publish(c, 'detach');
              live.connection.close();
            }
          });
        }
        await pipeOutput(live.output, socket, {
          tty,
          stdout: wantStdout,
          stderr: wantStderr,
          end: false,
          signal: controller.signal,
        });
        void detached;
      }
    }
  } finally {
    socket.off('close', onClose);
    // Close the hijacked connection fully once the output is flushed, as dockerd does.
    if (!socket.destroyed) socket.end(() => socket.destroy());
  }
}

export function containerIORoutes(b: ContainerIOBackend): Route[] {
  return [
    { method: 'GET', path: '/containers/{id}/logs', handler: (ctx) => getLogs(b, ctx) },
    { method: 'POST', path: '/containers/{id}/attach', handler: (ctx) => attach(b, ctx) },
    {
      method: 'POST',
      path: '/containers/{id}/resize',
      handler: async (ctx) => {
        const c = b.service.get(id(ctx));
        const h = queryInt(ctx.query, 'h', 0);
        const w = queryInt(ctx.query, 'w', 0);
        if (!c.running) throw new ConflictError(`Container ${c.id} is not running`);
        if (c.record.Config.Tty) await b.service.deps.driver.resize(b.service.bundleDir(c), h, w);
        b.service.publish(c, 'resize', { height: String(h), width: String(w) });
        ctx.res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': 0 });
        ctx.res.end();
      },
    },
    {
      method: 'GET',
      path: '/containers/{id}/top',
      handler: async (ctx) => {
        const c = b.service.get(id(ctx));
        sendJson(ctx.res, 200, await b.files.top(c, ctx.query.get('ps_args') ?? ''));
      },
    },
    {
      method: 'GET',
      path: '/containers/{id}/changes',
      handler: async (ctx) => {
        const c = b.service.get(id(ctx));
        const changes = await b.files.changes(c);
        sendJson(ctx.res, 200, changes.length > 0 ? changes : null);
      },
    },
    {
      method: 'GET',
      path: '/containers/{id}/export',
      handler: async (ctx) => {
        const c = b.service.get(id(ctx));
        const tar = b.files.exportTar(c);
        ctx.res.writeHead(200, { 'Content-Type': 'application/x-tar' });
        await pipeline(tar, ctx.res);
      },
    },
    {
      method: 'HEAD',
      path: '/containers/{id}/archive',
      handler: async (ctx) => {
        const c = b.service.get(id(ctx));
        const stat = await b.files.stat(c, requirePath(ctx));
        ctx.res.writeHead(200, {
          'X-Docker-Container-Path-Stat': Buffer.from(JSON.stringify(stat)).toString('base64'),
          'Content-Type': 'application/x-tar',
        });
        ctx.res.end();
      },
    },
    {
      method: 'GET',
      path: '/containers/{id}/archive',
      handler: async (ctx) => {
        const c = b.service.get(id(ctx));
        const { stat, tar } = await b.files.getArchive(c, requirePath(ctx));
        ctx.res.writeHead(200, {
          'X-Docker-Container-Path-Stat': Buffer.from(JSON.stringify(stat)).toString('base64'),
          'Content-Type': 'application/x-tar',
        });
        await pipeline(tar, ctx.res);
      },
    },
    {
      method: 'PUT',
      path: '/containers/{id}/archive',
      handler: async (ctx) => {
        const c = b.service.get(id(ctx));
        await b.files.putArchive(c, requirePath(ctx), ctx.req, queryBool(ctx.query, 'noOverwriteDirNonDir'));
        sendNoContent(ctx.res, 200);
      },
    },
  ];
}

function requirePath(ctx: RequestContext): string {
  const path = ctx.query.get('path');
  if (!path) throw new InvalidParameterError('path is required');
  return path;
}
