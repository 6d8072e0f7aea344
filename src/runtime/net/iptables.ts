/**
 * berth's iptables rules, kept in chains berth owns so that they can be
 * found, reconciled and removed without touching anybody else's rules (a
 * real dockerd or podman may share the host).
 *
 * Layout for a prefix P (the daemon's, e.g. `BERTH`; tests use their own):
 *
 *   filter FORWARD      -j P-FORWARD                     (first rule, kept first)
 *   filter P-FORWARD    -j P-ISOLATION                   cross-bridge drops first
 *                       -j P-PORTS                       then published ports
 *                       -j P-BRIDGES                     then per-bridge policy
 *                       -i <br> -j ACCEPT                outgoing, per bridge, opt-in
 *   filter P-ISOLATION  -i <br> ! -o <br> -j P-ISOLATION2   (stage 1, per isolated bridge)
 *   filter P-ISOLATION2 -o <br> -j DROP                  (stage 2, per isolated bridge)
 *   filter P-PORTS      -d <ctr ip> ! -i <br> -o <br> -p <proto> --dport <ctr port> -j ACCEPT
 *   filter P-BRIDGES    -o <br> -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
 *                       -i <br> -o <br> -j ACCEPT
 *                       -o <br> -j DROP                  (unsolicited inbound; opt-out)
 *   nat PREROUTING      -m addrtype --dst-type LOCAL -j P-DNAT
 *   nat OUTPUT          ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j P-DNAT
 *   nat P-DNAT          -p <proto> [-d <host ip>] --dport <host port> ! -i <br> -j DNAT --to-destination <ctr>
 *   nat POSTROUTING     -j P-POSTROUTING                 (only once masquerade is enabled)
 *   nat P-POSTROUTING   -s <subnet> ! -o <br> -j MASQUERADE
 *
 * Why this shape:
 * - br_netfilter is on, so even traffic between two ports of one bridge
 *   traverses FORWARD; with a DROP policy nothing flows without the
 *   intra-bridge ACCEPT.
 * - Isolation is Docker's two-stage scheme: O(bridges) rules, and a bridge
 *   added later is isolated from all earlier ones.
 * - The per-bridge rules all match `-o <br>`, so their relative order across
 *   bridges does not matter; outgoing ACCEPTs come after all of them, so a
 *   bridge's outgoing rule can never open another berth bridge.
 * - DNAT never applies to 127.0.0.0/8 (the kernel does not route loopback
 *   to other interfaces), so loopback host ports need the userland proxy
 *   (proxy.ts). `! -i <br>` leaves hairpin traffic (a container reaching its
 *   own network's published port) to the proxy too, which avoids needing a
 *   MASQUERADE rule for it.
 *
 * Every rule carries `-m comment --comment berth:P`; `cleanup(P)` removes the
 * jump rules found by that comment and then the chains. Adds check with
 * `iptables -C` first, deletes repeat while `-C` matches, so every operation
 * is idempotent. Mutations are serialized within this process.
 *
 * Routing: DNAT'd traffic from outside the host (and between bridges) also
 * needs forwarding on the interface it arrives on (`setForwarding` in
 * ip.ts, or the host's `net.ipv4.ip_forward`). Nothing here changes sysctls.
 */
import { isIPv4 } from 'node:net';

import { InvalidParameterError, SystemError } from '../../errors.js';
import { failureText, runCommand } from './exec.js';
import { parseCidr, validateIfname } from './ip.js';

const IPTABLES = 'iptables';

export type Table = 'filter' | 'nat';
export type Proto = 'tcp' | 'udp';

export interface ChainNames {
  forward: string;
  isolation: string;
  isolation2: string;
  ports: string;
  bridges: string;
  dnat: string;
  postrouting: string;
}

/** The chains berth creates for a prefix. A prefix is 1–16 of [A-Za-z0-9_]. */
export function chainNames(prefix: string): ChainNames {
  validatePrefix(prefix);
  return {
    forward: `${prefix}-FORWARD`,
    isolation: `${prefix}-ISOLATION`,
    isolation2: `${prefix}-ISOLATION2`,
    ports: `${prefix}-PORTS`,
    bridges: `${prefix}-BRIDGES`,
    dnat: `${prefix}-DNAT`,
    postrouting: `${prefix}-POSTROUTING`,
  };
}

/** The comment every rule of `prefix` carries. */
export function ruleComment(prefix: string): string {
  return `berth:${prefix}`;
}

function validatePrefix(prefix: string): void {
  // iptables chain names are at most 28 characters; `-POSTROUTING` takes 12.
  if (!/^[A-Za-z0-9_]{1,16}$/.test(prefix)) {
    throw new InvalidParameterError(
      `invalid iptables prefix ${JSON.stringify(prefix)}: use 1-16 of [A-Za-z0-9_]`,
    );
  }
}

function validatePort(port: number, what: string): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidParameterError(`invalid ${what} ${port}: must be in 1..65535`);
  }
}

function validateProto(proto: string): void {
  if (proto !== 'tcp' && proto !== 'udp') throw new InvalidParameterError(`invalid protocol ${proto}`);
}

// ---------------------------------------------------------------------------
// Running iptables

let queue: Promise<unknown> = Promise.resolve();

/** Runs `fn` after every mutation queued before it (check-then-add must not interleave). */
function serialized<T>(fn: () => Promise<T>): Promise<T> {
  const run = queue.then(fn, fn);
  queue = run.catch(() => undefined);
  return run;
}

async function iptables(table: Table, args: readonly string[]): Promise<string> {
  const argv = ['-w', '-t', table, ...args];
  try {
    return (await runCommand(IPTABLES, argv)).stdout;
  } catch (err) {
    throw new SystemError(`iptables ${argv.join(' ')} failed: ${failureText(err).trim()}`, { cause: err });
  }
}

async function succeeds(table: Table, args: readonly string[]): Promise<boolean> {
  try {
    await runCommand(IPTABLES, ['-w', '-t', table, ...args]);
    return true;
  } catch {
    return false;
  }
}

/** One rule: `args` are the matches and target; the comment is added by `withComment`. */
export interface Rule {
  table: Table;
  chain: string;
  args: string[];
}

/** Inserts the comment match before the target (`-j`), the order `iptables -S` prints. */
function withComment(args: readonly string[], comment: string): string[] {
  const at = args.indexOf('-j');
  const match = ['-m', 'comment', '--comment', comment];
  return at < 0 ? [...args, ...match] : [...args.slice(0, at), ...match, ...args.slice(at)];
}

async function chainExists(table: Table, chain: string): Promise<boolean> {
  return succeeds(table, ['-S', chain, '1']);
}

async function ensureChain(table: Table, chain: string): Promise<void> {
  if (await chainExists(table, chain)) return;
  try {
    await iptables(table, ['-N', chain]);
  } catch (err) {
    if (!(await chainExists(table, chain))) throw err;
  }
}

/**
 * Splits a line of `iptables -S` into argv, undoing its quoting (double
 * quotes, with `\"` and `\\` escapes inside).
 */
export function splitRuleLine(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i])) i++;
    if (i >= line.length) break;
    let token = '';
    while (i < line.length && !/\s/.test(line[i])) {
      if (line[i] === '"') {
        i++;
        while (i < line.length && line[i] !== '"') {
          if (line[i] === '\\' && i + 1 < line.length) i++;
          token += line[i];
          i++;
        }
        i++;
      } else {
        token += line[i];
        i++;
      }
    }
    out.push(token);
  }
  return out;
}

async function listRules(table: Table, chain?: string): Promise<string[][]> {
  const text = await iptables(table, chain === undefined ? ['-S'] : ['-S', chain]);
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(splitRuleLine);
}

function hasComment(argv: readonly string[], comment: string): boolean {
  for (let i = 0; i + 1 < argv.length; i++) {
    if (argv[i] === '--comment' && argv[i + 1] === comment) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------
// The firewall of one prefix

export interface PortMapping {
  /** The host address the port is published on; `0.0.0.0` for all. Loopback gets no DNAT rule. */
  hostIp: string;
  /** The actual host port (after the proxy picked one for a requested 0). */
  hostPort: number;
  proto: Proto;
  containerIp: string;
  containerPort: number;
  /** The bridge the container is attached to. */
  bridge: string;
}

export interface AllowBridgeOptions {
  /**
   * Accept traffic from the bridge to anywhere but other berth bridges
   * (Docker's default, useful only with routing and masquerade). Default false.
   */
  allowOutgoing?: boolean;
  /**
   * Drop traffic into the bridge that is neither intra-bridge, a reply, nor to
   * a published port (Docker's default "nat" gateway mode). Default true.
   */
  dropUnsolicited?: boolean;
}

/**
 * The rules of one prefix. Construct it freely (it holds no state besides
 * names); `ensureChains` must have run before rules are added.
 */
export class Firewall {
  readonly prefix: string;
  readonly comment: string;
  readonly chains: ChainNames;

  constructor(prefix: string) {
    this.chains = chainNames(prefix);
    this.prefix = prefix;
    this.comment = ruleComment(prefix);
  }

  /** Creates the chains and the jumps into them. Idempotent; moves the FORWARD jump back to the top. */
  async ensureChains(): Promise<void> {
    await serialized(async () => {
      const c = this.chains;
      for (const chain of [c.forward, c.isolation, c.isolation2, c.ports, c.bridges]) {
        await ensureChain('filter', chain);
      }
      await ensureChain('nat', c.dnat);
      await this.ensureRule({ table: 'filter', chain: c.forward, args: ['-j', c.isolation] }, 1);
      await this.ensureRule({ table: 'filter', chain: c.forward, args: ['-j', c.ports] }, 2);
      await this.ensureRule({ table: 'filter', chain: c.forward, args: ['-j', c.bridges] }, 3);

      const jump: Rule = { table: 'filter', chain: 'FORWARD', args: ['-j', c.forward] };
      const forward = (await listRules('filter', 'FORWARD')).filter((r) => r[0] === '-A');
      const first = forward[0];
      if (first === undefined || !(hasComment(first, this.comment) && first.includes(c.forward))) {
        await this.deleteRule(jump);
        await iptables('filter', ['-I', 'FORWARD', '1', ...withComment(jump.args, this.comment)]);
      }
      await this.ensureRule(
        { table: 'nat', chain: 'PREROUTING', args: ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', c.dnat] },
        1,
      );
      await this.ensureRule(
        {
          table: 'nat',
          chain: 'OUTPUT',
          args: ['!', '-d', '127.0.0.0/8', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', c.dnat],
        },
        1,
      );
    });
  }

  /**
   * Lets a bridge's containers talk to each other and receive replies
   * (required: br_netfilter sends bridged traffic through FORWARD).
   */
  async allowBridge(bridge: string, options: AllowBridgeOptions = {}): Promise<void> {
    validateIfname(bridge);
    await serialized(async () => {
      for (const rule of this.bridgeRules(bridge, options)) await this.ensureRule(rule);
      for (const rule of this.bridgeRules(bridge, { allowOutgoing: true, dropUnsolicited: true })) {
        if (!this.bridgeRules(bridge, options).some((r) => sameRule(r, rule))) await this.deleteRule(rule);
      }
    });
  }

  /** Removes what `allowBridge` added for `bridge` (with any options). Idempotent. */
  async disallowBridge(bridge: string): Promise<void> {
    validateIfname(bridge);
    await serialized(async () => {
      for (const rule of this.bridgeRules(bridge, { allowOutgoing: true, dropUnsolicited: true })) {
        await this.deleteRule(rule);
      }
    });
  }

  private bridgeRules(bridge: string, options: AllowBridgeOptions): Rule[] {
    const c = this.chains;
    const rules: Rule[] = [
      {
        table: 'filter',
        chain: c.bridges,
        args: ['-o', bridge, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT'],
      },
      { table: 'filter', chain: c.bridges, args: ['-i', bridge, '-o', bridge, '-j', 'ACCEPT'] },
    ];
    if (options.dropUnsolicited ?? true) {
      rules.push({ table: 'filter', chain: c.bridges, args: ['-o', bridge, '-j', 'DROP'] });
    }
    if (options.allowOutgoing ?? false) {
      rules.push({ table: 'filter', chain: c.forward, args: ['-i', bridge, '-j', 'ACCEPT'] });
    }
    return rules;
  }

  /**
   * Drops traffic between any two isolated bridges of this prefix (including
   * bridges isolated by earlier calls). Traffic within a bridge is unaffected.
   */
  async isolateBridges(bridges: readonly string[]): Promise<void> {
    bridges.forEach(validateIfname);
    await serialized(async () => {
      for (const bridge of bridges)
        for (const rule of this.isolationRules(bridge)) await this.ensureRule(rule);
    });
  }

  /** Takes bridges out of isolation (e.g. before deleting them). Idempotent. */
  async unisolateBridges(bridges: readonly string[]): Promise<void> {
    bridges.forEach(validateIfname);
    await serialized(async () => {
      for (const bridge of bridges)
        for (const rule of this.isolationRules(bridge)) await this.deleteRule(rule);
    });
  }

  private isolationRules(bridge: string): Rule[] {
    const c = this.chains;
    return [
      { table: 'filter', chain: c.isolation, args: ['-i', bridge, '!', '-o', bridge, '-j', c.isolation2] },
      { table: 'filter', chain: c.isolation2, args: ['-o', bridge, '-j', 'DROP'] },
    ];
  }

  /**
   * Publishes a container port: a DNAT rule for traffic to `hostIp:hostPort`
   * (not for loopback host addresses, which only the userland proxy can
   * serve) and a forward ACCEPT to the container's port.
   */
  async addPortMapping(mapping: PortMapping): Promise<void> {
    const rules = this.portRules(mapping);
    await serialized(async () => {
      for (const rule of rules) await this.ensureRule(rule);
    });
  }

  /** Removes what `addPortMapping` added for the same mapping. Idempotent. */
  async removePortMapping(mapping: PortMapping): Promise<void> {
    const rules = this.portRules(mapping);
    await serialized(async () => {
      for (const rule of rules) await this.deleteRule(rule);
    });
  }

  private portRules(m: PortMapping): Rule[] {
    validateProto(m.proto);
    validatePort(m.hostPort, 'host port');
    validatePort(m.containerPort, 'container port');
    validateIfname(m.bridge);
    if (!isIPv4(m.hostIp)) throw new InvalidParameterError(`invalid host IP ${m.hostIp} (IPv4 only)`);
    if (!isIPv4(m.containerIp)) throw new InvalidParameterError(`invalid container IP ${m.containerIp}`);
    const c = this.chains;
    const rules: Rule[] = [
      {
        table: 'filter',
        chain: c.ports,
        args: [
          '-d',
          `${m.containerIp}/32`,
          '!',
          '-i',
          m.bridge,
          '-o',
          m.bridge,
          '-p',
          m.proto,
          '-m',
          m.proto,
          '--dport',
          String(m.containerPort),
          '-j',
          'ACCEPT',
        ],
      },
    ];
    if (!m.hostIp.startsWith('127.')) {
      const dest = m.hostIp === '0.0.0.0' ? [] : ['-d', `${m.hostIp}/32`];
      rules.push({
        table: 'nat',
        chain: c.dnat,
        args: [
          ...dest,
          '!',
          '-i',
          m.bridge,
          '-p',
          m.proto,
          '-m',
          m.proto,
          '--dport',
          String(m.hostPort),
          '-j',
          'DNAT',
          '--to-destination',
          `${m.containerIp}:${m.containerPort}`,
        ],
      });
    }
    return rules;
  }

  /**
   * Source-NATs traffic from `cidr` leaving through any interface but
   * `bridge` (`--ip-masq`): what lets containers reach other hosts. Creates
   * P-POSTROUTING and its jump on first use. Never used by the tests: it
   * would let container traffic off the machine.
   */
  async enableMasquerade(cidr: string, bridge: string): Promise<void> {
    const rule = this.masqueradeRule(cidr, bridge);
    await serialized(async () => {
      await ensureChain('nat', this.chains.postrouting);
      await this.ensureRule({ table: 'nat', chain: 'POSTROUTING', args: ['-j', this.chains.postrouting] });
      await this.ensureRule(rule);
    });
  }

  async disableMasquerade(cidr: string, bridge: string): Promise<void> {
    const rule = this.masqueradeRule(cidr, bridge);
    await serialized(async () => {
      if (await chainExists('nat', this.chains.postrouting)) await this.deleteRule(rule);
    });
  }

  private masqueradeRule(cidr: string, bridge: string): Rule {
    const net = parseCidr(cidr);
    validateIfname(bridge);
    return {
      table: 'nat',
      chain: this.chains.postrouting,
      args: ['-s', `${net.network}/${net.prefix}`, '!', '-o', bridge, '-j', 'MASQUERADE'],
    };
  }

  /** Removes every rule and chain of this prefix (see `cleanup`). */
  cleanup(): Promise<void> {
    return cleanup(this.prefix);
  }

  /** Whether `rule` (with this prefix's comment) is present. */
  hasRule(rule: Rule): Promise<boolean> {
    return succeeds(rule.table, ['-C', rule.chain, ...withComment(rule.args, this.comment)]);
  }

  /** Adds `rule` unless present: appended, or inserted at a 1-based position. Not serialized. */
  private async ensureRule(rule: Rule, position?: number): Promise<void> {
    if (await this.hasRule(rule)) return;
    const args = withComment(rule.args, this.comment);
    if (position === undefined) await iptables(rule.table, ['-A', rule.chain, ...args]);
    else await iptables(rule.table, ['-I', rule.chain, String(position), ...args]);
  }

  /** Deletes every copy of `rule`. Not serialized. */
  private async deleteRule(rule: Rule): Promise<void> {
    const args = withComment(rule.args, this.comment);
    for (let i = 0; i < 100 && (await this.hasRule(rule)); i++) {
      await iptables(rule.table, ['-D', rule.chain, ...args]);
    }
  }
}

function sameRule(a: Rule, b: Rule): boolean {
  return a.table === b.table && a.chain === b.chain && a.args.join('\0') === b.args.join('\0');
}

/** Creates the chains and jumps of `prefix` (idempotent) and returns its Firewall. */
export async function ensureChains(prefix: string): Promise<Firewall> {
  const firewall = new Firewall(prefix);
  await firewall.ensureChains();
  return firewall;
}

/**
 * Removes every rule carrying `berth:<prefix>` from chains that are not
 * berth's (the jumps), then flushes and deletes the prefix's chains. For a
 * daemon starting up (to rebuild from its records) or shutting down, and for
 * tests. Rules of other prefixes and other software are untouched.
 */
export async function cleanup(prefix: string): Promise<void> {
  const names = chainNames(prefix);
  const ours = new Set(Object.values(names));
  const comment = ruleComment(prefix);
  await serialized(async () => {
    for (const table of ['filter', 'nat'] as const) {
      const rules = await listRules(table);
      for (const argv of rules) {
        const chain = argv[1];
        if (argv[0] !== '-A' || chain === undefined || ours.has(chain) || !hasComment(argv, comment))
          continue;
        await iptables(table, ['-D', ...argv.slice(1)]);
      }
      const present = rules
        .filter((r) => r[0] === '-N' && r[1] !== undefined && ours.has(r[1]))
        .map((r) => r[1]);
      for (const chain of present) await iptables(table, ['-F', chain]);
      for (const chain of present) await iptables(table, ['-X', chain]);
    }
  });
}

/**
 * The prefixes that have berth rules or chains on this host, found by the
 * `berth:<prefix>` comments: lets a daemon or a test run find leftovers.
 */
export async function listPrefixes(): Promise<string[]> {
  const found = new Set<string>();
  for (const table of ['filter', 'nat'] as const) {
    for (const argv of await listRules(table)) {
      for (let i = 0; i + 1 < argv.length; i++) {
        const value = argv[i + 1];
        if (argv[i] === '--comment' && value.startsWith('berth:')) found.add(value.slice('berth:'.length));
      }
    }
  }
  return [...found].sort();
}
