/**
 * A failure of the container flags' parse() (opts/container.ts): printed as
 * `berth: <message>` plus the help hint, status 125. On its own so that the
 * commands which only catch it need not load the flag parsers.
 */
export class ContainerFlagError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ContainerFlagError';
  }
}
