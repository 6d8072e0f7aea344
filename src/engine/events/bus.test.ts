import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { silentLogger } from '../../util/log.js';
import { EventBus, type EventStore } from './bus.js';
import type { EngineEvent } from './types.js';

class MemoryStore implements EventStore {
  readonly events: EngineEvent[] = [];
  get lastSeq(): number {
    return this.events.at(-1)?.seq ?? 0;
  }
  append(ev: EngineEvent): void {
    this.events.push(ev);
  }
  *read(range: { sinceNano?: bigint; untilNano?: bigint }): Iterable<EngineEvent> {
    for (const ev of this.events) {
      if (range.sinceNano !== undefined && ev.timeNano < range.sinceNano) continue;
      if (range.untilNano !== undefined && ev.timeNano > range.untilNano) continue;
      yield ev;
    }
  }
}

function manualClock(start: bigint): { now: () => bigint; advance: (ns: bigint) => void } {
  let t = start;
  return {
    now: () => t,
    advance: (ns) => {
      t += ns;
    },
  };
}

const daemonEvent = (action: string) => ({
  Type: 'daemon' as const,
  Action: action,
  Actor: { ID: 'd', Attributes: {} },
});
const all = (): boolean => true;

async function take(it: AsyncGenerator<EngineEvent>, n: number): Promise<EngineEvent[]> {
  const out: EngineEvent[] = [];
  while (out.length < n) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

describe('EventBus', () => {
  it('numbers events, stamps time and stores them', () => {
    const store = new MemoryStore();
    const clock = manualClock(1000n);
    const bus = new EventBus(store, silentLogger(), clock.now);
    const a = bus.publish(daemonEvent('start'));
    clock.advance(5n);
    const b = bus.publish(daemonEvent('reload'));
    assert.deepEqual([a.seq, b.seq], [1, 2]);
    assert.deepEqual([a.timeNano, b.timeNano], [1000n, 1005n]);
    assert.equal(a.scope, 'local');
    assert.equal(store.events.length, 2);
  });

  it('continues numbering from the store', () => {
    const store = new MemoryStore();
    new EventBus(store, silentLogger()).publish(daemonEvent('start'));
    const again = new EventBus(store, silentLogger());
    assert.equal(again.publish(daemonEvent('stop')).seq, 2);
  });

  it('replays since a time and then streams live events, without duplicates', async () => {
    const store = new MemoryStore();
    const clock = manualClock(100n);
    const bus = new EventBus(store, silentLogger(), clock.now);
    bus.publish(daemonEvent('old'));
    clock.advance(100n);
    bus.publish(daemonEvent('start'));
    const controller = new AbortController();
    const it = bus.stream({ sinceNano: 150n, filter: all, signal: controller.signal });
    const first = await take(it, 1);
    bus.publish(daemonEvent('reload'));
    const next = await take(it, 1);
    assert.deepEqual(
      [...first, ...next].map((e) => e.Action),
      ['start', 'reload'],
    );
    controller.abort();
    assert.equal((await it.next()).done, true);
    assert.equal(bus.subscriberCount, 0);
  });

  it('sends only live events without since', async () => {
    const bus = new EventBus(new MemoryStore(), silentLogger());
    bus.publish(daemonEvent('before'));
    const controller = new AbortController();
    const it = bus.stream({ filter: all, signal: controller.signal });
    const pending = take(it, 1);
    bus.publish(daemonEvent('after'));
    assert.deepEqual(
      (await pending).map((e) => e.Action),
      ['after'],
    );
    controller.abort();
    await it.return(undefined);
  });

  it('ends after replay when until is in the past', async () => {
    const store = new MemoryStore();
    const clock = manualClock(100n);
    const bus = new EventBus(store, silentLogger(), clock.now);
    bus.publish(daemonEvent('a'));
    clock.advance(10n);
    bus.publish(daemonEvent('b'));
    clock.advance(10n);
    bus.publish(daemonEvent('c'));
    const it = bus.stream({
      sinceNano: 0n,
      untilNano: 110n,
      filter: all,
      signal: new AbortController().signal,
    });
    const got = await take(it, 10);
    assert.deepEqual(
      got.map((e) => e.Action),
      ['a', 'b'],
    );
  });

  it('ends a live stream once until passes', async () => {
    const bus = new EventBus(new MemoryStore(), silentLogger());
    const until = BigInt(Date.now() + 50) * 1_000_000n;
    const it = bus.stream({ untilNano: until, filter: all, signal: new AbortController().signal });
    const got = await take(it, 10);
    assert.equal(got.length, 0);
  });

  it('applies the filter to replayed and live events', async () => {
    const bus = new EventBus(new MemoryStore(), silentLogger());
    bus.publish(daemonEvent('start'));
    bus.publish(daemonEvent('reload'));
    const controller = new AbortController();
    const it = bus.stream({ sinceNano: 0n, filter: (e) => e.Action === 'reload', signal: controller.signal });
    const first = await take(it, 1);
    bus.publish(daemonEvent('stop'));
    bus.publish(daemonEvent('reload'));
    const second = await take(it, 1);
    assert.deepEqual([first[0]?.seq, second[0]?.seq], [2, 4]);
    controller.abort();
    await it.return(undefined);
  });

  it('keeps delivering live events when the store fails', () => {
    const failing: EventStore = {
      lastSeq: 0,
      append: () => {
        throw new Error('disk full');
      },
      read: () => [],
    };
    const bus = new EventBus(failing, silentLogger());
    const seen: string[] = [];
    bus.subscribe((e) => seen.push(e.Action));
    bus.publish(daemonEvent('start'));
    assert.deepEqual(seen, ['start']);
  });
});
