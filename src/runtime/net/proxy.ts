/**
 * A userland port proxy (docker-proxy's role). A published port needs it
 * wherever DNAT cannot help:
 * - connections to 127.0.0.1 (the kernel never routes loopback-addressed
 *   packets to another interface, so the DNAT rule does not apply),
 * - a container reaching its own network's published port (hairpin; the DNAT
 *   rule skips traffic from the container's bridge),
 * - and it holds the host port, so nothing else can bind it while the
 *   mapping exists (and `hostPort: 0` picks a free one).
 *
 * TCP: each accepted connection gets its own connection to the container and
 * bytes are piped both ways, with half-close (a FIN from one side is passed
 * on while the other direction keeps flowing). A container that refuses the
 * connection makes the client's connection reset.
 *
 * UDP: datagrams from each client address:port go through a per-client
 * socket connected to the container, so replies come back to the right
 * client. A session expires after `udpIdleTimeoutMs` without traffic either
 * way (Docker uses 90 s).
 */
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, isIP, isIPv6, type Server, type Socket } from 'node:net';

import { ConflictError, InvalidParameterError, SystemError } from '../../errors.js';

export interface ProxyOptions {
  proto: 'tcp' | 'udp';
  /** The host address to listen on; `0.0.0.0` (or `::`) for all. */
  hostIp: string;
  /** 0 picks a free port; the actual one is `Proxy.port`. */
  hostPort: number;
  containerIp: string;
  containerPort: number;
  /** UDP sessions idle this long are closed. Default 90 s. */
  udpIdleTimeoutMs?: number;
  /** At most this many UDP sessions; the oldest is closed to make room. Default 4096. */
  udpMaxSessions?: number;
  /** A TCP connection to the container not established by then resets the client. Default 30 s. */
  connectTimeoutMs?: number;
}

export interface Proxy {
  readonly proto: 'tcp' | 'udp';
  readonly hostIp: string;
  /** The port actually bound. */
  readonly port: number;
  /** Open TCP connections or live UDP sessions. */
  active(): number;
  /** Stops listening and drops every connection or session. Idempotent. */
  close(): Promise<void>;
}

function validate(options: ProxyOptions): void {
  if (options.proto !== 'tcp' && options.proto !== 'udp') {
    throw new InvalidParameterError(`invalid protocol ${String(options.proto)}`);
  }
  if (isIP(options.hostIp) === 0) throw new InvalidParameterError(`invalid host IP ${options.hostIp}`);
  if (isIP(options.containerIp) === 0) {
    throw new InvalidParameterError(`invalid container IP ${options.containerIp}`);
  }
  if (!Number.isInteger(options.hostPort) || options.hostPort < 0 || options.hostPort > 65535) {
    throw new InvalidParameterError(`invalid host port ${options.hostPort}`);
  }
  if (
    !Number.isInteger(options.containerPort) ||
    options.containerPort < 1 ||
    options.containerPort > 65535
  ) {
    throw new InvalidParameterError(`invalid container port ${options.containerPort}`);
  }
}

function bindError(err: unknown, options: ProxyOptions): Error {
  const code = (err as NodeJS.ErrnoException).code;
  const where = `${options.hostIp}:${options.hostPort}`;
  if (code === 'EADDRINUSE') {
    return new ConflictError(`Bind for ${where} failed: port is already allocated`, { cause: err });
  }
  if (code === 'EADDRNOTAVAIL') {
    return new InvalidParameterError(`Bind for ${where} failed: cannot assign requested address`, {
      cause: err,
    });
  }
  return new SystemError(`Bind for ${where} failed: ${(err as Error).message}`, { cause: err });
}

/** Starts a proxy; resolves once it is listening. */
export async function startProxy(options: ProxyOptions): Promise<Proxy> {
  validate(options);
  return options.proto === 'tcp' ? startTcpProxy(options) : startUdpProxy(options);
}

// ---------------------------------------------------------------------------
// TCP

async function startTcpProxy(options: ProxyOptions): Promise<Proxy> {
  const sockets = new Set<Socket>();
  const clients = new Set<Socket>();
  const connectTimeoutMs = options.connectTimeoutMs ?? 30_000;

  const onConnection = (client: Socket): void => {
    sockets.add(client);
    clients.add(client);
    const upstream = connect({ host: options.containerIp, port: options.containerPort, allowHalfOpen: true });
    sockets.add(upstream);
    let connected = false;
    const timer = setTimeout(() => {
      if (!connected) upstream.destroy(new Error('connect timeout'));
    }, connectTimeoutMs);
    timer.unref();

    const teardown = (): void => {
      clearTimeout(timer);
      if (!connected) {
        // Mirror "connection refused" to the client as a reset.
        client.resetAndDestroy();
      } else {
        client.destroy();
      }
      upstream.destroy();
    };
    client.on('error', teardown);
    upstream.on('error', teardown);
    client.on('close', () => {
      sockets.delete(client);
      clients.delete(client);
      if (!connected) upstream.destroy();
    });
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('connect', () => {
      connected = true;
      clearTimeout(timer);
      client.setNoDelay(true);
      upstream.setNoDelay(true);
      // pipe() ends the destination when the source ends: that forwards a
      // FIN while the other direction stays open (both sockets allow half-open).
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
  };

  const server: Server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, onConnection);
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(bindError(err, options));
    server.once('error', onError);
    server.listen({ host: options.hostIp, port: options.hostPort, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  // Accept errors (EMFILE, ...) must not crash the daemon; the server keeps listening.
  server.on('error', () => undefined);
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.hostPort;

  let closing: Promise<void> | undefined;
  return {
    proto: 'tcp',
    hostIp: options.hostIp,
    port,
    active: () => clients.size,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        sockets.clear();
        clients.clear();
      });
      return closing;
    },
  };
}

// ---------------------------------------------------------------------------
// UDP

interface UdpSession {
  socket: UdpSocket;
  lastActive: number;
  ready: boolean;
  pending: Buffer[];
}

async function startUdpProxy(options: ProxyOptions): Promise<Proxy> {
  const idleMs = options.udpIdleTimeoutMs ?? 90_000;
  const maxSessions = options.udpMaxSessions ?? 4096;
  const sessions = new Map<string, UdpSession>();
  const server = createSocket({ type: isIPv6(options.hostIp) ? 'udp6' : 'udp4' });
  const upstreamType = isIPv6(options.containerIp) ? 'udp6' : 'udp4';

  const closeSession = (key: string): void => {
    const session = sessions.get(key);
    if (session === undefined) return;
    sessions.delete(key);
    try {
      session.socket.close();
    } catch {
      // already closed
    }
  };

  const openSession = (key: string, client: RemoteInfo): UdpSession => {
    while (sessions.size >= maxSessions) {
      const oldest = sessions.keys().next();
      if (oldest.done === true) break;
      closeSession(oldest.value);
    }
    const socket = createSocket({ type: upstreamType });
    const session: UdpSession = { socket, lastActive: Date.now(), ready: false, pending: [] };
    sessions.set(key, session);
    socket.on('message', (reply) => {
      session.lastActive = Date.now();
      server.send(reply, client.port, client.address);
    });
    // ICMP port unreachable shows up as ECONNREFUSED on the connected socket;
    // the client will retry or give up, so just forget the session.
    socket.on('error', () => closeSession(key));
    socket.connect(options.containerPort, options.containerIp, () => {
      session.ready = true;
      for (const datagram of session.pending) socket.send(datagram);
      session.pending = [];
    });
    return session;
  };

  server.on('message', (datagram, client) => {
    const key = `${client.address}|${client.port}`;
    const session = sessions.get(key) ?? openSession(key, client);
    session.lastActive = Date.now();
    if (session.ready) session.socket.send(datagram);
    else if (session.pending.length < 64) session.pending.push(datagram);
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(bindError(err, options));
    server.once('error', onError);
    server.bind({ address: options.hostIp, port: options.hostPort, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', () => undefined);
  const port = server.address().port;

  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const [key, session] of sessions) if (now - session.lastActive >= idleMs) closeSession(key);
    },
    Math.max(50, Math.min(idleMs / 2, 10_000)),
  );
  sweep.unref();

  let closing: Promise<void> | undefined;
  return {
    proto: 'udp',
    hostIp: options.hostIp,
    port,
    active: () => sessions.size,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        clearInterval(sweep);
        for (const key of [...sessions.keys()]) closeSession(key);
        server.close(() => resolve());
      });
      return closing;
    },
  };
}
