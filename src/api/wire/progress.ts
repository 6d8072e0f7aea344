import type { ProgressEvent } from '../../engine/images/progress.js';
import { humanSize } from '../../util/units.js';

/**
 * Docker's progress bar text for the `progress` field (API clients before
 * jsonmessage rendered it themselves still print it): a 50-column bar and
 * `current/total` in human units.
 */
export function progressBar(current: number, total: number): string {
  if (total <= 0) return `${humanSize(current).padStart(8)}`;
  const width = 50;
  const filled = Math.min(width, Math.floor((current / total) * width));
  const bar =
    filled >= width ? '='.repeat(width) + '>' : '='.repeat(filled) + '>' + ' '.repeat(width - filled - 1);
  return `[${bar}] ${humanSize(current).padStart(8)}/${humanSize(total)}`;
}

/** One progress event as Docker's JSON message (key order as Go's jsonmessage.JSONMessage). */
export function toProgressMessage(event: ProgressEvent): Record<string, unknown> {
  const msg: Record<string, unknown> = {};
  if (event.stream !== undefined) msg['stream'] = event.stream;
  if (event.status !== undefined) msg['status'] = event.status;
  if (event.current !== undefined || event.detail) {
    const detail: Record<string, number> = {};
    if (event.current !== undefined) detail['current'] = event.current;
    if (event.total !== undefined && event.total > 0) detail['total'] = event.total;
    msg['progressDetail'] = detail;
    if (event.current !== undefined) msg['progress'] = progressBar(event.current, event.total ?? 0);
  }
  if (event.id !== undefined) msg['id'] = event.id;
  if (event.aux !== undefined) msg['aux'] = event.aux;
  return msg;
}

/** An error inside a stream that already started (`{"errorDetail":{"message"},"error"}`). */
export function toStreamError(message: string): Record<string, unknown> {
  return { errorDetail: { message }, error: message };
}
