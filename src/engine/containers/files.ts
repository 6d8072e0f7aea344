import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The files Docker writes for every container and bind-mounts into it:
 * /etc/hosts, /etc/hostname and /etc/resolv.conf, and the init layer that
 * holds their mount points (so they never show up in `docker diff`).
 */

const BASE_HOSTS = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
];

/** /etc/hosts as Docker writes it: the defaults, extra hosts, then the container's own address line. */
export function hostsFile(extraHosts: readonly string[], own?: { ip: string; names: string[] }): string {
  const lines = [...BASE_HOSTS];
  for (const entry of extraHosts) {
    const idx = entry.lastIndexOf(':');
    const sep = entry.indexOf('=') !== -1 ? entry.indexOf('=') : idx;
    if (sep <= 0) continue;
    const host = entry.slice(0, sep);
    const ip = entry.slice(sep + 1).replace(/^\[|\]$/g, '');
    lines.push(`${ip}\t${host}`);
  }
  if (own) lines.push(`${own.ip}\t${own.names.join(' ')}`);
  return lines.join('\n') + '\n';
}

/**
 * /etc/resolv.conf for a container: the host's, minus loopback nameservers
 * (they do not answer inside a network namespace), with Dns/DnsSearch/
 * DnsOptions overriding; Google's public servers when nothing is left, as
 * Docker does. With the host's network the host file is used as it is.
 */
export function resolvConf(
  hostText: string,
  overrides: { dns: readonly string[]; search: readonly string[]; options: readonly string[] },
  hostNetwork: boolean,
): string {
  const lines = hostText.split('\n');
  let nameservers = lines
    .filter((l) => /^\s*nameserver\s/.test(l))
    .map((l) => l.trim().split(/\s+/)[1] ?? '');
  let search = lines.filter((l) => /^\s*search\s/.test(l)).flatMap((l) => l.trim().split(/\s+/).slice(1));
  let options = lines.filter((l) => /^\s*options\s/.test(l)).flatMap((l) => l.trim().split(/\s+/).slice(1));
  if (!hostNetwork) nameservers = nameservers.filter((ns) => !/^127\./.test(ns) && ns !== '::1');
  if (overrides.dns.length > 0) nameservers = [...overrides.dns];
  if (overrides.search.length > 0) search = [...overrides.search];
  if (overrides.options.length > 0) options = [...overrides.options];
  if (nameservers.length === 0 && !hostNetwork) nameservers = ['8.8.8.8', '8.8.4.4'];
  const out: string[] = [];
  if (search.length > 0 && !(search.length === 1 && search[0] === '.'))
    out.push(`search ${search.join(' ')}`);
  for (const ns of nameservers) out.push(`nameserver ${ns}`);
  if (options.length > 0) out.push(`options ${options.join(' ')}`);
  return out.join('\n') + '\n';
}

/** Creates the init layer: mount points for the files berth bind-mounts, and the runtime's mount points. */
export async function writeInitLayer(dir: string): Promise<void> {
  for (const d of ['etc', 'dev/pts', 'dev/shm', 'proc', 'sys'])
    await mkdir(join(dir, d), { recursive: true, mode: 0o755 });
  for (const f of ['etc/hosts', 'etc/hostname', 'etc/resolv.conf'])
    await writeFile(join(dir, f), '', { mode: 0o644 });
}

/** Writes the container's hosts, hostname and resolv.conf into its directory. */
export async function writeContainerFiles(
  containerDir: string,
  hostname: string,
  domainname: string,
  extraHosts: readonly string[],
  dns: { dns: readonly string[]; search: readonly string[]; options: readonly string[] },
  hostNetwork: boolean,
): Promise<void> {
  const hostResolv = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  if (hostNetwork) {
    await writeFile(
      join(containerDir, 'hosts'),
      await readFile('/etc/hosts', 'utf8').catch(() => hostsFile(extraHosts)),
    );
  } else {
    await writeFile(join(containerDir, 'hosts'), hostsFile(extraHosts));
  }
  await writeFile(join(containerDir, 'hostname'), `${hostname}${domainname ? '' : ''}\n`);
  await writeFile(join(containerDir, 'resolv.conf'), resolvConf(hostResolv, dns, hostNetwork));
}
