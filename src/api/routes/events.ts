import type { EventStreamOptions } from '../../engine/events/bus.js';
import { EVENT_FILTER_NAMES, eventMatches } from '../../engine/events/filter.js';
import type { EngineEvent } from '../../engine/events/types.js';
import { InvalidParameterError } from '../../errors.js';
import { FilterArgs } from '../../util/filters.js';
import { nowNano, parseGoDuration, parseUnixTimestamp } from '../../util/time.js';
import { JsonLinesStream } from '../streams/json-lines.js';
import type { RequestContext, Route } from '../router.js';
import { lessThan } from '../version.js';
import { toEventJson } from '../wire/events.js';

/** What the events route needs from the engine. */
export interface EventsBackend {
  stream(options: EventStreamOptions): AsyncGenerator<EngineEvent>;
}

/**
 * Reads `since`/`until`: Unix seconds with an optional fraction, as the
 * docker CLI sends them, or a Go duration meaning that long ago.
 */
export function parseEventTime(name: 'since' | 'until', raw: string | null, now: bigint): bigint | undefined {
  if (raw === null || raw === '') return undefined;
  const unix = parseUnixTimestamp(raw);
  if (unix !== undefined) return unix;
  const ago = parseGoDuration(raw);
  if (ago !== undefined) return now - ago;
  throw new InvalidParameterError(`invalid value for '${name}': invalid timestamp "${raw}"`);
}

async function getEvents(backend: EventsBackend, ctx: RequestContext): Promise<void> {
  const now = nowNano();
  const since = parseEventTime('since', ctx.query.get('since'), now);
  const until = parseEventTime('until', ctx.query.get('until'), now);
  if (since !== undefined && until !== undefined && until < since) {
    throw new InvalidParameterError(
      `\`since\` time (${ctx.query.get('since')}) cannot be after \`until\` time (${ctx.query.get('until')})`,
    );
  }
  const filters = FilterArgs.fromJSON(ctx.query.get('filters'));
  filters.validate(EVENT_FILTER_NAMES);

  // Image `create` events exist from API 1.46 on; older clients never saw them.
  const hideImageCreate = lessThan(ctx.apiVersion, '1.46');
  const stream = new JsonLinesStream(ctx.res, ctx.signal);
  stream.open('application/json');
  const events = backend.stream({
    sinceNano: since,
    untilNano: until,
    filter: (ev) =>
      !(hideImageCreate && ev.Type === 'image' && ev.Action === 'create') && eventMatches(filters, ev),
    signal: ctx.signal,
  });
  try {
    for await (const ev of events) {
      if (!(await stream.writeRaw(toEventJson(ev)))) break;
    }
  } finally {
    await events.return(undefined);
    stream.end();
  }
}

export function eventRoutes(backend: EventsBackend): Route[] {
  return [{ method: 'GET', path: '/events', handler: (ctx) => getEvents(backend, ctx) }];
}
