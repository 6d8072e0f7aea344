import { logFiles, readLogs, type LogMessage } from '../../runtime/logs.js';
import { LogRotator, parseLogOpts } from '../../runtime/log-rotation.js';
import { ConflictError } from '../../errors.js';
import type { AttachConnection } from './driver.js';
import type { Container, ContainerService } from './service.js';

/** One piece of container output. */
export interface OutputChunk {
  stream: 'stdout' | 'stderr';
  data: Buffer;
  timeNano?: bigint;
}

export interface LogsOptions {
  stdout: boolean;
  stderr: boolean;
  follow: boolean;
  sinceNano?: bigint | undefined;
  untilNano?: bigint | undefined;
  tail: number;
  signal: AbortSignal;
}

function rotationSettings(c: Container): { maxSize: number; maxFiles: number } {
  const type = c.record.HostConfig.LogConfig.Type;
  const opts = parseLogOpts(c.record.HostConfig.LogConfig.Config, type === 'local' ? 'local' : 'json-file');
  return { maxSize: opts.maxSize, maxFiles: opts.maxFiles };
}

/**
 * Container output: logs from the k8s-file log conmon writes (rotated by
 * the daemon per max-size/max-file) and live output from conmon's attach
 * socket. Nothing here knows about HTTP; the API layer frames what it gets.
 */
/**
 * The stdout/stderr chunks of an attach connection, in arrival order, until
 * the connection ends; `closeWhenDone` closes it when the consumer stops.
 */
export function attachOutput(
  connection: AttachConnection,
  options: { closeWhenDone: boolean },
): AsyncGenerator<OutputChunk> {
  const queue: OutputChunk[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  connection.on('stdout', (data) => {
    queue.push({ stream: 'stdout', data });
    wake?.();
  });
  connection.on('stderr', (data) => {
    queue.push({ stream: 'stderr', data });
    wake?.();
  });
  void connection.ended.then(() => {
    ended = true;
    wake?.();
  });
  return (async function* (): AsyncGenerator<OutputChunk> {
    try {
      for (;;) {
        while (queue.length > 0) yield queue.shift() as OutputChunk;
        if (ended) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    } finally {
      if (options.closeWhenDone) connection.close();
    }
  })();
}

export class ContainerIO {
  private readonly containers: ContainerService;
  private readonly rotators = new Map<string, LogRotator>();

  constructor(containers: ContainerService) {
    this.containers = containers;
    containers.rotation = (c) => this.rotate(c);
  }

  async *logs(c: Container, options: LogsOptions): AsyncGenerator<OutputChunk> {
    if (c.record.HostConfig.LogConfig.Type === 'none') {
      throw new ConflictError('configured logging driver does not support reading');
    }
    const { maxFiles } = rotationSettings(c);
    const files = await logFiles(this.containers.logPath(c), Math.max(1, maxFiles));
    const messages: AsyncGenerator<LogMessage> = readLogs(files, {
      stdout: options.stdout,
      stderr: options.stderr,
      sinceNano: options.sinceNano,
      untilNano: options.untilNano,
      tail: options.tail,
      follow: options.follow,
      isRunning: () => c.running || c.state.Status === 'restarting',
      signal: options.signal,
    });
    for await (const m of messages) yield { stream: m.stream, data: m.data, timeNano: m.timeNano };
  }

  /**
   * Live output of a running (or just-created) container through conmon's
   * attach socket, plus a way to write its stdin. For a container that has
   * not started yet, connects as soon as conmon is up, before the process runs.
   */
  async attach(
    c: Container,
  ): Promise<{ output: AsyncIterable<OutputChunk>; connection: AttachConnection } | undefined> {
    if (c.state.Status === 'removing' || c.state.Status === 'dead') return undefined;
    const bundle = await this.containers.awaitAttachSocket(c);
    if (bundle === '') return undefined;
    const connection = await this.containers.deps.driver.attach(bundle);
    const output = attachOutput(connection, { closeWhenDone: true });
    return { output, connection };
  }

  /** Rotates the container's log once it passes max-size (called on a timer while it runs). */
  private async rotate(c: Container): Promise<void> {
    let rotator = this.rotators.get(c.id);
    if (!rotator) {
      const { maxSize, maxFiles } = rotationSettings(c);
      if (maxSize < 0) return;
      rotator = new LogRotator({
        logPath: this.containers.logPath(c),
        maxSize,
        maxFiles,
        reopen: () => this.containers.deps.driver.reopenLog(this.containers.bundleDir(c)),
      });
      this.rotators.set(c.id, rotator);
    }
    if (!c.running) {
      this.rotators.delete(c.id);
      return;
    }
    await rotator.check();
  }
}
