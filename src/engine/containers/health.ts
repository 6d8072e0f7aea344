import type { ExecService } from './exec.js';
import type { HealthLogEntry } from './model.js';
import type { Container, ContainerService } from './service.js';

const NS_PER_MS = 1_000_000;
const DEFAULT_INTERVAL_MS = 30_000;
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_RETRIES = 3;
const MAX_LOG_ENTRIES = 5;
const MAX_OUTPUT = 4096;

/** The command a Healthcheck.Test runs, or undefined when there is no check. */
export function healthCommand(test: readonly string[] | undefined): string[] | undefined {
  if (!test || test.length === 0) return undefined;
  const [kind, ...rest] = test;
  if (kind === 'NONE') return undefined;
  if (kind === 'CMD') return rest.length > 0 ? rest : undefined;
  if (kind === 'CMD-SHELL') return ['/bin/sh', '-c', rest.join(' ')];
  return undefined;
}

/**
 * Docker's health checks: while a container with a Healthcheck runs, its
 * test is run as an exec every Interval (StartInterval during the start
 * period); the state goes starting → healthy on success and → unhealthy
 * after Retries consecutive failures (failures inside StartPeriod do not
 * count); each change publishes `health_status: <status>`.
 */
export class HealthChecker {
  private readonly containers: ContainerService;
  private readonly execs: ExecService;

  constructor(containers: ContainerService, execs: ExecService) {
    this.containers = containers;
    this.execs = execs;
    containers.startListeners.push((c) => this.schedule(c, true));
  }

  /** Re-arms checks for containers re-adopted at daemon start. */
  resume(c: Container): void {
    if (c.state.Status === 'running') this.schedule(c, false);
  }

  private schedule(c: Container, fresh: boolean): void {
    clearTimeout(c.healthTimer);
    const hc = c.record.Config.Healthcheck;
    const command = healthCommand(hc?.Test);
    if (!command) return;
    if (fresh) c.state.Health = { Status: 'starting', FailingStreak: 0, Log: [] };
    const interval = (hc?.Interval ?? 0) > 0 ? (hc?.Interval ?? 0) / NS_PER_MS : DEFAULT_INTERVAL_MS;
    const startInterval = (hc?.StartInterval ?? 0) > 0 ? (hc?.StartInterval ?? 0) / NS_PER_MS : interval;
    const inStartPeriod = (): boolean =>
      Date.now() - Date.parse(c.state.StartedAt) < (hc?.StartPeriod ?? 0) / NS_PER_MS;
    const tick = (): void => {
      if (c.state.Status !== 'running' && c.state.Status !== 'paused') return;
      void this.probe(c, command, inStartPeriod())
        .catch(() => undefined)
        .finally(() => {
          if (c.state.Status === 'running' || c.state.Status === 'paused') {
            c.healthTimer = setTimeout(tick, inStartPeriod() ? startInterval : interval);
            c.healthTimer.unref();
          }
        });
    };
    c.healthTimer = setTimeout(tick, inStartPeriod() ? startInterval : interval);
    c.healthTimer.unref();
  }

  private async probe(c: Container, command: string[], startPeriod: boolean): Promise<void> {
    if (c.state.Status !== 'running') return;
    const hc = c.record.Config.Healthcheck;
    const timeoutMs = (hc?.Timeout ?? 0) > 0 ? (hc?.Timeout ?? 0) / NS_PER_MS : DEFAULT_TIMEOUT_MS;
    const retries = (hc?.Retries ?? 0) > 0 ? (hc?.Retries ?? 0) : DEFAULT_RETRIES;
    const start = new Date();
    let output = '';
    let exitCode: number;
    try {
      const execId = this.execs.create(c.id, { Cmd: command, AttachStdout: true, AttachStderr: true });
      const started = await this.execs.start(execId, { detach: false });
      const collect = (async () => {
        for await (const chunk of started.output ?? []) {
          if (output.length < MAX_OUTPUT) output += chunk.data.toString('utf8');
        }
      })();
      const timedOut = new Promise<number>((resolve) => setTimeout(() => resolve(-1), timeoutMs).unref());
      exitCode = await Promise.race([started.exitCode, timedOut]);
      if (exitCode === -1) {
        started.connection?.close();
        output = `Health check exceeded timeout (${timeoutMs / 1000}s)`;
      } else {
        await collect;
      }
    } catch (err) {
      exitCode = -1;
      output = (err as Error).message;
    }
    const health = c.state.Health ?? { Status: 'starting' as const, FailingStreak: 0, Log: [] };
    const entry: HealthLogEntry = {
      Start: start.toISOString(),
      End: new Date().toISOString(),
      ExitCode: exitCode,
      Output: output.slice(0, MAX_OUTPUT),
    };
    const log = [...health.Log, entry].slice(-MAX_LOG_ENTRIES);
    const previous = health.Status;
    let status = health.Status;
    let streak = health.FailingStreak;
    if (exitCode === 0) {
      status = 'healthy';
      streak = 0;
    } else if (!startPeriod) {
      streak += 1;
      if (streak >= retries) status = 'unhealthy';
    }
    c.state.Health = { Status: status, FailingStreak: streak, Log: log };
    await this.containers.save(c);
    if (status !== previous || (status === 'unhealthy' && exitCode !== 0 && streak === retries)) {
      this.containers.publish(c, `health_status: ${status}`);
    }
  }
}
