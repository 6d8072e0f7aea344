import { pino, type Logger } from 'pino';

export type { Logger };

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

/** The daemon's logger: JSON lines on stderr, as journald and docker log collectors expect. */
export function createLogger(level: LogLevel, destination: number = 2): Logger {
  return pino({ level, base: { pid: process.pid } }, pino.destination({ fd: destination, sync: true }));
}

/** A logger that drops everything, for tests and embedded use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
