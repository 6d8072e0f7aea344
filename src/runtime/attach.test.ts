// The attach client against a fake conmon: a SOCK_SEQPACKET server that
// speaks conmon's attach protocol.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeqpacketServer, type SeqpacketSocket } from 'node-unix-socket';
import { errorKind } from '../errors.js';
import { MAX_STDIN_PACKET, attachContainer } from './attach.js';

interface FakeConmon {
  server: SeqpacketServer;
  path: string;
  /** The server side of the next connection. */
  accepted: Promise<{ socket: SeqpacketSocket; packets: Buffer[]; shutWr: Promise<void> }>;
}

function packet(id: number, text: string): Buffer {
  return Buffer.concat([Buffer.from([id]), Buffer.from(text)]);
}

function fakeConmon(path: string): FakeConmon {
  const server = new SeqpacketServer();
  const accepted = new Promise<{ socket: SeqpacketSocket; packets: Buffer[]; shutWr: Promise<void> }>(
    (resolve) => {
      server.once('connection', (socket: SeqpacketSocket) => {
        const packets: Buffer[] = [];
        socket.on('data', (b: Buffer) => packets.push(Buffer.from(b)));
        socket.on('error', () => undefined);
        const shutWr = new Promise<void>((r) => socket.once('end', () => r()));
        resolve({ socket, packets, shutWr });
      });
    },
  );
  server.listen(path);
  return { server, path, accepted };
}

function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (cond()) resolve();
      else if (Date.now() > deadline) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(tick, 10);
    };
    tick();
  });
}

describe('attachContainer (fake conmon)', () => {
  let dir = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-attach-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('demultiplexes output, chunks stdin, half-closes and sees EOF', async () => {
    const fake = fakeConmon(join(dir, 'a1'));
    try {
      const attach = await attachContainer(fake.path);
      const conn = await fake.accepted;
      // Sent before any listener is attached: buffered, not lost.
      conn.socket.write(packet(2, 'early'));
      await new Promise((r) => setTimeout(r, 50));
      const out: string[] = [];
      const err: string[] = [];
      attach.on('stdout', (c) => out.push(c.toString()));
      attach.on('stderr', (c) => err.push(c.toString()));
      conn.socket.write(packet(3, 'oops'));
      conn.socket.write(packet(1, 'ignored'));
      conn.socket.write(packet(2, 'more'));
      await until(() => out.length === 2 && err.length === 1, 'output');
      assert.deepEqual(out, ['early', 'more']);
      assert.deepEqual(err, ['oops']);

      const big = Buffer.alloc(MAX_STDIN_PACKET * 2 + 100, 7);
      await attach.write(big);
      await attach.write('tail');
      await until(() => conn.packets.length === 4, 'stdin packets');
      assert.deepEqual(
        conn.packets.map((p) => p.length),
        [MAX_STDIN_PACKET, MAX_STDIN_PACKET, 100, 4],
      );
      assert.ok(Buffer.concat(conn.packets.slice(0, 3)).equals(big));

      await attach.closeStdin();
      await conn.shutWr;
      await assert.rejects(attach.write('after shut'), (e: unknown) => errorKind(e) === 'conflict');
      // conmon still sends output after SHUT_WR, then closes when the container exits.
      conn.socket.write(packet(2, 'bye'));
      await until(() => out.length === 3, 'output after SHUT_WR');
      conn.socket.destroy();
      await attach.ended;
      assert.equal(attach.closed, true);
      assert.deepEqual(out, ['early', 'more', 'bye']);
    } finally {
      fake.server.close();
    }
  });

  it('close() ends the connection from our side', async () => {
    const fake = fakeConmon(join(dir, 'a2'));
    try {
      const attach = await attachContainer(fake.path);
      const conn = await fake.accepted;
      let ended = false;
      attach.on('end', () => (ended = true));
      attach.close();
      await attach.ended;
      assert.ok(ended);
      await conn.shutWr;
    } finally {
      fake.server.close();
    }
  });

  it('reaches sockets whose path is longer than sun_path', async () => {
    const deep = join(dir, 'x'.repeat(60), 'y'.repeat(60));
    await mkdir(deep, { recursive: true });
    const fake = fakeConmon(join(dir, 'a3'));
    try {
      const longPath = join(deep, 'attach');
      assert.ok(Buffer.byteLength(longPath) > 108);
      await rename(fake.path, longPath);
      const attach = await attachContainer(longPath);
      const conn = await fake.accepted;
      const out: string[] = [];
      attach.on('stdout', (c) => out.push(c.toString()));
      conn.socket.write(packet(2, 'far'));
      await until(() => out.length === 1, 'output');
      assert.deepEqual(out, ['far']);
      attach.close();
      await attach.ended;
    } finally {
      fake.server.close();
    }
  });

  it('reports a missing socket as a conflict (container not running)', async () => {
    await assert.rejects(attachContainer(join(dir, 'missing')), (e: unknown) => errorKind(e) === 'conflict');
  });
});
