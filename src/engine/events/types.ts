/**
 * The engine's event record. It mirrors Docker's events.Message, minus the
 * legacy `status`/`id`/`from` fields, which the API layer back-fills.
 *
 * `timeNano` is a bigint: Unix nanoseconds do not fit in a JS number
 * (2^53 ≈ 9e15 < 1.7e18), and clients compare them exactly.
 */
export type EventType = 'container' | 'image' | 'volume' | 'network' | 'plugin' | 'daemon' | 'builder';

export const EVENT_TYPES: readonly EventType[] = [
  'container',
  'image',
  'volume',
  'network',
  'plugin',
  'daemon',
  'builder',
];

export interface EventActor {
  ID: string;
  Attributes: Record<string, string>;
}

export interface EngineEvent {
  /** Monotonic sequence number assigned by the bus; unique within a data root. */
  seq: number;
  Type: EventType;
  Action: string;
  Actor: EventActor;
  scope: 'local' | 'swarm';
  /** Unix nanoseconds. */
  timeNano: bigint;
}

/** What publishers hand to the bus; it adds seq and time. */
export interface EventInput {
  Type: EventType;
  Action: string;
  Actor: EventActor;
  scope?: 'local' | 'swarm';
}
