import type { FilterArgs } from '../../util/filters.js';
import type { EngineEvent, EventType } from './types.js';

/** The filter names `GET /events` understands (moby's set). Others are refused. */
export const EVENT_FILTER_NAMES = [
  'type',
  'event',
  'container',
  'image',
  'volume',
  'network',
  'daemon',
  'plugin',
  'label',
  'scope',
  'node',
  'service',
  'secret',
  'config',
] as const;

/** Actions that carry a suffix after a colon (`exec_start: sh -c ...`), matched by prefix. */
const SUFFIXED_ACTIONS: ReadonlySet<string> = new Set(['health_status', 'exec_create', 'exec_start']);

/**
 * Whether an event passes the filters, with moby's semantics: every filter
 * name must match (AND), any value of one name may match (OR). Name filters
 * (`container=`, `network=`, ...) match the actor's ID or its `name`
 * attribute by prefix, and exclude events of other types; `image=` also
 * matches the `image` attribute of container events, with or without tag.
 */
export function eventMatches(filters: FilterArgs, ev: EngineEvent): boolean {
  return (
    matchAction(filters, ev.Action) &&
    filters.exactMatch('type', ev.Type) &&
    filters.exactMatch('scope', ev.scope) &&
    matchName(filters, ev, 'daemon') &&
    matchName(filters, ev, 'container') &&
    matchName(filters, ev, 'plugin') &&
    matchName(filters, ev, 'volume') &&
    matchName(filters, ev, 'network') &&
    matchImage(filters, ev) &&
    matchName(filters, ev, 'node') &&
    matchName(filters, ev, 'service') &&
    matchName(filters, ev, 'secret') &&
    matchName(filters, ev, 'config') &&
    (!filters.contains('label') || filters.matchKVList('label', ev.Actor.Attributes))
  );
}

function matchAction(filters: FilterArgs, action: string): boolean {
  if (filters.get('event').some((v) => SUFFIXED_ACTIONS.has(v))) return filters.fuzzyMatch('event', action);
  return filters.exactMatch('event', action);
}

function matchName(
  filters: FilterArgs,
  ev: EngineEvent,
  name: EventType | 'node' | 'service' | 'secret' | 'config',
): boolean {
  return filters.fuzzyMatch(name, ev.Actor.ID) || filters.fuzzyMatch(name, ev.Actor.Attributes['name'] ?? '');
}

function matchImage(filters: FilterArgs, ev: EngineEvent): boolean {
  const id = ev.Actor.ID;
  const imageName = ev.Actor.Attributes[ev.Type === 'image' ? 'name' : 'image'] ?? '';
  return (
    filters.exactMatch('image', id) ||
    filters.exactMatch('image', imageName) ||
    filters.exactMatch('image', familiarName(id)) ||
    filters.exactMatch('image', familiarName(imageName))
  );
}

/**
 * The short repository name of an image reference without tag or digest:
 * `docker.io/library/busybox:latest` → `busybox`, `localhost:5000/a/b:1` →
 * `localhost:5000/a/b`. Strings that are not references come back unchanged.
 */
export function familiarName(ref: string): string {
  if (ref === '' || /^(sha256:)?[a-f0-9]{64}$/.test(ref)) return ref;
  let name = ref;
  const at = name.indexOf('@');
  if (at !== -1) name = name.slice(0, at);
  const lastSlash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon > lastSlash) name = name.slice(0, colon);
  if (name.startsWith('docker.io/library/')) return name.slice('docker.io/library/'.length);
  if (name.startsWith('docker.io/')) return name.slice('docker.io/'.length);
  if (name.startsWith('index.docker.io/library/')) return name.slice('index.docker.io/library/'.length);
  return name;
}
