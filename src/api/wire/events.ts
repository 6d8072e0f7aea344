import type { EngineEvent } from '../../engine/events/types.js';
import { nanoToSeconds } from '../../util/time.js';

/**
 * One event as Docker's JSON message. API versions before 1.52 carry the
 * legacy `status`/`id`/`from` fields on container and image events (the
 * docker CLI up to v25 reads them); all of berth's versions are below 1.52.
 * The text is built by hand so `timeNano` keeps all its digits.
 */
export function toEventJson(ev: EngineEvent): string {
  const legacy: Record<string, string> = {};
  if (ev.Type === 'container' || ev.Type === 'image') {
    legacy['status'] = ev.Action;
    legacy['id'] = ev.Actor.ID;
    const from = ev.Type === 'container' ? ev.Actor.Attributes['image'] : undefined;
    if (from) legacy['from'] = from;
  }
  const head = JSON.stringify({
    ...legacy,
    Type: ev.Type,
    Action: ev.Action,
    Actor: { ID: ev.Actor.ID, Attributes: ev.Actor.Attributes },
    scope: ev.scope,
    time: nanoToSeconds(ev.timeNano),
  });
  return `${head.slice(0, -1)},"timeNano":${ev.timeNano.toString()}}`;
}
