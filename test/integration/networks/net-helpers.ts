// What the network integration tests share: free loopback ports and the host's links.
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** One link of `ip -j link`. */
export interface Link {
  ifname: string;
  master?: string;
  link_kind?: string;
}

/** The host's links (`ip -j link`). */
export async function hostLinks(): Promise<Link[]> {
  const { stdout } = await exec('ip', ['-j', 'link']);
  return JSON.parse(stdout) as Link[];
}

/** `ip link del <name>`, ignoring a link that is already gone. */
export async function deleteLink(name: string): Promise<void> {
  await exec('ip', ['link', 'del', name]).catch(() => undefined);
}
