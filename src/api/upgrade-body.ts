import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/** Bodies of upgraded requests, read before the connection is hijacked. */
export const upgradeBodies = new WeakMap<IncomingMessage, Buffer>();

/** The body an upgraded request came with (empty if none). */
export function upgradeBody(req: IncomingMessage): Buffer | undefined {
  return upgradeBodies.get(req);
}

export async function readUpgradeBody(req: IncomingMessage, socket: Socket, head: Buffer): Promise<Buffer> {
  const length = Number.parseInt(String(req.headers['content-length'] ?? '0'), 10) || 0;
  let buffered = head;
  while (buffered.length < length) {
    const chunk = await new Promise<Buffer | undefined>((resolve) => {
      const onData = (d: Buffer): void => {
        cleanup();
        resolve(d);
      };
      const onEnd = (): void => {
        cleanup();
        resolve(undefined);
      };
      const cleanup = (): void => {
        socket.off('data', onData);
        socket.off('end', onEnd);
        socket.off('close', onEnd);
        socket.pause();
      };
      socket.on('data', onData);
      socket.once('end', onEnd);
      socket.once('close', onEnd);
      socket.resume();
    });
    if (!chunk) break;
    buffered = Buffer.concat([buffered, chunk]);
  }
  const rest = buffered.subarray(length);
  if (rest.length > 0) socket.unshift(rest);
  return buffered.subarray(0, length);
}
