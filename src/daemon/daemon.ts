import { mkdir, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

import { ApiServer, prepareUnixSocketPath } from '../api/server.js';
import { allRoutes } from '../api/routes/index.js';
import { buildStamp } from '../build-info.js';
import { Engine } from '../engine/engine.js';
import { UnavailableError } from '../errors.js';
import { writeFileAtomic } from '../storage/atomic.js';
import type { Logger } from '../util/log.js';
import { parseHost, type DaemonConfig } from './config.js';
import { DataRootLock, processIdentity } from './lock.js';

/**
 * One running berthd: the data-root lock, the pid file, the engine and the
 * API listeners, started and stopped in order.
 */
export class Daemon {
  private stopping: Promise<void> | undefined;

  private readonly config: DaemonConfig;
  private readonly logger: Logger;
  private readonly lock: DataRootLock;
  readonly engine: Engine;
  private readonly api: ApiServer;

  private constructor(
    config: DaemonConfig,
    logger: Logger,
    lock: DataRootLock,
    engine: Engine,
    api: ApiServer,
  ) {
    this.config = config;
    this.logger = logger;
    this.lock = lock;
    this.engine = engine;
    this.api = api;
  }

  static async start(config: DaemonConfig, logger: Logger): Promise<Daemon> {
    const addresses = config.hosts.map(parseHost);
    await mkdir(config.engine.dataRoot, { recursive: true, mode: 0o711 });
    const lock = await DataRootLock.acquire(config.engine.dataRoot);
    // Refuse a socket another daemon serves before the engine touches the host (bridges, iptables).
    try {
      for (const address of addresses) if (address.kind === 'unix') await prepareUnixSocketPath(address.path);
    } catch (err) {
      await lock.release();
      throw err;
    }
    let engine: Engine | undefined;
    try {
      await writePidFile(config.pidfile);
      engine = await Engine.start(config.engine, buildStamp(), logger);
      const api = new ApiServer({
        routes: allRoutes(engine),
        logger,
        serverHeader: `berth/${buildStamp().version} (linux)`,
        experimental: config.engine.experimental,
      });
      const gid = await groupId(config.group);
      if (gid === undefined) {
        logger.info(
          { group: config.group },
          'socket group not found; sockets stay root-only (0660 root:root)',
        );
      }
      for (const address of addresses) {
        if (address.kind === 'unix') {
          await mkdir(dirname(address.path), { recursive: true, mode: 0o755 });
          await api.listen({ ...address, mode: 0o660, gid });
          logger.info({ path: address.path }, `API listen on ${address.path}`);
        } else {
          logger.warn(
            { host: address.host, port: address.port },
            'API listening on TCP without TLS: anyone who can reach it controls the host',
          );
          await api.listen(address);
          logger.info(`API listen on ${address.host}:${api.tcpPort() ?? address.port}`);
        }
      }
      logger.info({ version: buildStamp().version, dataRoot: config.engine.dataRoot }, 'berthd started');
      return new Daemon(config, logger, lock, engine, api);
    } catch (err) {
      await engine?.stop().catch(() => undefined);
      await removePidFile(config.pidfile);
      await lock.release();
      throw err;
    }
  }

  /** Re-reads configuration (SIGHUP). */
  async reload(next: DaemonConfig): Promise<void> {
    await this.engine.reload(next.engine);
    this.logger.level = next.logLevel;
    this.logger.info('configuration reloaded');
  }

  /**
   * Graceful stop: stop accepting, let in-flight requests finish within the
   * shutdown timeout, close streams, remove sockets and the pid file, release
   * the lock. Containers keep running. Safe to call more than once.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.logger.info('berthd shutting down');
      await this.api.close(this.config.shutdownTimeout * 1000);
      await this.engine.stop();
      await removePidFile(this.config.pidfile);
      await this.lock.release();
      this.logger.info('berthd stopped');
    })();
    return this.stopping;
  }
}

/** Writes the pid file; a pid file of a live process means another daemon owns it. */
async function writePidFile(path: string): Promise<void> {
  const existing = (await readFile(path, 'utf8').catch(() => '')).trim();
  const pid = Number.parseInt(existing, 10);
  if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && (await processIdentity(pid)) !== undefined) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes('berthd')) {
      throw new UnavailableError(`pid file found, ensure berthd is not running or delete ${path}`);
    }
  }
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, `${process.pid}`, 0o644);
}

async function removePidFile(path: string): Promise<void> {
  const content = (await readFile(path, 'utf8').catch(() => '')).trim();
  if (content === String(process.pid)) await unlink(path).catch(() => undefined);
}

/** The gid of a group in /etc/group, or undefined if there is none. */
async function groupId(name: string): Promise<number | undefined> {
  if (/^\d+$/.test(name)) return Number(name);
  const text = await readFile('/etc/group', 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const [group, , gid] = line.split(':');
    if (group === name && gid !== undefined) return Number(gid);
  }
  return undefined;
}
