import type { Logger } from '../../util/log.js';
import { nowNano } from '../../util/time.js';
import type { EngineEvent, EventInput } from './types.js';

/** Where published events are kept for replay (the on-disk journal, or nothing). */
export interface EventStore {
  /** The highest sequence number stored so far (0 when empty). */
  readonly lastSeq: number;
  append(ev: EngineEvent): void;
  read(range: { sinceNano?: bigint; untilNano?: bigint }): Iterable<EngineEvent> | AsyncIterable<EngineEvent>;
}

export interface EventStreamOptions {
  /** Replay stored events from this time on (Unix ns); without it only new events are sent. */
  sinceNano?: bigint | undefined;
  /** Stop at this time (Unix ns); if already past, only stored events are sent. */
  untilNano?: bigint | undefined;
  filter: (ev: EngineEvent) => boolean;
  signal: AbortSignal;
}

/** Live events queued for one slow subscriber before it is cut off. */
const MAX_QUEUED = 65_536;

/**
 * The one event bus every engine service publishes through. Each event gets
 * a sequence number and a time, is appended to the store, then handed to
 * live subscribers. `stream()` joins replay and live delivery without gaps or
 * duplicates: it subscribes first, replays stored events up to the sequence
 * number it saw at subscription, then drains what arrived meanwhile.
 */
export class EventBus {
  private seq: number;
  private readonly listeners = new Set<(ev: EngineEvent) => void>();

  private readonly store: EventStore | undefined;

  private readonly logger: Logger;

  private readonly clock: () => bigint;

  constructor(store: EventStore | undefined, logger: Logger, clock: () => bigint = nowNano) {
    this.store = store;

    this.logger = logger;

    this.clock = clock;
    this.seq = store?.lastSeq ?? 0;
  }

  get lastSeq(): number {
    return this.seq;
  }

  get subscriberCount(): number {
    return this.listeners.size;
  }

  publish(input: EventInput): EngineEvent {
    const ev: EngineEvent = {
      seq: ++this.seq,
      Type: input.Type,
      Action: input.Action,
      Actor: { ID: input.Actor.ID, Attributes: { ...input.Actor.Attributes } },
      scope: input.scope ?? 'local',
      timeNano: this.clock(),
    };
    try {
      this.store?.append(ev);
    } catch (err) {
      this.logger.error({ err }, 'event journal append failed; event delivered live only');
    }
    for (const listener of this.listeners) {
      try {
        listener(ev);
      } catch (err) {
        this.logger.error({ err }, 'event listener failed');
      }
    }
    return ev;
  }

  /** Live events only. Returns the unsubscribe function. */
  subscribe(listener: (ev: EngineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Replayed then live events matching the options, until `untilNano`, abort, or overflow. */
  async *stream(options: EventStreamOptions): AsyncGenerator<EngineEvent> {
    const { sinceNano, untilNano, filter, signal } = options;
    const queue: EngineEvent[] = [];
    let overflowed = false;
    let wake: (() => void) | undefined;
    const unsubscribe = this.subscribe((ev) => {
      if (queue.length >= MAX_QUEUED) overflowed = true;
      else queue.push(ev);
      wake?.();
    });
    const replayedUpTo = this.seq;
    const inRange = (ev: EngineEvent): boolean =>
      (sinceNano === undefined || ev.timeNano >= sinceNano) &&
      (untilNano === undefined || ev.timeNano <= untilNano);

    try {
      if (sinceNano !== undefined && this.store) {
        for await (const ev of this.store.read({ sinceNano, untilNano })) {
          if (signal.aborted || ev.seq > replayedUpTo) break;
          if (inRange(ev) && filter(ev)) yield ev;
        }
      }
      if (untilNano !== undefined && untilNano <= this.clock()) return;

      const untilTimer =
        untilNano === undefined
          ? undefined
          : setTimeout(() => wake?.(), Math.max(0, Number((untilNano - this.clock()) / 1_000_000n)) + 1);
      const onAbort = (): void => wake?.();
      signal.addEventListener('abort', onAbort);
      try {
        for (;;) {
          while (queue.length > 0) {
            const ev = queue.shift() as EngineEvent;
            if (ev.seq <= replayedUpTo) continue;
            if (untilNano !== undefined && ev.timeNano > untilNano) return;
            if (inRange(ev) && filter(ev)) yield ev;
            if (signal.aborted) return;
          }
          if (signal.aborted) return;
          if (untilNano !== undefined && untilNano <= this.clock()) return;
          if (overflowed) {
            this.logger.warn('event subscriber fell too far behind; closing its stream');
            return;
          }
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
        }
      } finally {
        clearTimeout(untilTimer);
        signal.removeEventListener('abort', onAbort);
      }
    } finally {
      unsubscribe();
    }
  }
}
