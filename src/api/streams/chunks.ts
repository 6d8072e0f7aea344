import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';

/**
 * Sends a stream of Buffers as the response body, calling `recycle` with
 * each chunk once the socket has taken it (so its producer can reuse the
 * memory), and ends the response. If the client goes away the source is
 * destroyed (releasing its files) and the promise rejects; if the source
 * fails, the connection is cut.
 */
export async function sendChunks(
  res: ServerResponse,
  source: Readable,
  recycle: (chunk: Buffer) => void,
): Promise<void> {
  const gone = (): void => {
    source.destroy(new Error('client went away'));
  };
  res.once('close', gone);
  try {
    for await (const chunk of source) {
      const buf = chunk as Buffer;
      if (res.destroyed) throw new Error('client went away');
      const more = res.write(buf, (err) => {
        if (!err) recycle(buf);
      });
      if (!more) await Promise.race([once(res, 'drain'), once(res, 'close')]);
    }
    if (!res.destroyed) await new Promise<void>((resolve) => res.end(resolve));
  } catch (err) {
    // Mid-stream the status is sent already: cut the connection so the client sees the body fail,
    // rather than a cleanly ended but truncated one.
    res.destroy();
    throw err;
  } finally {
    res.off('close', gone);
  }
}
