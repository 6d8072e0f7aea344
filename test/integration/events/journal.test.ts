import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';

import { berth, docker } from '../../helpers/cli.js';
import { TestDaemon } from '../../helpers/daemon.js';
import { waitFor } from '../../helpers/poll.js';

interface WireEvent {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: string;
  time: number;
  timeNano: string;
}

/** Reads the events stream until `until` passes; keeps timeNano as digits. */
async function pastEvents(socket: string, query: string): Promise<WireEvent[]> {
  const body = await new Promise<string>((resolve, reject) => {
    const req = request({ socketPath: socket, path: `/events?${query}` }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.end();
  });
  return body
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l.replace(/"timeNano":(\d+)/, '"timeNano":"$1"')) as WireEvent);
}

const nowSeconds = (): string => (Date.now() / 1000).toFixed(9);

describe('events survive daemon restarts', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await TestDaemon.start();
  });
  after(async () => {
    await daemon.cleanup();
  });

  it('keeps start, reload and stop across two restarts and a kill -9', async () => {
    const firstPid = daemon.pid;
    daemon.signal('SIGHUP');
    await waitFor(
      async () =>
        (await pastEvents(daemon.socket, `since=0&until=${nowSeconds()}`)).some((e) => e.Action === 'reload'),
      {
        what: 'the daemon reload event',
      },
    );
    assert.equal(await daemon.stop('SIGTERM'), 0);
    await daemon.launch();
    assert.notEqual(daemon.pid, firstPid);
    await daemon.stop('SIGKILL');
    await daemon.launch();

    const events = await pastEvents(daemon.socket, `since=0&until=${nowSeconds()}`);
    const daemonActions = events.filter((e) => e.Type === 'daemon').map((e) => e.Action);
    assert.deepEqual(daemonActions, ['start', 'reload', 'stop', 'start', 'start']);
    const ids = new Set(events.map((e) => e.Actor.ID));
    assert.equal(ids.size, 1, 'the daemon keeps its ID across restarts');
    for (const e of events) {
      assert.equal(e.scope, 'local');
      assert.equal(BigInt(e.timeNano) / 1_000_000_000n, BigInt(e.time));
      assert.ok(e.Actor.Attributes['name']);
    }
    const times = events.map((e) => BigInt(e.timeNano));
    assert.deepEqual(
      [...times].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
      times,
      'in time order',
    );
    const reload = events.find((e) => e.Action === 'reload');
    assert.equal(reload?.Actor.Attributes['debug'], 'false');
  });

  it('honours since and until windows', async () => {
    const all = await pastEvents(daemon.socket, `since=0&until=${nowSeconds()}`);
    const second = all[1];
    assert.ok(second);
    const since = `${BigInt(second.timeNano) / 1_000_000_000n}.${(BigInt(second.timeNano) % 1_000_000_000n).toString().padStart(9, '0')}`;
    const fromSecond = await pastEvents(daemon.socket, `since=${since}&until=${nowSeconds()}`);
    assert.equal(fromSecond[0]?.timeNano, second.timeNano);
    assert.equal(fromSecond.length, all.length - 1);
    const none = await pastEvents(daemon.socket, 'since=0&until=1');
    assert.equal(none.length, 0);
  });

  it('filters replayed events', async () => {
    const reloads = await pastEvents(
      daemon.socket,
      `since=0&until=${nowSeconds()}&filters=${encodeURIComponent('{"event":["reload"]}')}`,
    );
    assert.deepEqual(
      reloads.map((e) => e.Action),
      ['reload'],
    );
    const legacy = await pastEvents(
      daemon.socket,
      `since=0&until=${nowSeconds()}&filters=${encodeURIComponent('{"type":{"image":true}}')}`,
    );
    assert.equal(legacy.length, 0);
  });

  it('streams live events to docker and berth while they arrive', async () => {
    const untilSoon = String(Math.floor(Date.now() / 1000) + 4);
    const watchers = Promise.all([
      docker(daemon.host, [
        'events',
        '--filter',
        'type=daemon',
        '--until',
        untilSoon,
        '--format',
        '{{.Action}}',
      ]),
      berth(daemon.host, [
        'events',
        '--filter',
        'type=daemon',
        '--until',
        untilSoon,
        '--format',
        '{{.Type}} {{.Action}}',
      ]),
    ]);
    await waitFor(
      async () => {
        const info = JSON.parse(
          await new Promise<string>((resolve) => {
            request({ socketPath: daemon.socket, path: '/info' }, (res) => {
              let t = '';
              res.on('data', (d: Buffer) => (t += d.toString()));
              res.on('end', () => resolve(t));
            }).end();
          }),
        ) as { NEventsListener: number };
        return info.NEventsListener === 2;
      },
      { what: 'two event listeners' },
    );
    daemon.signal('SIGHUP');
    const [viaDocker, viaBerth] = await watchers;
    assert.equal(viaDocker.code, 0, viaDocker.stderr);
    assert.equal(viaDocker.stdout.trim(), 'reload');
    assert.equal(viaBerth.code, 0, viaBerth.stderr);
    assert.equal(viaBerth.stdout.trim(), 'daemon reload');
  });
});
