/**
 * A client of conmon's attach socket (`<bundle>/attach` with --full-attach).
 *
 * The socket is AF_UNIX SOCK_SEQPACKET, which Node's `net` cannot open, so
 * this uses node-unix-socket's SeqpacketSocket. Protocol (conmon 2.1):
 *   conmon -> client: one packet per read of container output,
 *                     `[1 byte stream id][<= 8192 bytes]`; 2 = stdout, 3 = stderr
 *                     (a pty's output is all stdout);
 *   client -> conmon: raw stdin bytes, at most 32768 per packet (needs
 *                     conmon's -i or -t);
 *   client SHUT_WR:   conmon closes the container's stdin (unless --leave-stdin-open);
 *   container exit:   conmon drains output and closes every connection (EOF).
 * Every connected client receives all output from the moment it connects;
 * there is no replay (history is in the log file). So attach between
 * `create` and `start` to miss nothing.
 */
import { EventEmitter } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { SeqpacketSocket } from 'node-unix-socket';
import { ConflictError, SystemError, errorMessage } from '../errors.js';

export const STREAM_STDIN = 1;
export const STREAM_STDOUT = 2;
export const STREAM_STDERR = 3;

/** conmon reads at most this many bytes of stdin per packet. */
export const MAX_STDIN_PACKET = 32768;

/** sun_path is 108 bytes including the terminating NUL. */
const SUN_PATH_MAX = 107;

export type AttachOutputStream = 'stdout' | 'stderr';

type AttachListener = ((chunk: Buffer) => void) | (() => void) | ((err: Error) => void);

/**
 * One connection to a conmon attach socket. Output arrives as 'stdout' and
 * 'stderr' events (chunks that arrive before the first listener of a stream
 * is added are buffered and delivered to it). `ended` resolves once the
 * connection is over: conmon closed it (the container exited), it failed, or
 * {@link close} was called. It never rejects.
 */
export class ContainerAttach {
  readonly ended: Promise<void>;
  private readonly socket: SeqpacketSocket;
  private readonly emitter = new EventEmitter();
  private readonly pending: Record<AttachOutputStream, Buffer[]> = { stdout: [], stderr: [] };
  private readonly writeFailures = new Set<(err: Error) => void>();
  private finished = false;
  private stdinClosed = false;
  private resolveEnded: () => void = () => undefined;

  constructor(socket: SeqpacketSocket) {
    this.socket = socket;
    this.ended = new Promise((resolve) => {
      this.resolveEnded = resolve;
    });
    socket.on('data', (packet: Buffer) => this.onPacket(packet));
    socket.on('end', () => this.finish());
    socket.on('close', () => this.finish());
    socket.on('error', (err: Error) => {
      if (this.emitter.listenerCount('error') > 0) this.emitter.emit('error', err);
      this.finish(err);
    });
  }

  on(event: AttachOutputStream, listener: (chunk: Buffer) => void): this;
  on(event: 'end', listener: () => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: AttachOutputStream | 'end' | 'error', listener: AttachListener): this {
    this.emitter.on(event, listener as (...args: unknown[]) => void);
    if (event === 'stdout' || event === 'stderr') this.flushPending(event);
    return this;
  }

  off(event: AttachOutputStream | 'end' | 'error', listener: AttachListener): this {
    this.emitter.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** True once the connection is over. */
  get closed(): boolean {
    return this.finished;
  }

  /**
   * Sends bytes to the container's stdin, split into packets of at most
   * 32768 bytes. Resolves when the kernel has them; rejects with a
   * ConflictError when the connection is gone.
   */
  write(data: Buffer | string): Promise<void> {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    if (this.finished || this.stdinClosed) {
      return Promise.reject(new ConflictError('attach connection is closed: container is not running'));
    }
    if (buf.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const fail = (err: Error): void => {
        this.writeFailures.delete(fail);
        reject(err);
      };
      this.writeFailures.add(fail);
      try {
        for (let offset = 0; offset < buf.length; offset += MAX_STDIN_PACKET) {
          const length = Math.min(MAX_STDIN_PACKET, buf.length - offset);
          const last = offset + length >= buf.length;
          this.socket.write(
            buf,
            offset,
            length,
            last
              ? () => {
                  this.writeFailures.delete(fail);
                  resolve();
                }
              : undefined,
          );
        }
      } catch (err) {
        fail(new ConflictError(`attach write failed: ${errorMessage(err)}`, { cause: err }));
      }
    });
  }

  /** Half-closes the connection (SHUT_WR, after pending writes): conmon closes the container's stdin. */
  closeStdin(): Promise<void> {
    if (this.finished || this.stdinClosed) return Promise.resolve();
    this.stdinClosed = true;
    return new Promise((resolve) => {
      try {
        this.socket.end(() => resolve());
      } catch {
        resolve();
      }
      // If the connection ends first, the shutdown callback may never run.
      void this.ended.then(resolve);
    });
  }

  /** Closes the connection. The container keeps running. */
  close(): void {
    this.finish();
  }

  /** Keeps the event loop alive while connected (the default) or not. */
  ref(): void {
    if (!this.finished) this.socket.ref();
  }

  unref(): void {
    if (!this.finished) this.socket.unref();
  }

  private onPacket(packet: Buffer): void {
    if (packet.length < 1) return;
    const id = packet[0];
    const stream: AttachOutputStream | undefined =
      id === STREAM_STDOUT ? 'stdout' : id === STREAM_STDERR ? 'stderr' : undefined;
    if (stream === undefined) return;
    const chunk = packet.subarray(1);
    if (chunk.length === 0) return;
    if (this.emitter.listenerCount(stream) > 0) this.emitter.emit(stream, chunk);
    else this.pending[stream].push(chunk);
  }

  private flushPending(stream: AttachOutputStream): void {
    const chunks = this.pending[stream];
    if (chunks.length === 0) return;
    this.pending[stream] = [];
    // Deliver after the caller has finished registering its listeners.
    process.nextTick(() => {
      for (const chunk of chunks) this.emitter.emit(stream, chunk);
    });
  }

  private finish(err?: Error): void {
    if (this.finished) return;
    this.finished = true;
    const failure = err ?? new ConflictError('attach connection closed');
    for (const fail of [...this.writeFailures]) fail(failure);
    this.writeFailures.clear();
    try {
      this.socket.destroy();
    } catch {
      // already destroyed
    }
    // Let buffered output that was flushed on nextTick go out before 'end'.
    process.nextTick(() => {
      this.emitter.emit('end');
      this.resolveEnded();
    });
  }
}

/**
 * Connects to a conmon attach socket. Paths longer than sun_path allows are
 * reached through /proc/self/fd/<dirfd>/<name>. Rejects with a ConflictError
 * when nothing listens there (conmon removed the socket: the container has
 * exited) and a SystemError otherwise.
 */
export function attachContainer(attachSocketPath: string): Promise<ContainerAttach> {
  let dirFd: number | undefined;
  let target = attachSocketPath;
  if (Buffer.byteLength(attachSocketPath) > SUN_PATH_MAX) {
    try {
      dirFd = openSync(dirname(attachSocketPath), 'r');
    } catch (err) {
      return Promise.reject(notListening(attachSocketPath, err));
    }
    target = `/proc/self/fd/${dirFd}/${basename(attachSocketPath)}`;
  }
  const closeDir = (): void => {
    if (dirFd !== undefined) {
      try {
        closeSync(dirFd);
      } catch {
        // ignore
      }
      dirFd = undefined;
    }
  };
  return new Promise((resolve, reject) => {
    const socket = new SeqpacketSocket();
    let settled = false;
    const onError = (err: Error): void => {
      if (settled) return;
      settled = true;
      closeDir();
      try {
        socket.destroy();
      } catch {
        // ignore
      }
      reject(notListening(attachSocketPath, err));
    };
    socket.once('error', onError);
    try {
      socket.connect(target, () => {
        if (settled) return;
        settled = true;
        closeDir();
        socket.off('error', onError);
        resolve(new ContainerAttach(socket));
      });
    } catch (err) {
      onError(err instanceof Error ? err : new Error(String(err)));
    }
  });
}

function notListening(path: string, err: unknown): Error {
  const text = errorMessage(err);
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (
    code === 'ENOENT' ||
    code === 'ECONNREFUSED' ||
    /ENOENT|ECONNREFUSED|No such file|Connection refused/i.test(text)
  ) {
    return new ConflictError(`container is not running (cannot attach to ${path}: ${text})`, { cause: err });
  }
  return new SystemError(`cannot attach to ${path}: ${text}`, { cause: err });
}
