import type { Command } from 'commander';

import { inspectNetworkRaw } from '../../../client/networks.js';
import type { CliContext } from '../../context.js';
import { asGoMap, type Template } from '../../output/template.js';
import { runCommand } from '../images/common.js';
import { executeInspectTemplate } from '../images/inspect.js';
import { inspectRefs, nilMap } from '../inspect-common.js';

/** A Go map of a JSON object (nil when null or absent), its values through `each`. */
function goMap(value: unknown, each: (v: unknown) => unknown = (v) => v): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return nilMap();
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = each(v);
  return asGoMap(out);
}

function obj(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/** A nil Go slice: printed `[]`, JSON `null`. */
function nilSlice(): unknown[] {
  const slice: unknown[] = [];
  Object.defineProperty(slice, 'toJSON', { value: () => null, enumerable: false });
  return slice;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const bool = (v: unknown): boolean => v === true;

/**
 * A time.Time of an RFC 3339 text: a Date (printed as Go prints a time)
 * whose JSON is the text as Go marshals it (RFC 3339 with the fraction's
 * trailing zeros cut). The text itself when it is not a time.
 */
function goTime(value: unknown): unknown {
  if (typeof value !== 'string') return goTime('0001-01-01T00:00:00Z');
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  const json = value.replace(/\.(\d*?)0+(?=Z|[+-])/, (_, digits: string) =>
    digits === '' ? '' : `.${digits}`,
  );
  Object.defineProperty(date, 'toJSON', { value: () => json, enumerable: false });
  return date;
}

/** IPAMConfig as Go has it: every field, the empty ones left out of its JSON (omitempty). */
function ipamConfig(value: unknown): Record<string, unknown> {
  const c = obj(value);
  const out: Record<string, unknown> = {
    Subnet: str(c['Subnet']),
    IPRange: str(c['IPRange']),
    Gateway: str(c['Gateway']),
    AuxAddress: goMap(c['AuxiliaryAddresses']),
  };
  Object.defineProperty(out, 'AuxiliaryAddresses', { value: out['AuxAddress'], enumerable: false });
  Object.defineProperty(out, 'toJSON', {
    value: () => {
      const json: Record<string, unknown> = {};
      for (const key of ['Subnet', 'IPRange', 'Gateway'] as const) if (out[key] !== '') json[key] = out[key];
      if (Object.keys(out['AuxAddress'] as object).length > 0) json['AuxiliaryAddresses'] = out['AuxAddress'];
      return json;
    },
    enumerable: false,
  });
  return out;
}

function endpoint(value: unknown): Record<string, unknown> {
  const e = obj(value);
  return {
    Name: str(e['Name']),
    EndpointID: str(e['EndpointID']),
    MacAddress: str(e['MacAddress']),
    IPv4Address: str(e['IPv4Address']),
    IPv6Address: str(e['IPv6Address']),
  };
}

/**
 * The inspect object as docker's typed network.Inspect behaves in
 * templates: Go's fields in Go's order (absent ones zero), maps as Go maps
 * (nil when null), `Created` a time.Time, and the ID as `.ID` (its JSON
 * name `Id` is a field of the raw object only, where docker falls back).
 */
export function typedNetworkView(parsed: unknown): unknown {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return parsed;
  const n = parsed as Record<string, unknown>;
  const ipam = obj(n['IPAM']);
  const configFrom = obj(n['ConfigFrom']);
  const view: Record<string, unknown> = {
    Name: str(n['Name']),
    ID: str(n['Id']),
    Created: goTime(n['Created']),
    Scope: str(n['Scope']),
    Driver: str(n['Driver']),
    EnableIPv4: bool(n['EnableIPv4']),
    EnableIPv6: bool(n['EnableIPv6']),
    IPAM: {
      Driver: str(ipam['Driver']),
      Options: goMap(ipam['Options']),
      Config: Array.isArray(ipam['Config']) ? ipam['Config'].map(ipamConfig) : nilSlice(),
    },
    Internal: bool(n['Internal']),
    Attachable: bool(n['Attachable']),
    Ingress: bool(n['Ingress']),
    ConfigFrom: { Network: str(configFrom['Network']) },
    ConfigOnly: bool(n['ConfigOnly']),
    Containers: goMap(n['Containers'], endpoint),
    Options: goMap(n['Options']),
    Labels: goMap(n['Labels']),
    Peers: Array.isArray(n['Peers']) ? n['Peers'] : nilSlice(),
    Services: goMap(n['Services']),
  };
  Object.defineProperty(view, 'toJSON', {
    value: () => {
      const json: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(view)) {
        if (k === 'ID') json['Id'] = v;
        else if ((k === 'Peers' || k === 'Services') && Object.keys(v as object).length === 0) continue;
        else json[k] = v;
      }
      return json;
    },
    enumerable: false,
  });
  return view;
}

/** docker's TemplateInspector on one network: the typed network first, the raw JSON when that fails. */
export function executeNetworkTemplate(template: Template, parsed: unknown): string {
  try {
    return template.execute(typedNetworkView(parsed));
  } catch {
    return executeInspectTemplate(template, parsed);
  }
}

/**
 * docker's inspect.Inspect for networks: every network fetched, printed as
 * one indented JSON array (or the template's lines, or compact JSON for
 * `json`), then the failures, one line each, with status 1. A bad template
 * is status 64.
 */
export function inspectNetworks(
  ctx: CliContext,
  refs: readonly string[],
  options: { format?: string; verbose?: boolean },
): Promise<void> {
  const verbose = options.verbose === true;
  return inspectRefs(
    ctx,
    refs,
    options.format,
    async (ref) => (await inspectNetworkRaw(ctx.client(), ref, { verbose })).raw,
    executeNetworkTemplate,
  );
}

/** `network inspect [OPTIONS] NETWORK [NETWORK...]`. */
export function registerNetworkInspect(parent: Command, ctx: CliContext): Command {
  return parent
    .command('inspect')
    .description('Display detailed information on one or more networks')
    .argument('<network...>', 'NETWORK [NETWORK...]')
    .option('-f, --format <format>', 'format output using a custom template ("json" or a Go template)')
    .option('-v, --verbose', 'verbose output for diagnostics')
    .action((refs: string[], opts: { format?: string; verbose?: boolean }) =>
      runCommand(() => inspectNetworks(ctx, refs, opts)),
    );
}
