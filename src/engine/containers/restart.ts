import type { ContainerState, RestartPolicy } from './model.js';

/** Docker's restart back-off: 100 ms doubling per restart, capped at one minute; reset after 10 s of running. */
export const BACKOFF_START_MS = 100;
export const BACKOFF_MAX_MS = 60_000;
export const BACKOFF_RESET_AFTER_MS = 10_000;

/**
 * Whether a container that just exited should be restarted under its policy,
 * as moby's restartmanager decides: never after an explicit stop (kill,
 * stop, daemon-side removal); `always` and `unless-stopped` on any exit;
 * `on-failure` on a non-zero exit while under MaximumRetryCount (0 = no limit).
 */
export function shouldRestart(policy: RestartPolicy, state: ContainerState, exitCode: number): boolean {
  if (state.ManuallyStopped) return false;
  switch (policy.Name) {
    case 'always':
    case 'unless-stopped':
      return true;
    case 'on-failure':
      return (
        exitCode !== 0 && (policy.MaximumRetryCount === 0 || state.RestartCount < policy.MaximumRetryCount)
      );
    default:
      return false;
  }
}

/** The delay before the next restart, given the previous delay and how long the container ran. */
export function nextBackoff(previousMs: number, ranForMs: number): number {
  if (ranForMs >= BACKOFF_RESET_AFTER_MS || previousMs <= 0) return BACKOFF_START_MS;
  return Math.min(previousMs * 2, BACKOFF_MAX_MS);
}

/** Whether a container should be started when the daemon starts (after a reboot or a crash). */
export function startOnDaemonStart(policy: RestartPolicy, state: ContainerState): boolean {
  if (policy.Name === 'always') return !state.ManuallyStopped || state.Status === 'running';
  if (policy.Name === 'unless-stopped') return !state.ManuallyStopped;
  return false;
}
