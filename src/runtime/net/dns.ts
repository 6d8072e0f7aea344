/**
 * A small DNS server for the containers of one network (the role of
 * Docker's embedded resolver), bound to the network's gateway address so
 * that only that network's containers reach it.
 *
 * - A queries for names the engine knows (its `resolve` callback returns an
 *   array) are answered from that array; the name is lower-cased and any
 *   trailing dot removed before the call, so lookups are case-insensitive.
 * - AAAA queries for known names return the callback's IPv6 addresses, or
 *   NOERROR with no answers (so resolvers do not go on to search domains or
 *   upstream), and so do other types for known names.
 * - PTR queries go to the optional `reverse` callback.
 * - Everything else is forwarded verbatim to the upstream servers in order
 *   (UDP queries over UDP, TCP queries over TCP); if none answers in time,
 *   the reply is SERVFAIL. A refused upstream (ICMP unreachable) fails fast.
 * - UDP answers are truncated (TC set) to 512 bytes or the client's EDNS
 *   buffer size; the client then asks again over TCP, which the server also
 *   serves on the same address and port.
 *
 * The wire format (RFC 1035, EDNS0 from RFC 6891) is implemented here:
 * `decodeMessage` reads headers, questions and records including
 * compression pointers, `encodeMessage` writes them (compressing names).
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { connect, createServer, isIP, isIPv4, isIPv6, type Server, type Socket } from 'node:net';

import { ConflictError, InvalidParameterError, SystemError } from '../../errors.js';

// ---------------------------------------------------------------------------
// Wire format

export const DnsType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  ANY: 255,
} as const;

export const DnsClass = { IN: 1, ANY: 255 } as const;

export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const;

export interface DnsFlags {
  /** Response (true) or query. */
  qr: boolean;
  opcode: number;
  /** Authoritative answer. */
  aa: boolean;
  /** Truncated. */
  tc: boolean;
  /** Recursion desired. */
  rd: boolean;
  /** Recursion available. */
  ra: boolean;
  rcode: number;
}

export interface DnsQuestion {
  /** Without the trailing dot; the root is ''. Case as on the wire. */
  name: string;
  type: number;
  class: number;
}

export interface DnsRecord {
  name: string;
  type: number;
  /** For OPT records: the sender's UDP payload size. */
  class: number;
  ttl: number;
  /**
   * A/AAAA: the address; CNAME/PTR/NS: the target name. When encoding, a
   * record with `value` gets its RDATA from it; otherwise `rdata` is used.
   */
  value?: string;
  rdata: Buffer;
}

export interface DnsMessage {
  id: number;
  flags: DnsFlags;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authorities: DnsRecord[];
  additionals: DnsRecord[];
}

/** A malformed message. */
export class DnsFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DnsFormatError';
  }
}

const HEADER = 12;

export function decodeFlags(value: number): DnsFlags {
  return {
    qr: (value & 0x8000) !== 0,
    opcode: (value >> 11) & 0xf,
    aa: (value & 0x0400) !== 0,
    tc: (value & 0x0200) !== 0,
    rd: (value & 0x0100) !== 0,
    ra: (value & 0x0080) !== 0,
    rcode: value & 0xf,
  };
}

export function encodeFlags(flags: DnsFlags): number {
  return (
    (flags.qr ? 0x8000 : 0) |
    ((flags.opcode & 0xf) << 11) |
    (flags.aa ? 0x0400 : 0) |
    (flags.tc ? 0x0200 : 0) |
    (flags.rd ? 0x0100 : 0) |
    (flags.ra ? 0x0080 : 0) |
    (flags.rcode & 0xf)
  );
}

/** Reads a (possibly compressed) name at `offset`; returns it and the offset after it in place. */
export function readName(buf: Buffer, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let pos = offset;
  let next = -1;
  let length = 0;
  for (let jumps = 0; ;) {
    if (pos >= buf.length) throw new DnsFormatError('name runs past the end of the message');
    const len = buf[pos];
    if (len === 0) {
      if (next < 0) next = pos + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= buf.length) throw new DnsFormatError('truncated compression pointer');
      if (++jumps > 64) throw new DnsFormatError('compression pointer loop');
      if (next < 0) next = pos + 2;
      pos = ((len & 0x3f) << 8) | buf[pos + 1];
      continue;
    }
    if ((len & 0xc0) !== 0) throw new DnsFormatError(`unsupported label type 0x${len.toString(16)}`);
    if (pos + 1 + len > buf.length) throw new DnsFormatError('label runs past the end of the message');
    length += len + 1;
    if (length > 255) throw new DnsFormatError('name longer than 255 bytes');
    labels.push(buf.toString('latin1', pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  return { name: labels.join('.'), next };
}

function readRecord(buf: Buffer, offset: number): { record: DnsRecord; next: number } {
  const { name, next } = readName(buf, offset);
  if (next + 10 > buf.length) throw new DnsFormatError('truncated resource record');
  const type = buf.readUInt16BE(next);
  const klass = buf.readUInt16BE(next + 2);
  const ttl = buf.readUInt32BE(next + 4);
  const rdlength = buf.readUInt16BE(next + 8);
  const start = next + 10;
  if (start + rdlength > buf.length) throw new DnsFormatError('RDATA runs past the end of the message');
  const rdata = Buffer.from(buf.subarray(start, start + rdlength));
  const record: DnsRecord = { name, type, class: klass, ttl, rdata };
  if (type === DnsType.A && rdlength === 4) record.value = [...rdata].join('.');
  else if (type === DnsType.AAAA && rdlength === 16) record.value = formatIpv6(rdata);
  else if (type === DnsType.CNAME || type === DnsType.PTR || type === DnsType.NS) {
    record.value = readName(buf, start).name;
  }
  return { record, next: start + rdlength };
}

export function decodeMessage(buf: Buffer): DnsMessage {
  if (buf.length < HEADER) throw new DnsFormatError('message shorter than its header');
  const counts = [buf.readUInt16BE(4), buf.readUInt16BE(6), buf.readUInt16BE(8), buf.readUInt16BE(10)];
  let pos = HEADER;
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < counts[0]; i++) {
    const { name, next } = readName(buf, pos);
    if (next + 4 > buf.length) throw new DnsFormatError('truncated question');
    questions.push({ name, type: buf.readUInt16BE(next), class: buf.readUInt16BE(next + 2) });
    pos = next + 4;
  }
  const sections: DnsRecord[][] = [[], [], []];
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s + 1]; i++) {
      const { record, next } = readRecord(buf, pos);
      sections[s].push(record);
      pos = next;
    }
  }
  return {
    id: buf.readUInt16BE(0),
    flags: decodeFlags(buf.readUInt16BE(2)),
    questions,
    answers: sections[0],
    authorities: sections[1],
    additionals: sections[2],
  };
}

class Writer {
  private chunks: Buffer[] = [];
  length = 0;
  private readonly names = new Map<string, number>();

  bytes(b: Buffer): void {
    this.chunks.push(b);
    this.length += b.length;
  }

  u16(v: number): void {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(v);
    this.bytes(b);
  }

  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v >>> 0);
    this.bytes(b);
  }

  /** Writes a name, pointing at an earlier copy of any suffix of it. */
  name(name: string): void {
    const labels = name === '' ? [] : name.replace(/\.$/, '').split('.');
    for (let i = 0; i < labels.length; i++) {
      const suffix = labels.slice(i).join('.').toLowerCase();
      const earlier = this.names.get(suffix);
      if (earlier !== undefined) {
        this.u16(0xc000 | earlier);
        return;
      }
      if (this.length < 0x4000) this.names.set(suffix, this.length);
      const label = Buffer.from(labels[i], 'latin1');
      if (label.length === 0 || label.length > 63) throw new DnsFormatError(`invalid label in ${name}`);
      this.bytes(Buffer.from([label.length]));
      this.bytes(label);
    }
    this.bytes(Buffer.from([0]));
  }

  /** Writes RDATA with its length prefix; `fill` writes the data itself. */
  rdata(fill: () => void): void {
    const lengthAt = this.chunks.length;
    this.u16(0);
    const before = this.length;
    fill();
    this.chunks[lengthAt].writeUInt16BE(this.length - before);
  }

  done(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function writeRecord(w: Writer, r: DnsRecord): void {
  w.name(r.name);
  w.u16(r.type);
  w.u16(r.class);
  w.u32(r.ttl);
  w.rdata(() => {
    if (r.value !== undefined && r.type === DnsType.A) w.bytes(ipv4Bytes(r.value));
    else if (r.value !== undefined && r.type === DnsType.AAAA) w.bytes(ipv6Bytes(r.value));
    else if (
      r.value !== undefined &&
      (r.type === DnsType.CNAME || r.type === DnsType.PTR || r.type === DnsType.NS)
    ) {
      w.name(r.value);
    } else w.bytes(r.rdata);
  });
}

export function encodeMessage(msg: DnsMessage): Buffer {
  const w = new Writer();
  w.u16(msg.id);
  w.u16(encodeFlags(msg.flags));
  w.u16(msg.questions.length);
  w.u16(msg.answers.length);
  w.u16(msg.authorities.length);
  w.u16(msg.additionals.length);
  for (const q of msg.questions) {
    w.name(q.name);
    w.u16(q.type);
    w.u16(q.class);
  }
  for (const r of [...msg.answers, ...msg.authorities, ...msg.additionals]) writeRecord(w, r);
  return w.done();
}

/** A query with one question and recursion desired, optionally with an EDNS OPT record. */
export function encodeQuery(
  id: number,
  name: string,
  type: number,
  options: { ednsUdpSize?: number } = {},
): Buffer {
  const additionals: DnsRecord[] = [];
  if (options.ednsUdpSize !== undefined) {
    additionals.push({
      name: '',
      type: DnsType.OPT,
      class: options.ednsUdpSize,
      ttl: 0,
      rdata: Buffer.alloc(0),
    });
  }
  return encodeMessage({
    id,
    flags: { qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, rcode: 0 },
    questions: [{ name, type, class: DnsClass.IN }],
    answers: [],
    authorities: [],
    additionals,
  });
}

function ipv4Bytes(address: string): Buffer {
  if (!isIPv4(address)) throw new DnsFormatError(`not an IPv4 address: ${address}`);
  return Buffer.from(address.split('.').map(Number));
}

function ipv6Bytes(address: string): Buffer {
  if (!isIPv6(address)) throw new DnsFormatError(`not an IPv6 address: ${address}`);
  let text = address;
  const out = Buffer.alloc(16);
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4 !== null) {
    const b = ipv4Bytes(v4[1]);
    text = `${text.slice(0, v4.index)}${b.readUInt16BE(0).toString(16)}:${b.readUInt16BE(2).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right];
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function formatIpv6(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  // Compress the longest run of zero groups (at least two), as RFC 5952.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

// ---------------------------------------------------------------------------
// Server

export type Resolve = (name: string, type: 'A' | 'AAAA') => string[] | undefined;

export interface DnsServerOptions {
  /** The address to bind (a bridge's gateway address). */
  address: string;
  /** Default 53; 0 picks a free port (tests). */
  port?: number;
  /**
   * Addresses for a name the engine knows (lower-case, no trailing dot), or
   * undefined for names it does not know, which are forwarded. Addresses of
   * the other family are ignored, so a callback may ignore `type`.
   */
  resolve: Resolve;
  /** Names for an address (PTR); undefined forwards the query. */
  reverse?: (address: string) => string[] | undefined;
  /** `ip`, `ip:port`, `[ipv6]:port`; tried in order. E.g. the host's /etc/resolv.conf nameservers. */
  upstream: string[];
  /** Per upstream server. Default 2 s. */
  upstreamTimeoutMs?: number;
  /** TTL of local answers. Default 600 s (as Docker). */
  ttl?: number;
  /** Also serve TCP (needed for truncated answers). Default true. */
  tcp?: boolean;
  /** Forwarded queries in flight at once; beyond it the answer is SERVFAIL. Default 1024. */
  maxInflight?: number;
}

export interface DnsServer {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

interface Upstream {
  host: string;
  port: number;
}

/** Parses `ip`, `ip:port` or `[ipv6]:port`. */
export function parseUpstream(spec: string): Upstream {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(spec);
  let host = spec;
  let port = 53;
  if (bracketed !== null) {
    host = bracketed[1];
    if (bracketed[2] !== undefined) port = Number(bracketed[2]);
  } else if (isIP(spec) === 0) {
    const colon = spec.lastIndexOf(':');
    if (colon > 0) {
      host = spec.slice(0, colon);
      port = Number(spec.slice(colon + 1));
    }
  }
  if (isIP(host) === 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidParameterError(`invalid upstream DNS server ${JSON.stringify(spec)}`);
  }
  return { host, port };
}

/** The `nameserver` addresses of a resolv.conf (default /etc/resolv.conf); [] if it is missing. */
export async function hostNameservers(path = '/etc/resolv.conf'): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const fields = line
      .replace(/[#;].*$/, '')
      .trim()
      .split(/\s+/);
    if (fields[0] === 'nameserver' && fields[1] !== undefined) {
      const address = fields[1].replace(/%.*$/, ''); // drop an IPv6 zone
      if (isIP(address) !== 0) out.push(address);
    }
  }
  return out;
}

/** The parts of a query the server needs, with the raw question to echo. */
interface ParsedQuery {
  id: number;
  flags: DnsFlags;
  question: DnsQuestion;
  /** The question section's bytes, copied verbatim into replies. */
  questionBytes: Buffer;
  /** The client's EDNS UDP payload size, if it sent an OPT record. */
  ednsSize: number | undefined;
}

function parseQuery(buf: Buffer): ParsedQuery | { id: number; flags: DnsFlags; error: number } | undefined {
  if (buf.length < HEADER) return undefined;
  const id = buf.readUInt16BE(0);
  const flags = decodeFlags(buf.readUInt16BE(2));
  if (flags.qr) return undefined; // never answer responses
  if (flags.opcode !== 0) return { id, flags, error: Rcode.NOTIMP };
  let msg: DnsMessage;
  try {
    msg = decodeMessage(buf);
  } catch {
    return { id, flags, error: Rcode.FORMERR };
  }
  const question = msg.questions[0];
  if (msg.questions.length !== 1 || question === undefined) return { id, flags, error: Rcode.FORMERR };
  const end = readName(buf, HEADER).next + 4;
  const opt = msg.additionals.find((r) => r.type === DnsType.OPT);
  return {
    id,
    flags,
    question,
    questionBytes: Buffer.from(buf.subarray(HEADER, end)),
    ednsSize: opt === undefined ? undefined : opt.class,
  };
}

function replyHeader(id: number, query: DnsFlags, rcode: number, counts: number[], tc = false): Buffer {
  const b = Buffer.alloc(HEADER);
  b.writeUInt16BE(id, 0);
  b.writeUInt16BE(
    encodeFlags({ qr: true, opcode: query.opcode, aa: false, tc, rd: query.rd, ra: true, rcode }),
    2,
  );
  counts.forEach((c, i) => b.writeUInt16BE(c, 4 + i * 2));
  return b;
}

const OPT_RECORD = (() => {
  const b = Buffer.alloc(11);
  b.writeUInt16BE(DnsType.OPT, 1);
  b.writeUInt16BE(1232, 3); // our UDP payload size (the DNS flag day value)
  return b;
})();

/** An answer of local records; drops records (setting TC) until it fits `limit`. */
function buildAnswer(
  q: ParsedQuery,
  rcode: number,
  rdatas: { type: number; data: Buffer }[],
  ttl: number,
  limit: number,
): Buffer {
  const records = rdatas.map(({ type, data }) => {
    const r = Buffer.alloc(12 + data.length);
    r.writeUInt16BE(0xc000 | HEADER, 0); // points at the question's name
    r.writeUInt16BE(type, 2);
    r.writeUInt16BE(DnsClass.IN, 4);
    r.writeUInt32BE(ttl, 6);
    r.writeUInt16BE(data.length, 10);
    data.copy(r, 12);
    return r;
  });
  const opt = q.ednsSize === undefined ? [] : [OPT_RECORD];
  let count = records.length;
  const size = (n: number): number =>
    HEADER + q.questionBytes.length + records.slice(0, n).reduce((s, r) => s + r.length, 0) + opt.length * 11;
  while (count > 0 && size(count) > limit) count--;
  const tc = count < records.length;
  return Buffer.concat([
    replyHeader(q.id, q.flags, rcode, [1, count, 0, opt.length], tc),
    q.questionBytes,
    ...records.slice(0, count),
    ...opt,
  ]);
}

function errorReply(id: number, flags: DnsFlags, rcode: number, q?: ParsedQuery): Buffer {
  if (q === undefined) return replyHeader(id, flags, rcode, [0, 0, 0, 0]);
  return Buffer.concat([replyHeader(id, flags, rcode, [1, 0, 0, 0]), q.questionBytes]);
}

function reverseAddress(name: string): string | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\.in-addr\.arpa$/.exec(name);
  if (m === null) return undefined;
  const address = `${m[4]}.${m[3]}.${m[2]}.${m[1]}`;
  return isIPv4(address) ? address : undefined;
}

function encodeNameRdata(name: string): Buffer {
  const w = new Writer();
  w.name(name);
  return w.done();
}

/** Starts the server on UDP (and TCP) `address:port`. */
export async function startDnsServer(options: DnsServerOptions): Promise<DnsServer> {
  if (isIP(options.address) === 0)
    throw new InvalidParameterError(`invalid DNS listen address ${options.address}`);
  const requestedPort = options.port ?? 53;
  const upstreams = options.upstream.map(parseUpstream);
  const timeoutMs = options.upstreamTimeoutMs ?? 2000;
  const ttl = options.ttl ?? 600;
  const maxInflight = options.maxInflight ?? 1024;
  let inflight = 0;
  let closed = false;
  let boundPort = requestedPort;

  const local = (q: ParsedQuery): { type: number; data: Buffer }[] | undefined => {
    if (q.question.class !== DnsClass.IN) return undefined;
    const name = q.question.name.toLowerCase().replace(/\.$/, '');
    const type = q.question.type;
    if (type === DnsType.PTR) {
      const address = reverseAddress(name);
      const names = address === undefined ? undefined : options.reverse?.(address);
      return names?.map((n) => ({ type: DnsType.PTR, data: encodeNameRdata(n) }));
    }
    if (name === '') return undefined;
    if (type === DnsType.A) {
      const found = options.resolve(name, 'A');
      return found?.filter((a) => isIPv4(a)).map((a) => ({ type: DnsType.A, data: ipv4Bytes(a) }));
    }
    if (type === DnsType.AAAA) {
      const found = options.resolve(name, 'AAAA');
      const v6 = found?.filter((a) => isIPv6(a)).map((a) => ({ type: DnsType.AAAA, data: ipv6Bytes(a) }));
      if (v6 !== undefined && v6.length > 0) return v6;
      // Known by either family: NOERROR with no data.
      if (found !== undefined || options.resolve(name, 'A') !== undefined) return [];
      return undefined;
    }
    return options.resolve(name, 'A') === undefined ? undefined : [];
  };

  /** Answers one query; `viaTcp` chooses the size limit and the forwarding transport. */
  const answer = async (buf: Buffer, viaTcp: boolean): Promise<Buffer | undefined> => {
    const q = parseQuery(buf);
    if (q === undefined) return undefined;
    if ('error' in q) return errorReply(q.id, q.flags, q.error);
    let records: { type: number; data: Buffer }[] | undefined;
    try {
      records = local(q);
    } catch {
      return errorReply(q.id, q.flags, Rcode.SERVFAIL, q);
    }
    if (records !== undefined) {
      const limit = viaTcp ? 65535 : Math.max(512, Math.min(q.ednsSize ?? 512, 4096));
      return buildAnswer(q, Rcode.NOERROR, records, ttl, limit);
    }
    if (inflight >= maxInflight || closed) return errorReply(q.id, q.flags, Rcode.SERVFAIL, q);
    inflight++;
    try {
      for (const upstream of upstreams) {
        if (upstream.host === options.address && upstream.port === boundPort) continue; // no loops
        const reply = viaTcp
          ? await forwardTcp(buf, upstream, timeoutMs)
          : await forwardUdp(buf, upstream, timeoutMs);
        if (reply !== undefined && reply.length >= HEADER && reply.readUInt16BE(0) === q.id) return reply;
        if (closed) break;
      }
    } finally {
      inflight--;
    }
    return errorReply(q.id, q.flags, Rcode.SERVFAIL, q);
  };

  // UDP
  const udp = createSocket({ type: isIPv6(options.address) ? 'udp6' : 'udp4' });
  udp.on('message', (msg, rinfo) => {
    answer(msg, false).then(
      (reply) => {
        if (reply !== undefined && !closed) udp.send(reply, rinfo.port, rinfo.address);
      },
      () => undefined,
    );
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(bindError(err, options.address, requestedPort));
    udp.once('error', onError);
    udp.bind({ address: options.address, port: requestedPort, exclusive: true }, () => {
      udp.off('error', onError);
      resolve();
    });
  });
  udp.on('error', () => undefined);
  boundPort = udp.address().port;

  // TCP, on the same port
  const connections = new Set<Socket>();
  let tcp: Server | undefined;
  if (options.tcp ?? true) {
    const server = createServer((socket) => serveTcp(socket, connections, (q) => answer(q, true)));
    try {
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error): void => reject(bindError(err, options.address, boundPort));
        server.once('error', onError);
        server.listen({ host: options.address, port: boundPort, exclusive: true }, () => {
          server.off('error', onError);
          resolve();
        });
      });
    } catch (err) {
      udp.close();
      throw err;
    }
    server.on('error', () => undefined);
    tcp = server;
  }

  let closing: Promise<void> | undefined;
  return {
    address: options.address,
    port: boundPort,
    close(): Promise<void> {
      closing ??= (async () => {
        closed = true;
        for (const socket of connections) socket.destroy();
        await Promise.all([
          new Promise<void>((resolve) => udp.close(() => resolve())),
          tcp === undefined ? Promise.resolve() : new Promise<void>((resolve) => tcp.close(() => resolve())),
        ]);
      })();
      return closing;
    },
  };
}

function bindError(err: unknown, address: string, port: number): Error {
  const code = (err as NodeJS.ErrnoException).code;
  const where = `${address}:${port}`;
  if (code === 'EADDRINUSE')
    return new ConflictError(`DNS server: ${where} is already in use`, { cause: err });
  return new SystemError(`DNS server: cannot bind ${where}: ${(err as Error).message}`, { cause: err });
}

/** Serves length-prefixed queries on one TCP connection, answering in order. */
function serveTcp(
  socket: Socket,
  connections: Set<Socket>,
  answer: (q: Buffer) => Promise<Buffer | undefined>,
): void {
  connections.add(socket);
  socket.setTimeout(30_000, () => socket.destroy());
  socket.on('error', () => undefined);
  socket.on('close', () => connections.delete(socket));
  let buffered = Buffer.alloc(0);
  let chain = Promise.resolve();
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
      const query = buffered.subarray(2, 2 + buffered.readUInt16BE(0));
      buffered = buffered.subarray(2 + query.length);
      chain = chain.then(async () => {
        const reply = await answer(Buffer.from(query)).catch(() => undefined);
        if (reply === undefined || socket.destroyed) return;
        const length = Buffer.alloc(2);
        length.writeUInt16BE(reply.length);
        socket.write(Buffer.concat([length, reply]));
      });
    }
    if (buffered.length > 2 + 65535) socket.destroy();
  });
}

/** Sends `query` to one upstream over UDP; undefined on timeout or error. */
function forwardUdp(query: Buffer, upstream: Upstream, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const socket: UdpSocket = createSocket({ type: isIPv6(upstream.host) ? 'udp6' : 'udp4' });
    const id = query.readUInt16BE(0);
    let done = false;
    const finish = (reply: Buffer | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try {
        socket.close();
      } catch {
        // already closed
      }
      resolve(reply);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    socket.on('error', () => finish(undefined)); // ECONNREFUSED arrives here at once
    socket.on('message', (reply) => {
      if (reply.length >= HEADER && reply.readUInt16BE(0) === id && decodeFlags(reply.readUInt16BE(2)).qr) {
        finish(reply);
      }
    });
    socket.connect(upstream.port, upstream.host, () => {
      if (!done) socket.send(query);
    });
  });
}

/** Sends `query` to one upstream over TCP; undefined on timeout or error. */
function forwardTcp(query: Buffer, upstream: Upstream, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: upstream.host, port: upstream.port });
    let buffered = Buffer.alloc(0);
    let done = false;
    const finish = (reply: Buffer | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(reply);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    socket.on('error', () => finish(undefined));
    socket.on('close', () => finish(undefined));
    socket.on('connect', () => {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(query.length);
      socket.write(Buffer.concat([length, query]));
    });
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        finish(Buffer.from(buffered.subarray(2, 2 + buffered.readUInt16BE(0))));
      }
    });
  });
}
