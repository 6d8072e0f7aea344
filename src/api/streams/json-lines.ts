import type { ServerResponse } from 'node:http';

/**
 * A streamed response of JSON messages, one per line, as Docker sends events
 * and pull/push progress. Each message goes out in one write (one chunk), and
 * `write` waits for the socket to drain so a slow client applies backpressure
 * instead of growing the daemon's memory.
 */
export class JsonLinesStream {
  private closed = false;

  /** Set from a write the socket did not take at once until it drains (see offer). */
  private draining = false;

  private latest: Buffer | undefined;

  private readonly res: ServerResponse;

  private readonly signal: AbortSignal;

  constructor(res: ServerResponse, signal: AbortSignal) {
    this.res = res;

    this.signal = signal;
  }

  /** Sends the status line and headers now, so the client sees the stream open. */
  open(contentType = 'application/json'): void {
    this.res.writeHead(200, { 'Content-Type': contentType });
    this.res.flushHeaders();
  }

  /** Writes one serialised JSON message. Resolves false once the client is gone. */
  async writeRaw(json: string): Promise<boolean> {
    if (this.closed || this.signal.aborted || this.res.destroyed) return false;
    if (this.res.write(json + '\n')) return true;
    return new Promise<boolean>((resolve) => {
      const done = (ok: boolean): void => {
        this.res.off('drain', onDrain);
        this.res.off('close', onClose);
        this.signal.removeEventListener('abort', onClose);
        resolve(ok);
      };
      const onDrain = (): void => done(true);
      const onClose = (): void => done(false);
      this.res.once('drain', onDrain);
      this.res.once('close', onClose);
      this.signal.addEventListener('abort', onClose, { once: true });
    });
  }

  /**
   * Writes one message (a whole line, as bytes) without waiting, for streams
   * of snapshots where only the newest matters (stats): while the client is
   * not keeping up (the socket has not drained since a write), only the
   * newest message offered is kept, and it goes out at the next drain.
   * `payload` may be shared with other streams; it is not copied or changed.
   */
  offer(payload: Buffer): void {
    // No signal check: a stats stream stops offering once the signal aborts.
    if (this.closed || this.res.destroyed) return;
    if (this.draining) {
      this.latest = payload;
      return;
    }
    if (this.res.write(payload)) return;
    this.draining = true;
    this.res.once('drain', () => {
      this.draining = false;
      const latest = this.latest;
      this.latest = undefined;
      if (latest) this.offer(latest);
    });
  }

  write(message: unknown): Promise<boolean> {
    return this.writeRaw(JSON.stringify(message));
  }

  end(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.res.destroyed) this.res.end();
  }
}
