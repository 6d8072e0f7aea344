/**
 * Docker's multiplexed stream framing ("stdcopy"), used on attach, exec and
 * logs responses when the container has no TTY: each frame is an 8-byte
 * header — the stream byte (0 stdin, 1 stdout, 2 stderr, 3 system error),
 * three zero bytes, the payload length as a big-endian uint32 — followed by
 * the payload. Payloads longer than 2^32-1 bytes go out as several frames.
 *
 * As moby's stdcopy.StdCopy reads it: an unknown stream byte is an error; a
 * stream that ends inside a frame ends quietly (the partial frame is dropped).
 */
import { Transform, type Readable, type TransformCallback, type Writable } from 'node:stream';

export type StdStreamId = 0 | 1 | 2 | 3;

export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
/** Errors from the daemon; docker's StdCopy ends with `error from daemon in stream: …`. */
export const SYSTEMERR = 3;

export const STDCOPY_HEADER_LENGTH = 8;
export const MAX_FRAME_PAYLOAD = 0xffff_ffff;

export interface StdFrame {
  stream: number;
  data: Buffer;
}

/** The 8-byte header of a frame. */
export function frameHeader(stream: StdStreamId, length: number): Buffer {
  if (!Number.isInteger(length) || length < 0 || length > MAX_FRAME_PAYLOAD) {
    throw new RangeError(`stdcopy frame length out of range: ${length}`);
  }
  const header = Buffer.alloc(STDCOPY_HEADER_LENGTH);
  header[0] = stream;
  header.writeUInt32BE(length, 4);
  return header;
}

/**
 * The frames for `payload` as header/payload buffers in order (payload
 * pieces share memory with `payload`), split every `maxPayload` bytes. An
 * empty payload gives one empty frame.
 */
export function frameParts(stream: StdStreamId, payload: Buffer, maxPayload = MAX_FRAME_PAYLOAD): Buffer[] {
  if (payload.length <= maxPayload) return [frameHeader(stream, payload.length), payload];
  const parts: Buffer[] = [];
  for (let offset = 0; offset < payload.length; offset += maxPayload) {
    const piece = payload.subarray(offset, offset + maxPayload);
    parts.push(frameHeader(stream, piece.length), piece);
  }
  return parts;
}

/** `payload` framed for `stream`, in one buffer. */
export function frame(stream: StdStreamId, payload: Buffer): Buffer {
  return Buffer.concat(frameParts(stream, payload));
}

/** Resolves true on 'drain', false if the stream closes or fails first. */
export function waitForDrain(dest: Writable): Promise<boolean> {
  if (dest.destroyed || dest.writableEnded) return Promise.resolve(false);
  return new Promise<boolean>((resolve) => {
    const done = (ok: boolean): void => {
      dest.off('drain', onDrain);
      dest.off('close', onClose);
      dest.off('error', onClose);
      resolve(ok);
    };
    const onDrain = (): void => done(true);
    const onClose = (): void => done(false);
    dest.on('drain', onDrain);
    dest.on('close', onClose);
    dest.on('error', onClose);
  });
}

/**
 * Writes framed messages onto one Writable (a response or a hijacked
 * socket). Each message's frames are written back to back, so messages do not
 * interleave; `write` resolves once the destination can take more.
 */
export class StdcopyWriter {
  readonly dest: Writable;

  constructor(dest: Writable) {
    this.dest = dest;
  }

  /** Whether the destination still takes writes. */
  get writable(): boolean {
    return !this.dest.destroyed && !this.dest.writableEnded;
  }

  /**
   * Frames and writes `data`. Resolves true when more may be written (after
   * 'drain' if the destination is full), false once it is closed. Empty data
   * writes nothing.
   */
  async write(stream: StdStreamId, data: Buffer): Promise<boolean> {
    if (!this.writable) return false;
    if (data.length === 0) return true;
    let ok = true;
    this.dest.cork();
    try {
      for (const part of frameParts(stream, data)) ok = this.dest.write(part);
    } finally {
      this.dest.uncork();
    }
    return ok || waitForDrain(this.dest);
  }

  end(): void {
    if (this.writable) this.dest.end();
  }
}

/** Incremental frame parser: feed chunks, get complete frames. */
export class StdcopyParser {
  private chunks: Buffer[] = [];
  private head = 0;
  private buffered = 0;
  private pendingStream = -1;
  private pendingLength = 0;

  /** Bytes held that are not yet part of a complete frame. */
  get pendingBytes(): number {
    return this.buffered;
  }

  /** Whether the input so far ends between frames. */
  get atBoundary(): boolean {
    return this.buffered === 0 && this.pendingStream < 0;
  }

  /** Throws on an unknown stream byte. */
  push(chunk: Buffer): StdFrame[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const out: StdFrame[] = [];
    for (;;) {
      if (this.pendingStream < 0) {
        if (this.buffered < STDCOPY_HEADER_LENGTH) break;
        const header = this.take(STDCOPY_HEADER_LENGTH);
        const stream = header[0] ?? 0;
        if (stream > SYSTEMERR) throw new Error(`unrecognized stream: ${stream}`);
        this.pendingStream = stream;
        this.pendingLength = header.readUInt32BE(4);
      }
      if (this.buffered < this.pendingLength) break;
      out.push({ stream: this.pendingStream, data: this.take(this.pendingLength) });
      this.pendingStream = -1;
    }
    return out;
  }

  private take(n: number): Buffer {
    this.buffered -= n;
    const first = this.chunks[0];
    if (n === 0 || first === undefined) return Buffer.alloc(0);
    if (first.length - this.head >= n) {
      const out = first.subarray(this.head, this.head + n);
      this.advance(first, n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0];
      if (chunk === undefined) throw new Error('stdcopy parser underflow');
      const k = Math.min(chunk.length - this.head, n - filled);
      chunk.copy(out, filled, this.head, this.head + k);
      filled += k;
      this.advance(chunk, k);
    }
    return out;
  }

  private advance(chunk: Buffer, n: number): void {
    this.head += n;
    if (this.head === chunk.length) {
      this.chunks.shift();
      this.head = 0;
    }
  }
}

/** Demultiplexes a framed byte stream into its frames (whole frames, headers split across chunks or not). */
export async function* demux(
  readable: AsyncIterable<Buffer | string> | Readable,
): AsyncGenerator<StdFrame, void, undefined> {
  const parser = new StdcopyParser();
  for await (const chunk of readable as AsyncIterable<Buffer | string>) {
    yield* parser.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  }
}

/** A Transform from framed bytes to `{ stream, data }` objects. */
export class StdcopyDemuxer extends Transform {
  private readonly parser = new StdcopyParser();

  constructor() {
    super({ readableObjectMode: true });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let frames: StdFrame[];
    try {
      frames = this.parser.push(chunk);
    } catch (err) {
      callback(err as Error);
      return;
    }
    for (const f of frames) this.push(f);
    callback();
  }
}
