/**
 * Progress of long image operations (pull, push, load, import), in the
 * engine's terms. The API layer turns these into Docker's JSON messages.
 */
export interface ProgressEvent {
  /** Layer short ID, tag, or nothing for overall status lines. */
  id?: string | undefined;
  status?: string | undefined;
  /** Byte counts for Downloading/Extracting/Pushing; `{}` in Docker's stream when only `detail` is set. */
  current?: number | undefined;
  total?: number | undefined;
  /** Per-layer lines carry a progressDetail object even when it is empty. */
  detail?: boolean | undefined;
  /** Free text (`docker load` prints "Loaded image: x"). */
  stream?: string | undefined;
  /** Structured result (push's {Tag, Digest, Size}). */
  aux?: Record<string, unknown> | undefined;
}

export type ProgressSink = (event: ProgressEvent) => void;

/** A sink that drops everything. */
export const noProgress: ProgressSink = () => undefined;

/** Docker's short layer ID: the first 12 hex digits of a digest. */
export function shortId(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}

/**
 * Throttles byte-count progress as moby's progress reader does: an update
 * when at least 512 KiB (or 1% of the total, if smaller) arrived since the
 * last one, at most every 100 ms, and always the final one.
 */
export class ProgressThrottle {
  private lastBytes = 0;
  private lastTime = 0;
  private readonly step: number;

  constructor(total: number) {
    this.step = total > 0 ? Math.min(512 * 1024, Math.max(1, Math.floor(total / 100))) : 512 * 1024;
  }

  shouldReport(current: number, final = false): boolean {
    if (final) return true;
    const now = Date.now();
    if (current - this.lastBytes < this.step || now - this.lastTime < 100) return false;
    this.lastBytes = current;
    this.lastTime = now;
    return true;
  }
}
