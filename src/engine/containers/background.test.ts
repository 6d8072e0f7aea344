import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { Logger } from '../../util/log.js';
import { initialState, type ContainerRecord } from './model.js';
import { Container, ContainerService, type ContainerServiceDeps } from './service.js';

/** A service with nothing behind it but a logger that records errors: enough for its background work. */
function service(): { svc: ContainerService; errors: string[] } {
  const errors: string[] = [];
  const logger = { error: (_obj: unknown, msg: string) => errors.push(msg) } as unknown as Logger;
  return { svc: new ContainerService({ logger } as unknown as ContainerServiceDeps), errors };
}

function container(): Container {
  return new Container({ ID: 'c'.repeat(64), Name: '/c' } as unknown as ContainerRecord, initialState());
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('background work of the container service', () => {
  it('is awaited by settled(), including work it starts itself', async () => {
    const { svc } = service();
    const order: string[] = [];
    svc.runInBackground(
      async () => {
        await new Promise((r) => setTimeout(r, 20));
        order.push('first');
        svc.runInBackground(
          async () => {
            await new Promise((r) => setTimeout(r, 20));
            order.push('second');
          },
          { what: 'nested' },
        );
      },
      { what: 'outer' },
    );
    await svc.settled();
    assert.deepEqual(order, ['first', 'second']);
    await svc.settled(); // nothing left: resolves at once
  });

  it("begins a container's work only once the operation in progress on it is done", async () => {
    const { svc } = service();
    const c = container();
    const order: string[] = [];
    const gate = deferred();
    const op = c.serialize(async () => {
      svc.runInBackground(
        () => {
          order.push('background');
          return Promise.resolve();
        },
        { container: c, what: 'cleanup' },
      );
      await gate.promise;
      order.push('operation done');
    });
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(order, [], 'nothing runs while the operation waits');
    gate.resolve();
    await op;
    await svc.settled();
    assert.deepEqual(order, ['operation done', 'background']);
  });

  it('logs a failure instead of throwing it', async () => {
    const { svc, errors } = service();
    svc.runInBackground(() => Promise.reject(new Error('umount: busy')), { what: 'unmounting' });
    await svc.settled();
    assert.deepEqual(errors, ['unmounting failed']);
  });
});
