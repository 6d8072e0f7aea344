import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Command } from 'commander';

import type { Network } from '../../../api/types/index.js';
import { CliError } from '../../context.js';
import { parseTemplate } from '../../output/template.js';
import { connectEndpoint, convertDriverOpts, registerNetworkConnect, type ConnectFlags } from './connect.js';
import {
  addCreateFlags,
  createIpamConfig,
  createRequest,
  parseCidr,
  sliceFlag,
  subnetMatches,
  type CreateFlags,
} from './create.js';
import { executeNetworkTemplate } from './inspect.js';
import { goTimeText, networkRow, renderNetworks } from './list.js';
import { renderNetworkPrune } from './prune.js';

const ID = (c: string): string => c.repeat(64);

const net = (name: string, extra: Partial<Network> = {}): Network => ({
  Name: name,
  Id: ID('a'),
  Created: '2024-01-02T03:04:05.123456789Z',
  Scope: 'local',
  Driver: 'bridge',
  EnableIPv6: false,
  Internal: false,
  Labels: {},
  ...extra,
});

/** Parses `args` with `network create`'s flags as the CLI would. */
function parseCreate(args: string[]): CreateFlags {
  const cmd = new Command('create').exitOverride().argument('<network>');
  addCreateFlags(cmd);
  let flags: CreateFlags | undefined;
  cmd.action((_name: string, opts: CreateFlags) => {
    flags = opts;
  });
  cmd.parse(args, { from: 'user' });
  assert.ok(flags);
  return flags;
}

function parseConnect(args: string[]): ConnectFlags {
  const parent = new Command('network').exitOverride();
  let flags: ConnectFlags | undefined;
  const cmd = registerNetworkConnect(parent, {
    client: () => {
      throw new Error('no daemon in unit tests');
    },
    out: process.stdout,
    err: process.stderr,
  }).exitOverride();
  cmd.action((_n: string, _c: string, opts: ConnectFlags) => {
    flags = opts;
  });
  parent.parse(['connect', ...args], { from: 'user' });
  assert.ok(flags);
  return flags;
}

describe('network ls output', () => {
  const networks = [
    net('n10', { Id: ID('c') }),
    net('bridge', { Id: ID('b') }),
    net('n2', { Id: ID('d'), Labels: { z: '1', a: 'x' }, Internal: true, EnableIPv4: true }),
    net('host', { Id: ID('e'), Driver: 'host' }),
  ];

  it('prints docker’s table, names sorted naturally, IDs cut to 12', () => {
    assert.equal(
      renderNetworks(networks),
      [
        'NETWORK ID     NAME      DRIVER    SCOPE',
        'bbbbbbbbbbbb   bridge    bridge    local',
        'eeeeeeeeeeee   host      host      local',
        'dddddddddddd   n2        bridge    local',
        'cccccccccccc   n10       bridge    local',
        '',
      ].join('\n'),
    );
  });

  it('prints full IDs with --no-trunc, IDs only with -q, and the raw format', () => {
    assert.equal(renderNetworks([networks[0]], { trunc: false, quiet: true }), `${ID('c')}\n`);
    assert.equal(renderNetworks(networks.slice(0, 2), { quiet: true }), 'bbbbbbbbbbbb\ncccccccccccc\n');
    assert.equal(
      renderNetworks([networks[1]], { format: 'raw' }),
      'network_id: bbbbbbbbbbbb\nname: bridge\ndriver: bridge\nscope: local\n\n',
    );
    assert.equal(renderNetworks([networks[1]], { format: 'raw', quiet: true }), 'network_id: bbbbbbbbbbbb\n');
  });

  it('renders templates with docker’s fields, headers and Label', () => {
    assert.equal(
      renderNetworks([networks[2]], {
        format:
          '{{.Name}}|{{.Labels}}|{{.Label "a"}}|{{.Label "nope"}}|{{.Internal}}|{{.IPv4}}|{{.IPv6}}|{{.CreatedAt}}',
      }),
      'n2|a=x,z=1|x||true|true|false|2024-01-02 03:04:05.123456789 +0000 UTC\n',
    );
    assert.equal(
      renderNetworks([networks[2]], {
        format: 'table {{.Name}}\t{{.Internal}}\t{{.IPv4}}\t{{.CreatedAt}}',
      }),
      'NAME      INTERNAL   IPV4      CREATED AT\nn2        true       true      2024-01-02 03:04:05.123456789 +0000 UTC\n',
    );
  });

  it('prints json lines with the fields in docker’s order', () => {
    assert.equal(
      renderNetworks([net('j', { Id: ID('f'), Labels: { k: '<v>' } })], { format: 'json' }),
      '{"CreatedAt":"2024-01-02 03:04:05.123456789 +0000 UTC","Driver":"bridge","ID":"ffffffffffff","IPv4":"false","IPv6":"false","Internal":"false","Labels":"k=\\u003cv\\u003e","Name":"j","Scope":"local"}\n',
    );
  });

  it('reports a bad template as docker does', () => {
    assert.throws(
      () => renderNetworks(networks, { format: '{{.Nope}}' }),
      /template parsing error: .*can't evaluate field Nope in type \*network\.networkContext/,
    );
  });

  it('prints times as Go’s time.Time', () => {
    assert.equal(goTimeText('2024-01-02T03:04:05.120Z'), '2024-01-02 03:04:05.12 +0000 UTC');
    assert.equal(goTimeText('2024-01-02T03:04:05Z'), '2024-01-02 03:04:05 +0000 UTC');
    assert.equal(goTimeText('2024-01-02T03:04:05.5+02:00'), '2024-01-02 03:04:05.5 +0200 +0200');
    assert.equal(goTimeText(undefined), '0001-01-01 00:00:00 +0000 UTC');
    assert.equal(networkRow({}, true).ID, '');
  });
});

describe('network inspect templates', () => {
  const raw = {
    Name: 'n1',
    Id: ID('a'),
    Created: '2024-01-02T03:04:05.210Z',
    Scope: 'local',
    Driver: 'bridge',
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: '10.0.0.0/24', Gateway: '10.0.0.1' }] },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: {
      [ID('c')]: {
        Name: 'web',
        EndpointID: 'e',
        MacAddress: 'm',
        IPv4Address: '10.0.0.2/24',
        IPv6Address: '',
      },
    },
    Options: {},
    Labels: null,
  };
  const run = (format: string): string => executeNetworkTemplate(parseTemplate(format), raw);

  it('behaves as docker’s typed network.Inspect', () => {
    assert.equal(run('{{.ID}}'), ID('a'));
    assert.equal(run('{{.Created}}'), '2024-01-02 03:04:05.21 +0000 UTC');
    assert.equal(run('{{json .Created}}'), '"2024-01-02T03:04:05.21Z"');
    assert.equal(run('{{.Labels}} {{.Labels.x}} {{json .Labels}}'), 'map[] <no value> null');
    assert.equal(run('{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}'), 'web 10.0.0.2/24');
    assert.equal(run('{{.IPAM}}'), '{default map[] [{10.0.0.0/24  10.0.0.1 map[]}]}');
    assert.equal(
      run('{{json .IPAM}}'),
      '{"Driver":"default","Options":{},"Config":[{"Subnet":"10.0.0.0/24","Gateway":"10.0.0.1"}]}',
    );
    assert.equal(run('{{.Peers}} {{json .Peers}} {{.EnableIPv4}}'), '[] null false');
  });

  it('falls back to the raw JSON as docker does', () => {
    assert.equal(run('{{.Id}} {{.Created}}'), `${ID('a')} 2024-01-02T03:04:05.210Z`);
    assert.throws(() => run('{{.Nope}}'), /map has no entry for key "Nope"/);
  });

  it('marshals the typed network in Go’s field order', () => {
    const json = JSON.parse(run('{{json .}}')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(json).slice(0, 7), [
      'Name',
      'Id',
      'Created',
      'Scope',
      'Driver',
      'EnableIPv4',
      'EnableIPv6',
    ]);
    assert.equal(json['Labels'], null);
    assert.equal('Peers' in json, false);
  });
});

describe('network create flags', () => {
  it('reads docker’s flags into moby’s request', () => {
    const flags = parseCreate([
      '-d',
      'bridge',
      '--subnet',
      '10.1.0.0/16',
      '--gateway',
      '10.1.0.254',
      '--ip-range',
      '10.1.5.0/24',
      '--aux-address',
      'host1=10.1.0.5',
      '--ipam-opt',
      'foo=bar',
      '--label',
      'a=1',
      '--label',
      'b',
      '-o',
      'com.docker.network.bridge.name=br-x',
      '--internal',
      '--attachable',
      'n1',
    ]);
    assert.deepEqual(createRequest(flags), {
      Driver: 'bridge',
      Scope: '',
      IPAM: {
        Driver: 'default',
        Config: [
          {
            Subnet: '10.1.0.0/16',
            IPRange: '10.1.5.0/24',
            Gateway: '10.1.0.254',
            AuxiliaryAddresses: { host1: '10.1.0.5' },
          },
        ],
        Options: { foo: 'bar' },
      },
      Internal: true,
      Attachable: true,
      Ingress: false,
      ConfigOnly: false,
      Options: { 'com.docker.network.bridge.name': 'br-x' },
      Labels: { a: '1', b: '' },
    });
  });

  it('has docker’s defaults, and sends --ipv4/--ipv6 only when given', () => {
    const plain = createRequest(parseCreate(['n']));
    assert.equal(plain.Driver, 'bridge');
    assert.deepEqual(plain.IPAM, { Driver: 'default', Config: [], Options: {} });
    assert.equal('EnableIPv4' in plain, false);
    assert.equal('EnableIPv6' in plain, false);
    assert.equal('ConfigFrom' in plain, false);
    const set = createRequest(
      parseCreate(['--ipv4=false', '--ipv6', '--config-from', 'base', '--scope', 'local', 'n']),
    );
    assert.equal(set.EnableIPv4, false);
    assert.equal(set.EnableIPv6, true);
    assert.deepEqual(set.ConfigFrom, { Network: 'base' });
    assert.equal(set.Scope, 'local');
    assert.equal(createRequest(parseCreate(['--internal=false', 'n'])).Internal, false);
  });

  it('takes comma-separated and repeated slice flags', () => {
    const flags = parseCreate(['--subnet', '10.1.0.0/24,10.2.0.0/24', '--subnet', '10.3.0.0/24', 'n']);
    assert.deepEqual(flags.subnet, ['10.1.0.0/24', '10.2.0.0/24', '10.3.0.0/24']);
    assert.deepEqual(
      createRequest(flags).IPAM?.Config?.map((c) => c.Subnet),
      ['10.1.0.0/24', '10.2.0.0/24', '10.3.0.0/24'],
    );
    assert.deepEqual(sliceFlag('--x')('"a,b",c'), ['a,b', 'c']);
    assert.throws(
      () => sliceFlag('--alias')('a"b'),
      (err: unknown) => {
        assert.ok(err instanceof CliError);
        assert.equal(err.exitCode, 125);
        assert.match(
          err.message,
          /^invalid argument "a"b" for "--alias" flag: parse error on line 1, column 2: bare " in non-quoted-field$/,
        );
        return true;
      },
    );
  });

  it('refuses bad labels while parsing, as docker does', () => {
    assert.throws(
      () => parseCreate(['--label', '=x', 'n']),
      /invalid argument "=x" for "--label" flag: invalid label '=x': empty name/,
    );
  });

  it('matches ranges, gateways and aux addresses to their subnets with docker’s errors', () => {
    const ipam = (subnets: string[], extra: Partial<Parameters<typeof createIpamConfig>[0]> = {}) =>
      createIpamConfig({
        driver: 'default',
        subnets,
        ipRanges: [],
        gateways: [],
        auxAddresses: {},
        driverOpts: {},
        ...extra,
      });
    assert.throws(
      () => ipam([], { gateways: ['10.0.0.1'] }),
      /^Error: every ip-range or gateway must have a corresponding subnet$/,
    );
    assert.throws(
      () => ipam(['10.0.0.0/16', '10.0.1.0/24']),
      /multiple overlapping subnet configuration is not supported/,
    );
    assert.throws(
      () => ipam(['10.0.0.0/24'], { gateways: ['10.9.0.1'] }),
      /no matching subnet for gateway 10\.9\.0\.1/,
    );
    assert.throws(
      () => ipam(['10.0.0.0/24'], { ipRanges: ['10.9.0.0/25'] }),
      /no matching subnet for range 10\.9\.0\.0\/25/,
    );
    assert.throws(
      () => ipam(['10.0.0.0/24'], { ipRanges: ['bogus'] }),
      /^Error: invalid CIDR address: bogus$/,
    );
    assert.throws(() => ipam(['10.0.0.0/24', 'x/1']), /invalid subnet: invalid CIDR address: x\/1/);
    assert.throws(
      () => ipam(['10.0.0.0/24', '10.1.0.0/24'], { gateways: ['10.0.0.1', '10.0.0.2'] }),
      /cannot configure multiple gateways \(10\.0\.0\.2, 10\.0\.0\.1\) for the same subnet \(10\.0\.0\.0\/24\)/,
    );
    assert.throws(
      () => ipam(['10.0.0.0/24', '10.1.0.0/24'], { ipRanges: ['10.0.0.0/25', '10.0.0.128/25'] }),
      /cannot configure multiple ranges \(10\.0\.0\.128\/25, 10\.0\.0\.0\/25\) on the same subnet \(10\.0\.0\.0\/24\)/,
    );
    assert.throws(
      () => ipam(['10.0.0.0/24'], { auxAddresses: { a: '10.5.0.1' } }),
      /no matching subnet for aux-address 10\.5\.0\.1/,
    );
    assert.deepEqual(ipam(['10.0.0.0/24', 'fd00::/64'], { gateways: ['fd00::1', '10.0.0.1'] }).Config, [
      { Subnet: '10.0.0.0/24', Gateway: '10.0.0.1' },
      { Subnet: 'fd00::/64', Gateway: 'fd00::1' },
    ]);
  });

  it('reads CIDRs and addresses as Go’s net package', () => {
    assert.equal(subnetMatches('10.0.0.0/8', '10.255.1.2'), true);
    assert.equal(subnetMatches('10.0.0.0/8', '11.0.0.1'), false);
    assert.equal(subnetMatches('10.0.0.0/8', '10.1.0.0/16'), true);
    assert.equal(subnetMatches('10.0.0.0/8', 'not-an-ip'), false);
    assert.equal(subnetMatches('fd00::/64', 'fd00::abcd'), true);
    assert.equal(subnetMatches('fd00::/64', 'fd01::1'), false);
    assert.equal(subnetMatches('fd00::/64', '10.0.0.1'), false);
    assert.equal(subnetMatches('10.0.0.0/8', '::ffff:10.1.2.3'), true);
    assert.equal(parseCidr('10.1.2.3/16').prefix, 16);
    assert.throws(() => parseCidr('10.0.0.0/33'), /invalid CIDR address: 10\.0\.0\.0\/33/);
    assert.throws(() => parseCidr('10.0.0.0'), /invalid CIDR address: 10\.0\.0\.0/);
  });
});

describe('network connect flags', () => {
  it('sends aliases, address, links and driver options', () => {
    const flags = parseConnect([
      '--alias',
      'a1,a2',
      '--alias',
      'a3',
      '--ip',
      '172.30.0.5',
      '--link',
      'db:database',
      '--driver-opt',
      ' k = v ',
      'n1',
      'c1',
    ]);
    assert.deepEqual(connectEndpoint(flags), {
      IPAMConfig: { IPv4Address: '172.30.0.5' },
      Links: ['db:database'],
      Aliases: ['a1', 'a2', 'a3'],
      DriverOpts: { k: 'v' },
    });
    assert.deepEqual(connectEndpoint({}), { IPAMConfig: {}, Links: [], Aliases: [], DriverOpts: {} });
  });

  it('refuses what docker refuses', () => {
    assert.throws(() => convertDriverOpts(['novalue']), /invalid key\/value pair format in driver options/);
    assert.throws(() => convertDriverOpts(['=v']), /invalid key\/value pair format in driver options/);
    assert.throws(
      () => parseConnect(['--link', 'a:b:c', 'n', 'c']),
      /invalid argument "a:b:c" for "--link" flag: bad format for links: a:b:c/,
    );
  });
});

describe('network prune output', () => {
  it('lists the deleted networks, or nothing', () => {
    assert.equal(renderNetworkPrune({ NetworksDeleted: ['a', 'b'] }), 'Deleted Networks:\na\nb\n');
    assert.equal(renderNetworkPrune({ NetworksDeleted: [] }), '');
    assert.equal(renderNetworkPrune({}), '');
  });
});
