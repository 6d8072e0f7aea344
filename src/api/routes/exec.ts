import type { ExecConfig, ExecService } from '../../engine/containers/exec.js';
import type { ContainerService } from '../../engine/containers/service.js';
import { InvalidParameterError } from '../../errors.js';
import { queryInt, readJsonBody, sendJson } from '../respond.js';
import type { Route } from '../router.js';
import { parseDetachKeys, pipeOutput, pipeStdin } from '../streams/raw-stream.js';
import { frame, STDERR } from '../streams/stdcopy.js';

export interface ExecBackend {
  containers: ContainerService;
  exec: ExecService;
}

export function execRoutes(b: ExecBackend): Route[] {
  return [
    {
      method: 'POST',
      path: '/containers/{id}/exec',
      handler: async (ctx) => {
        const body = (await readJsonBody(ctx)) as Partial<ExecConfig> | null;
        if (body === null || typeof body !== 'object')
          throw new InvalidParameterError('invalid exec configuration');
        if (
          body.Cmd !== undefined &&
          !(Array.isArray(body.Cmd) && body.Cmd.every((s) => typeof s === 'string'))
        ) {
          throw new InvalidParameterError(
            'json: cannot unmarshal into Go struct field ExecOptions.Cmd of type []string',
          );
        }
        if (body.DetachKeys) parseDetachKeys(body.DetachKeys, 'exec');
        const execId = b.exec.create(ctx.params['id'] ?? '', body);
        sendJson(ctx.res, 201, { Id: execId });
      },
    },
    {
      method: 'POST',
      path: '/exec/{id}/start',
      handler: async (ctx) => {
        const body = ((await readJsonBody(ctx, { allowEmpty: true })) ?? {}) as {
          Detach?: boolean;
          Tty?: boolean;
          ConsoleSize?: [number, number] | null;
        };
        const rec = b.exec.get(ctx.params['id'] ?? '');
        const size = body.ConsoleSize ? { rows: body.ConsoleSize[0], cols: body.ConsoleSize[1] } : undefined;
        if (body.Detach) {
          await b.exec.start(rec.ID, { detach: true, size });
          ctx.res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': 0 });
          ctx.res.end();
          return;
        }
        const started = await b.exec.start(rec.ID, { detach: false, size });
        const socket = ctx.hijack();
        const controller = new AbortController();
        socket.once('close', () => controller.abort());
        try {
          if (started.connection && rec.Config.AttachStdin) {
            const connection = started.connection;
            void pipeStdin(
              socket,
              { write: (d) => connection.write(d), end: () => connection.closeStdin() },
              {
                detachKeys: rec.Config.DetachKeys
                  ? parseDetachKeys(rec.Config.DetachKeys, 'exec')
                  : undefined,
                closeStdin: true,
                signal: controller.signal,
              },
            ).then((result) => {
              if (result === 'detach') connection.close();
            });
          }
          if (started.output) {
            await pipeOutput(started.output, socket, {
              tty: rec.Config.Tty,
              stdout: rec.Config.AttachStdout,
              stderr: rec.Config.AttachStderr,
              end: false,
              signal: controller.signal,
            });
          }
          await started.exitCode;
          if (rec.startError && !socket.destroyed) {
            const message = Buffer.from(`${rec.startError}\n`);
            socket.write(rec.Config.Tty ? message : frame(STDERR, message));
          }
        } finally {
          // Close the hijacked connection fully once the output is flushed, as dockerd does.
          if (!socket.destroyed) socket.end(() => socket.destroy());
        }
      },
    },
    {
      method: 'POST',
      path: '/exec/{id}/resize',
      handler: async (ctx) => {
        await b.exec.resize(ctx.params['id'] ?? '', queryInt(ctx.query, 'h', 0), queryInt(ctx.query, 'w', 0));
        ctx.res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': 0 });
        ctx.res.end();
      },
    },
    {
      method: 'GET',
      path: '/exec/{id}/json',
      handler: (ctx) => {
        const rec = b.exec.inspect(ctx.params['id'] ?? '');
        const c = b.containers.find(rec.ContainerID);
        sendJson(ctx.res, 200, {
          ID: rec.ID,
          Running: rec.Running,
          ExitCode: rec.ExitCode,
          ProcessConfig: {
            tty: rec.Config.Tty,
            entrypoint: rec.Config.Cmd[0] ?? '',
            arguments: rec.Config.Cmd.slice(1),
            privileged: rec.Config.Privileged,
            ...(rec.Config.User ? { user: rec.Config.User } : {}),
          },
          OpenStdin: rec.Config.AttachStdin,
          OpenStderr: rec.Config.AttachStderr,
          OpenStdout: rec.Config.AttachStdout,
          CanRemove: false,
          ContainerID: rec.ContainerID,
          DetachKeys: rec.Config.DetachKeys,
          Pid: rec.Pid,
          ...(c ? {} : {}),
        });
      },
    },
  ];
}
