import type { ProgressEvent, ProgressSink } from '../../engine/images/progress.js';
import { errorMessage } from '../../errors.js';
import type { RequestContext } from '../router.js';
import { toProgressMessage, toStreamError } from '../wire/progress.js';
import { JsonLinesStream } from './json-lines.js';

/**
 * Runs a long operation that reports progress as Docker's JSON-message
 * stream (pull, push, load, import). The response starts with the first
 * message; an error before that is an ordinary HTTP error (the status tells
 * the client), an error after it goes into the stream as
 * `{"errorDetail":{"message"},"error"}`, as dockerd does.
 */
export async function streamProgress(
  ctx: RequestContext,
  run: (sink: ProgressSink) => Promise<void>,
): Promise<void> {
  const stream = new JsonLinesStream(ctx.res, ctx.signal);
  let opened = false;
  const sink: ProgressSink = (event: ProgressEvent) => {
    if (!opened) {
      stream.open('application/json');
      opened = true;
    }
    void stream.write(toProgressMessage(event));
  };
  try {
    await run(sink);
  } catch (err) {
    if (!opened) throw err;
    await stream.write(toStreamError(errorMessage(err)));
  }
  if (!opened) {
    stream.open('application/json');
    opened = true;
  }
  stream.end();
}
