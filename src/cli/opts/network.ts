/**
 * Network flags as the docker CLI reads them: `--dns`, `--dns-search`,
 * `--add-host`, `--ip`, `-p`/`--publish` (go-connections/nat), `--expose`,
 * and `--network` with its CSV form (`name=n,alias=a,ip=…`).
 */
import { isIP } from 'node:net';

/**
 * Go's net.ParseIP followed by String(): the canonical text of an IPv4 or
 * IPv6 address (`0:0::1` is `::1`, `::ffff:1.2.3.4` is `1.2.3.4`), or
 * undefined when it is not an address.
 */
export function canonicalIp(value: string): string | undefined {
  const kind = isIP(value);
  if (kind === 4) return value;
  if (kind !== 6 || value.includes('%')) return undefined;
  let host: string;
  try {
    host = new URL(`http://[${value}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (mapped) {
    const hi = parseInt(mapped[1] ?? '0', 16);
    const lo = parseInt(mapped[2] ?? '0', 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return host;
}

/**
 * docker's ValidateIPAddress (`--dns`): the canonical address; spaces around it are allowed.
 * @throws Error `IP address is not correctly formatted: x`.
 */
export function validateIpAddress(value: string): string {
  const ip = canonicalIp(value.trim());
  if (ip === undefined) throw new Error(`IP address is not correctly formatted: ${value}`);
  return ip;
}

const DOMAIN_RE =
  /^(:?(:?[a-zA-Z0-9]|(:?[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))(:?\.(:?[a-zA-Z0-9]|(:?[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])))*)\.?\s*$/;

/**
 * docker's ValidateDNSSearch: a domain, or `.` for none.
 * @throws Error `x is not a valid domain`.
 */
export function validateDnsSearch(value: string): string {
  const v = value.replace(/^ +| +$/g, '');
  if (v === '.') return v;
  if (!/[a-zA-Z]/.test(v)) throw new Error(`${v} is not a valid domain`);
  const m = DOMAIN_RE.exec(v);
  if (m && (m[1] ?? '').length < 255) return m[1] ?? '';
  throw new Error(`${v} is not a valid domain`);
}

/**
 * docker's ValidateExtraHost (`--add-host`): `host:ip` or `host=ip` (an IPv6
 * address may be bracketed), or `host:host-gateway`; sent as `host:ip`.
 * @throws Error `bad format for add-host: "x"` or `invalid IP address in add-host: "x"`.
 */
export function validateExtraHost(value: string): string {
  let sep = value.indexOf('=');
  if (sep === -1) sep = value.indexOf(':');
  const host = sep === -1 ? value : value.slice(0, sep);
  let ip = sep === -1 ? '' : value.slice(sep + 1);
  if (sep === -1 || host === '' || host.includes(':')) {
    throw new Error(`bad format for add-host: ${JSON.stringify(value)}`);
  }
  if (ip !== 'host-gateway') {
    if (ip.length > 2 && ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
    if (canonicalIp(ip.trim()) === undefined) {
      throw new Error(`invalid IP address in add-host: ${JSON.stringify(ip)}`);
    }
  }
  return `${host}:${ip}`;
}

// ---------------------------------------------------------------------------
// CSV (Go's encoding/csv, one record)

/**
 * Splits one CSV record as Go's encoding/csv reads it: fields separated by
 * commas, a field may be double-quoted (`""` is a quote inside it).
 * @throws Error `parse error on line 1, column N: bare " in non-quoted-field` and the like.
 */
export function parseCsvRecord(line: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let field = '';
      let j = i + 1;
      for (;;) {
        if (j >= line.length)
          throw new Error(`parse error on line 1, column ${j + 1}: extraneous or missing " in quoted-field`);
        if (line[j] === '"') {
          if (line[j + 1] === '"') {
            field += '"';
            j += 2;
            continue;
          }
          j++;
          break;
        }
        field += line[j];
        j++;
      }
      if (j < line.length && line[j] !== ',') {
        throw new Error(`parse error on line 1, column ${j + 1}: extraneous or missing " in quoted-field`);
      }
      fields.push(field);
      if (j >= line.length) break;
      i = j + 1;
    } else {
      const comma = line.indexOf(',', i);
      const field = comma === -1 ? line.slice(i) : line.slice(i, comma);
      const quote = field.indexOf('"');
      if (quote !== -1)
        throw new Error(`parse error on line 1, column ${i + quote + 1}: bare " in non-quoted-field`);
      fields.push(field);
      if (comma === -1) break;
      i = comma + 1;
    }
  }
  return fields;
}

// ---------------------------------------------------------------------------
// Ports

function parsePortNumber(raw: string): number {
  if (raw === '') throw new Error('value is empty');
  if (!/^[+-]?\d+$/.test(raw)) throw new Error('invalid syntax');
  const n = Number(raw);
  if (n < 0 || n > 65535) throw new Error('value out of range (0\u201365535)');
  return n;
}

/** go-connections' parsePortRange: `80` or `8000-8010`. */
function parsePortRange(ports: string): [number, number] {
  if (ports === '') throw new Error('empty string specified for ports');
  const dash = ports.indexOf('-');
  const start = dash === -1 ? ports : ports.slice(0, dash);
  const end = dash === -1 ? '' : ports.slice(dash + 1);
  let startPort: number;
  try {
    startPort = parsePortNumber(start);
  } catch (err) {
    throw new Error(`invalid start port '${start}': ${(err as Error).message}`, { cause: err });
  }
  if (dash === -1 || start === end) return [startPort, startPort];
  let endPort: number;
  try {
    endPort = parsePortNumber(end);
  } catch (err) {
    throw new Error(`invalid end port '${end}': ${(err as Error).message}`, { cause: err });
  }
  if (endPort < startPort) throw new Error(`invalid port range: ${ports}`);
  return [startPort, endPort];
}

/** One published port: `80/tcp` bound to `HostIp:HostPort`. */
export interface PortMapping {
  port: string;
  binding: { HostIp: string; HostPort: string };
}

function splitParts(raw: string): [string, string, string] {
  const parts = raw.split(':');
  switch (parts.length) {
    case 1:
      return ['', '', parts[0] ?? ''];
    case 2:
      return ['', parts[0] ?? '', parts[1] ?? ''];
    case 3:
      return [parts[0] ?? '', parts[1] ?? '', parts[2] ?? ''];
    default: {
      const n = parts.length;
      return [parts.slice(0, n - 2).join(':'), parts[n - 2] ?? '', parts[n - 1] ?? ''];
    }
  }
}

/**
 * go-connections' ParsePortSpec: `[ip:][hostPort:]containerPort[/proto]`
 * with ranges (`8000-8010:80-90`) into one mapping per container port.
 * @throws Error `no port specified: …`, `invalid proto: x`, `invalid containerPort: x`…
 */
export function parsePortSpec(raw: string): PortMapping[] {
  const [rawIp, hostPort, rawContainerPort] = splitParts(raw);
  let ip = rawIp;
  let containerPort = rawContainerPort;
  const slash = containerPort.indexOf('/');
  let proto = slash === -1 ? '' : containerPort.slice(slash + 1);
  containerPort = slash === -1 ? containerPort : containerPort.slice(0, slash);
  if (containerPort === '') throw new Error(`no port specified: ${raw}<empty>`);
  if (proto === '') proto = 'tcp';
  proto = proto.toLowerCase();
  if (!['tcp', 'udp', 'sctp'].includes(proto)) throw new Error(`invalid proto: ${proto}`);
  if (ip !== '' && ip.startsWith('[')) {
    const close = ip.indexOf(']');
    if (close === -1 || close !== ip.length - 1) {
      throw new Error(`invalid IP address ${ip}: address ${ip}: missing ']' in address`);
    }
    ip = ip.slice(1, -1);
  }
  if (ip !== '' && canonicalIp(ip) === undefined) throw new Error(`invalid IP address: ${ip}`);
  let start: number;
  let end: number;
  try {
    [start, end] = parsePortRange(containerPort);
  } catch {
    throw new Error(`invalid containerPort: ${containerPort}`);
  }
  let hostStart = 0;
  let hostEnd = 0;
  if (hostPort !== '') {
    try {
      [hostStart, hostEnd] = parsePortRange(hostPort);
    } catch {
      throw new Error(`invalid hostPort: ${hostPort}`);
    }
    if (end - start !== hostEnd - hostStart && end !== start) {
      throw new Error(
        `invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`,
      );
    }
  }
  const count = end - start + 1;
  const out: PortMapping[] = [];
  for (let i = 0; i < count; i++) {
    let hPort = '';
    if (hostPort !== '') {
      hPort = String(hostStart + i);
      if (count === 1 && hostStart !== hostEnd) hPort += `-${hostEnd}`;
    }
    out.push({ port: `${start + i}/${proto}`, binding: { HostIp: ip, HostPort: hPort } });
  }
  return out;
}

/**
 * docker's convertToStandardNotation: the long `-p` syntax
 * (`published=8080,target=80,protocol=udp`) as `8080:80/udp`.
 * @throws Error `invalid publish opts format (should be name=value but got 'x')`.
 */
export function convertToStandardNotation(ports: readonly string[]): string[] {
  return ports.map((publish) => {
    if (!publish.includes('=')) return publish;
    const params: Record<string, string> = { protocol: 'tcp' };
    for (const param of publish.split(',')) {
      const eq = param.indexOf('=');
      if (eq <= 0) throw new Error(`invalid publish opts format (should be name=value but got '${param}')`);
      params[param.slice(0, eq)] = param.slice(eq + 1);
    }
    return `${params['published'] ?? ''}:${params['target'] ?? ''}/${params['protocol'] ?? ''}`;
  });
}

/** The exposed ports and bindings of `-p` values (nat.ParsePortSpecs). */
export function parsePortSpecs(specs: readonly string[]): {
  exposed: string[];
  bindings: Record<string, { HostIp: string; HostPort: string }[]>;
} {
  const exposed: string[] = [];
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const spec of specs) {
    for (const m of parsePortSpec(spec)) {
      if (!exposed.includes(m.port)) exposed.push(m.port);
      (bindings[m.port] ??= []).push(m.binding);
    }
  }
  return { exposed, bindings };
}

/**
 * docker's `--expose` values (go-connections nat.SplitProtoPort and
 * ParsePortRange): `80`, `80/udp`, `8000-8010/tcp` as the list of ports
 * they cover.
 * @throws Error `invalid port format for --expose: x` (a colon), or the
 *   range's error (`strconv.ParseUint: parsing "x": invalid syntax`).
 */
export function parseExposeRange(value: string): string[] {
  if (value.includes(':')) throw new Error(`invalid port format for --expose: ${value}`);
  const slash = value.indexOf('/');
  const range = slash === -1 ? value : value.slice(0, slash);
  const proto = slash === -1 || value.slice(slash + 1) === '' ? 'tcp' : value.slice(slash + 1);
  if (range === '') throw new Error('empty string specified for ports');
  const uint16 = (raw: string): number => {
    if (!/^\d+$/.test(raw))
      throw new Error(`strconv.ParseUint: parsing ${JSON.stringify(raw)}: invalid syntax`);
    const n = Number(raw);
    if (n > 65535) throw new Error(`strconv.ParseUint: parsing ${JSON.stringify(raw)}: value out of range`);
    return n;
  };
  const parts = range.split('-');
  const s = uint16(parts[0] ?? '');
  const e = parts.length === 1 ? s : uint16(parts[1] ?? '');
  if (e < s) throw new Error(`invalid range specified for port: ${range}`);
  const out: string[] = [];
  for (let p = s; p <= e; p++) out.push(`${p}/${proto}`);
  return out;
}

/**
 * The API's ParsePort (`docker port CONTAINER 80`): `80` is `80/tcp`.
 * @throws Error `invalid port 'x': invalid syntax`.
 */
export function parsePort(value: string): string {
  if (value === '') throw new Error('invalid port: value is empty');
  const slash = value.indexOf('/');
  const port = slash === -1 ? value : value.slice(0, slash);
  const proto = slash === -1 || value.slice(slash + 1) === '' ? 'tcp' : value.slice(slash + 1).toLowerCase();
  if (port === '') throw new Error(`invalid port '${port}': value is empty`);
  if (!/^\d+$/.test(port)) throw new Error(`invalid port '${port}': invalid syntax`);
  if (Number(port) > 65535) throw new Error(`invalid port '${port}': value out of range`);
  return `${Number(port)}/${proto}`;
}

// ---------------------------------------------------------------------------
// --network

/** One `--network` value (docker's NetworkAttachmentOpts). */
export interface NetworkAttachment {
  target: string;
  aliases: string[];
  driverOpts?: Record<string, string>;
  links?: string[];
  ipv4Address?: string;
  ipv6Address?: string;
  linkLocalIps?: string[];
  macAddress?: string;
  gwPriority?: number;
}

/**
 * docker's NetworkOpt.Set: a network name, or the CSV form
 * `name=n,alias=a,ip=…,ip6=…,mac-address=…,link-local-ip=…,driver-opt=k=v,gw-priority=n`.
 * @throws Error `invalid field key x`, `network name/id is not specified`…
 */
export function parseNetworkOpt(value: string): NetworkAttachment {
  if (!/\w+=\w+(,\w+=\w+)*/.test(value)) return { target: value, aliases: [] };
  const opt: NetworkAttachment = { target: '', aliases: [] };
  for (const field of parseCsvRecord(value)) {
    const lower = field.toLowerCase();
    const eq = lower.indexOf('=');
    if (eq <= 0) throw new Error(`invalid field ${field}`);
    const key = lower.slice(0, eq).trim();
    const val = lower.slice(eq + 1).trim();
    const addr = (): string => {
      const ip = canonicalIp(val);
      if (ip === undefined) throw new Error(`ParseAddr(${JSON.stringify(val)}): unable to parse IP`);
      return ip;
    };
    switch (key) {
      case 'name':
        opt.target = val;
        break;
      case 'alias':
        opt.aliases.push(val);
        break;
      case 'ip':
        opt.ipv4Address = addr();
        break;
      case 'ip6':
        opt.ipv6Address = addr();
        break;
      case 'mac-address':
        opt.macAddress = val;
        break;
      case 'link-local-ip':
        (opt.linkLocalIps ??= []).push(addr());
        break;
      case 'driver-opt': {
        const e = val.indexOf('=');
        if (e <= 0) throw new Error('invalid key value pair format in driver options');
        (opt.driverOpts ??= {})[val.slice(0, e).trim()] = val.slice(e + 1).trim();
        break;
      }
      case 'gw-priority':
        if (!/^[+-]?\d+$/.test(val)) throw new Error(`invalid gw-priority (${val}): invalid syntax`);
        opt.gwPriority = Number(val);
        break;
      default:
        throw new Error(`invalid field key ${key}`);
    }
  }
  if (opt.target.length === 0) throw new Error('network name/id is not specified');
  return opt;
}

/** container.NetworkMode(n).IsUserDefined(): not default, bridge, host, none or container:…. */
export function isUserDefinedNetwork(mode: string): boolean {
  if (['default', 'bridge', 'host', 'none'].includes(mode)) return false;
  const colon = mode.indexOf(':');
  return !(colon !== -1 && mode.slice(0, colon) === 'container');
}

/** Go's net.ParseMAC for the usual colon or dash separated 6-byte form. */
export function isMacAddress(value: string): boolean {
  return /^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}$/.test(value.trim());
}
