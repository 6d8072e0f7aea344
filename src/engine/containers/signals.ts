/**
 * Signals as the Docker API names them: `kill`, `stop` and `StopSignal`
 * take `TERM`, `SIGTERM` or `15` alike; events report the number.
 */
import { InvalidParameterError } from '../../errors.js';

const SIGNALS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGSTKFLT: 16,
  SIGCHLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGURG: 23,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGVTALRM: 26,
  SIGPROF: 27,
  SIGWINCH: 28,
  SIGIO: 29,
  SIGPWR: 30,
  SIGSYS: 31,
};

/** `TERM`, `SIGTERM`, `15` → `SIGTERM`; unknown → 400 as Docker says it. */
export function normalizeSignal(signal: string): string {
  const s = signal.trim().toUpperCase();
  if (/^\d+$/.test(s)) {
    const name = Object.entries(SIGNALS).find(([, n]) => n === Number(s))?.[0];
    if (!name) throw new InvalidParameterError(`Invalid signal: ${signal}`);
    return name;
  }
  const name = s.startsWith('SIG') ? s : `SIG${s}`;
  if (!(name in SIGNALS) && !/^SIGRTM(IN|AX)([+-]\d+)?$/.test(name))
    throw new InvalidParameterError(`Invalid signal: ${signal}`);
  return name;
}

/** The number of a signal name (`SIGTERM` → 15); 0 for real-time signals, which have none fixed here. */
export function signalNumber(name: string): number {
  return SIGNALS[name] ?? 0;
}
