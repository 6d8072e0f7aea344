import { BerthClient, resolveHost } from '../client/client.js';

/** What every command gets: a lazily created client and the output streams. */
export interface CliContext {
  client(): BerthClient;
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

/** `hostFlag` is read when the first command needs the daemon, after flags are parsed. */
export function createContext(hostFlag: () => string | undefined): CliContext {
  let client: BerthClient | undefined;
  return {
    client: () => (client ??= new BerthClient(resolveHost(hostFlag()))),
    out: process.stdout,
    err: process.stderr,
  };
}

/** A failure with the exit status the docker CLI uses for it (64 for bad --format templates). */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
    this.name = 'CliError';
  }
}
