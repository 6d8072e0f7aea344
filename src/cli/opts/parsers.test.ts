import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  kvStringsToMap,
  parseKeyValueFile,
  parseKeyValueText,
  parseLoggingOpts,
  readKVEnvStrings,
  validateEnv,
  validateLabel,
  validateSysctl,
} from './kv.js';
import {
  parseRestartPolicy,
  parseSecurityOpts,
  parseUlimit,
  ulimitList,
  validateAttach,
  validateDeviceCgroupRule,
  validateLink,
} from './misc.js';
import { parseDevice, parseMount, parseTmpfs, parseVolumeSpec, splitVolumes } from './mounts.js';
import {
  canonicalIp,
  convertToStandardNotation,
  parseCsvRecord,
  parseExposeRange,
  parseNetworkOpt,
  parsePort,
  parsePortSpec,
  parsePortSpecs,
  validateDnsSearch,
  validateExtraHost,
  validateIpAddress,
} from './network.js';

const env = (vars: Record<string, string>) => (name: string) => vars[name];

describe('-e, --env-file, -l, --label-file', () => {
  it('validates -e values, taking bare names from the environment', () => {
    assert.equal(validateEnv('A=1', env({})), 'A=1');
    assert.equal(validateEnv('A=', env({})), 'A=');
    assert.equal(validateEnv('HOME', env({ HOME: '/root' })), 'HOME=/root');
    assert.equal(validateEnv('UNSET', env({})), 'UNSET');
    assert.throws(() => validateEnv('=x'), { message: 'invalid environment variable: =x' });
  });

  it('parses env files as pkg/kvfile', () => {
    const text = '\ufeff# comment\n\n  A=1\nB= spaced \r\nC\nD=\nE=a=b\n';
    assert.deepEqual(parseKeyValueText(text, env({ C: 'from-env' })), [
      'A=1',
      'B= spaced ',
      'C=from-env',
      'D=',
      'E=a=b',
    ]);
    assert.deepEqual(parseKeyValueText('C\n', undefined), []);
    assert.throws(() => parseKeyValueText('=x\n'), { message: "no variable name on line '=x'" });
    assert.throws(() => parseKeyValueText('A B=1\n'), { message: "variable 'A B' contains whitespaces" });
    assert.throws(() => parseKeyValueText(Buffer.from([0x41, 0x3d, 0xff, 0x0a])), {
      message: 'invalid utf8 bytes at line 1: [65 61 255]',
    });
  });

  it('reports file errors as docker does', () => {
    const read = (path: string): Buffer => {
      if (path === 'bad.env') return Buffer.from('A B=1\n');
      throw Object.assign(new Error('nope'), { code: 'ENOENT' });
    };
    assert.throws(() => parseKeyValueFile('missing.env', undefined, read), {
      message: 'open missing.env: no such file or directory',
    });
    assert.throws(() => parseKeyValueFile('bad.env', undefined, read), {
      message: "invalid env file (bad.env): variable 'A B' contains whitespaces",
    });
    const files = (path: string): Buffer => Buffer.from(path === 'a.env' ? 'A=file\nB=file\n' : '');
    assert.deepEqual(readKVEnvStrings(['a.env'], ['B=flag'], env({}), files), ['A=file', 'B=file', 'B=flag']);
    assert.deepEqual(kvStringsToMap(['A=file', 'B=file', 'B=flag', 'C']), { A: 'file', B: 'flag', C: '' });
  });

  it('validates labels, sysctls and log options', () => {
    assert.equal(validateLabel('a=b'), 'a=b');
    assert.equal(validateLabel('a'), 'a');
    assert.throws(() => validateLabel('=b'), { message: "invalid label '=b': empty name" });
    assert.throws(() => validateLabel('a b=c'), { message: "label 'a b' contains whitespaces" });
    assert.equal(validateSysctl('net.ipv4.ip_forward=1'), 'net.ipv4.ip_forward=1');
    assert.equal(validateSysctl('kernel.shmmax=1'), 'kernel.shmmax=1');
    assert.throws(() => validateSysctl('kernel.pid_max=1'), {
      message: "sysctl 'kernel.pid_max=1' is not allowed",
    });
    assert.throws(() => validateSysctl('net.x'), { message: "sysctl 'net.x' is not allowed" });
    assert.deepEqual(parseLoggingOpts('json-file', ['max-size=10m']), { 'max-size': '10m' });
    assert.throws(() => parseLoggingOpts('none', ['a=b']), {
      message: 'invalid logging opts for driver none',
    });
  });
});

describe('network flags', () => {
  it('canonicalizes addresses as Go does', () => {
    assert.equal(canonicalIp('1.2.3.4'), '1.2.3.4');
    assert.equal(canonicalIp('0:0:0:0:0:0:0:1'), '::1');
    assert.equal(canonicalIp('::ffff:1.2.3.4'), '1.2.3.4');
    assert.equal(canonicalIp('2001:DB8::1'), '2001:db8::1');
    assert.equal(canonicalIp('1.2.3'), undefined);
    assert.equal(validateIpAddress(' 8.8.8.8 '), '8.8.8.8');
    assert.throws(() => validateIpAddress('8.8.8'), {
      message: 'IP address is not correctly formatted: 8.8.8',
    });
  });

  it('validates --dns-search and --add-host', () => {
    assert.equal(validateDnsSearch('example.com'), 'example.com');
    assert.equal(validateDnsSearch('.'), '.');
    assert.throws(() => validateDnsSearch('123'), { message: '123 is not a valid domain' });
    assert.throws(() => validateDnsSearch('-bad.com'), { message: '-bad.com is not a valid domain' });
    assert.equal(validateExtraHost('db:10.0.0.2'), 'db:10.0.0.2');
    assert.equal(validateExtraHost('db=10.0.0.2'), 'db:10.0.0.2');
    assert.equal(validateExtraHost('db=[::1]'), 'db:::1');
    assert.equal(validateExtraHost('db:::1'), 'db:::1');
    assert.equal(validateExtraHost('gw:host-gateway'), 'gw:host-gateway');
    assert.throws(() => validateExtraHost('db'), { message: 'bad format for add-host: "db"' });
    assert.throws(() => validateExtraHost('db:nope'), { message: 'invalid IP address in add-host: "nope"' });
  });

  it('parses -p specs as go-connections/nat', () => {
    assert.deepEqual(parsePortSpec('80'), [{ port: '80/tcp', binding: { HostIp: '', HostPort: '' } }]);
    assert.deepEqual(parsePortSpec('8080:80'), [
      { port: '80/tcp', binding: { HostIp: '', HostPort: '8080' } },
    ]);
    assert.deepEqual(parsePortSpec('127.0.0.1:8080:80/udp'), [
      { port: '80/udp', binding: { HostIp: '127.0.0.1', HostPort: '8080' } },
    ]);
    assert.deepEqual(parsePortSpec('[::1]:8080:80'), [
      { port: '80/tcp', binding: { HostIp: '::1', HostPort: '8080' } },
    ]);
    assert.deepEqual(parsePortSpec('127.0.0.1::80'), [
      { port: '80/tcp', binding: { HostIp: '127.0.0.1', HostPort: '' } },
    ]);
    assert.deepEqual(parsePortSpec('8000-8001:80-81'), [
      { port: '80/tcp', binding: { HostIp: '', HostPort: '8000' } },
      { port: '81/tcp', binding: { HostIp: '', HostPort: '8001' } },
    ]);
    assert.deepEqual(parsePortSpec('8000-8010:80'), [
      { port: '80/tcp', binding: { HostIp: '', HostPort: '8000-8010' } },
    ]);
    assert.throws(() => parsePortSpec('80/xyz'), { message: 'invalid proto: xyz' });
    assert.throws(() => parsePortSpec('8080:'), { message: 'no port specified: 8080:<empty>' });
    assert.throws(() => parsePortSpec('abc:80'), { message: 'invalid hostPort: abc' });
    assert.throws(() => parsePortSpec('80:abc'), { message: 'invalid containerPort: abc' });
    assert.throws(() => parsePortSpec('1.2.3:80:80'), { message: 'invalid IP address: 1.2.3' });
    assert.throws(() => parsePortSpec('8000-8002:80-81'), {
      message: 'invalid ranges specified for container and host Ports: 80-81 and 8000-8002',
    });
    assert.deepEqual(
      convertToStandardNotation(['published=8080,target=80', 'target=53,protocol=udp', '9000']),
      ['8080:80/tcp', ':53/udp', '9000'],
    );
    assert.throws(() => convertToStandardNotation(['published=1,x']), {
      message: "invalid publish opts format (should be name=value but got 'x')",
    });
    assert.deepEqual(parsePortSpecs(['8080:80', '8081:80']), {
      exposed: ['80/tcp'],
      bindings: {
        '80/tcp': [
          { HostIp: '', HostPort: '8080' },
          { HostIp: '', HostPort: '8081' },
        ],
      },
    });
  });

  it('parses --expose ranges and port arguments', () => {
    assert.deepEqual(parseExposeRange('80'), ['80/tcp']);
    assert.deepEqual(parseExposeRange('53/udp'), ['53/udp']);
    assert.deepEqual(parseExposeRange('8000-8002'), ['8000/tcp', '8001/tcp', '8002/tcp']);
    assert.throws(() => parseExposeRange('x'), { message: 'strconv.ParseUint: parsing "x": invalid syntax' });
    assert.throws(() => parseExposeRange('90-80'), { message: 'invalid range specified for port: 90-80' });
    assert.equal(parsePort('80'), '80/tcp');
    assert.equal(parsePort('53/udp'), '53/udp');
    assert.throws(() => parsePort('http'), { message: "invalid port 'http': invalid syntax" });
  });

  it('parses --network in both forms', () => {
    assert.deepEqual(parseNetworkOpt('mynet'), { target: 'mynet', aliases: [] });
    assert.deepEqual(parseNetworkOpt('name=mynet,alias=web,alias=www,ip=10.0.0.5,driver-opt=a=b'), {
      target: 'mynet',
      aliases: ['web', 'www'],
      ipv4Address: '10.0.0.5',
      driverOpts: { a: 'b' },
    });
    assert.throws(() => parseNetworkOpt('alias=web'), { message: 'network name/id is not specified' });
    assert.throws(() => parseNetworkOpt('name=n,foo=bar'), { message: 'invalid field key foo' });
    assert.deepEqual(parseCsvRecord('a,"b,c",d'), ['a', 'b,c', 'd']);
    assert.deepEqual(parseCsvRecord('"say ""hi"""'), ['say "hi"']);
  });
});

describe('mount flags', () => {
  it('parses -v specs as volumespec', () => {
    assert.deepEqual(parseVolumeSpec('/data'), {
      type: 'volume',
      source: '',
      target: '/data',
      readOnly: false,
    });
    assert.deepEqual(parseVolumeSpec('/host:/ctr'), {
      type: 'bind',
      source: '/host',
      target: '/ctr',
      readOnly: false,
    });
    assert.deepEqual(parseVolumeSpec('/host:/ctr:ro'), {
      type: 'bind',
      source: '/host',
      target: '/ctr',
      readOnly: true,
    });
    assert.deepEqual(parseVolumeSpec('vol:/ctr:rw,nocopy'), {
      type: 'volume',
      source: 'vol',
      target: '/ctr',
      readOnly: false,
    });
    assert.throws(() => parseVolumeSpec(''), { message: 'invalid empty volume spec' });
    assert.throws(() => parseVolumeSpec('/a::/b'), {
      message: 'invalid spec: /a::/b: empty section between colons',
    });
    assert.throws(() => parseVolumeSpec('/a:/b:ro:x'), {
      message: 'invalid spec: /a:/b:ro:x: too many colons',
    });
  });

  it('splits -v values into binds and anonymous volumes', () => {
    assert.deepEqual(splitVolumes(['/data', './src:/src:ro', 'cache:/cache', '/data'], '/home/me'), {
      binds: ['/home/me/src:/src:ro', 'cache:/cache'],
      volumes: { '/data': {} },
    });
  });

  it('parses --mount as docker MountOpt', () => {
    assert.deepEqual(parseMount('type=bind,src=/host,dst=/ctr,readonly'), {
      Type: 'bind',
      Source: '/host',
      Target: '/ctr',
      ReadOnly: true,
    });
    assert.deepEqual(parseMount('source=vol,target=/data,volume-nocopy,volume-label=a=b'), {
      Type: 'volume',
      Source: 'vol',
      Target: '/data',
      VolumeOptions: { NoCopy: true, Labels: { a: 'b' } },
    });
    assert.deepEqual(parseMount('type=tmpfs,dst=/run,tmpfs-size=64m,tmpfs-mode=1770'), {
      Type: 'tmpfs',
      Target: '/run',
      TmpfsOptions: { SizeBytes: 64 * 1024 * 1024, Mode: 0o1770 },
    });
    assert.deepEqual(parseMount('type=bind,src=./x,dst=/x,bind-propagation=rshared', '/w'), {
      Type: 'bind',
      Source: '/w/x',
      Target: '/x',
      BindOptions: { Propagation: 'rshared' },
    });
    assert.throws(() => parseMount('type=volume,src=v,dst=/d,tmpfs-size=1m'), {
      message: "cannot mix 'tmpfs-*' options with mount type 'volume'",
    });
    assert.throws(() => parseMount('type=bind,src'), {
      message: "invalid field 'src' must be a key=value pair",
    });
    assert.throws(() => parseMount('type=tmpfs,dst=/x,tmpfs-size=big'), {
      message: 'invalid value for tmpfs-size: big',
    });
    assert.throws(() => parseMount('type=bind,foo=bar'), { message: "unknown option 'foo' in 'foo=bar'" });
    assert.throws(() => parseMount('type=bind,src=/x'), { message: 'target is required' });
    assert.throws(() => parseMount('ro=maybe'), {
      message:
        'invalid value for \'ro\': invalid boolean value ("maybe"): must be one of "true", "1", "false", or "0" (default "true")',
    });
    assert.throws(() => parseMount(''), { message: 'value is empty' });
  });

  it('parses --tmpfs and --device', () => {
    assert.deepEqual(parseTmpfs(['/run', '/tmp:rw,size=64m']), { '/run': '', '/tmp': 'rw,size=64m' });
    assert.deepEqual(parseDevice('/dev/fuse'), {
      PathOnHost: '/dev/fuse',
      PathInContainer: '/dev/fuse',
      CgroupPermissions: 'rwm',
    });
    assert.deepEqual(parseDevice('/dev/sda:/dev/xvda:r'), {
      PathOnHost: '/dev/sda',
      PathInContainer: '/dev/xvda',
      CgroupPermissions: 'r',
    });
    assert.deepEqual(parseDevice('/dev/snd:rw'), {
      PathOnHost: '/dev/snd',
      PathInContainer: '/dev/snd',
      CgroupPermissions: 'rw',
    });
    assert.throws(() => parseDevice('/dev/sda:dev'), { message: 'dev is not an absolute path' });
    assert.throws(() => parseDevice('/a:/b:x'), { message: 'bad mode specified: x' });
  });
});

describe('other run flags', () => {
  it('parses --restart', () => {
    assert.deepEqual(parseRestartPolicy(''), {});
    assert.deepEqual(parseRestartPolicy('always'), { Name: 'always', MaximumRetryCount: 0 });
    assert.deepEqual(parseRestartPolicy('on-failure:3'), { Name: 'on-failure', MaximumRetryCount: 3 });
    assert.throws(() => parseRestartPolicy(':3'), {
      message: 'invalid restart policy format: no policy provided before colon',
    });
    assert.throws(() => parseRestartPolicy('on-failure:x'), {
      message: 'invalid restart policy format: maximum retry count must be an integer',
    });
  });

  it('parses --ulimit as go-units', () => {
    assert.deepEqual(parseUlimit('nofile=1024'), { Name: 'nofile', Soft: 1024, Hard: 1024 });
    assert.deepEqual(parseUlimit('nofile=1024:2048'), { Name: 'nofile', Soft: 1024, Hard: 2048 });
    assert.deepEqual(parseUlimit('core=-1'), { Name: 'core', Soft: -1, Hard: -1 });
    assert.throws(() => parseUlimit('nofile'), { message: 'invalid ulimit argument: nofile' });
    assert.throws(() => parseUlimit('files=1'), { message: 'invalid ulimit type: files' });
    assert.throws(() => parseUlimit('nofile=2:1'), {
      message: 'ulimit soft limit must be less than or equal to hard limit: 2 > 1',
    });
    assert.throws(() => parseUlimit('nofile=-1:10'), {
      message: 'ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: 10',
    });
    assert.throws(() => parseUlimit('nofile=1:2:3'), {
      message: 'too many limit value arguments - 1:2:3, can only have up to two, `soft[:hard]`',
    });
    assert.throws(() => parseUlimit('nofile=x'), {
      message: 'strconv.ParseInt: parsing "x": invalid syntax',
    });
    assert.deepEqual(ulimitList([parseUlimit('nproc=1'), parseUlimit('core=2'), parseUlimit('nproc=3')]), [
      { Name: 'core', Soft: 2, Hard: 2 },
      { Name: 'nproc', Soft: 3, Hard: 3 },
    ]);
  });

  it('validates -a, --link, --device-cgroup-rule and --security-opt', () => {
    assert.equal(validateAttach('STDOUT'), 'stdout');
    assert.throws(() => validateAttach('stdall'), { message: 'valid streams are STDIN, STDOUT and STDERR' });
    assert.equal(validateLink('db:database'), 'db:database');
    assert.throws(() => validateLink('a:b:c'), { message: 'bad format for links: a:b:c' });
    assert.equal(validateDeviceCgroupRule('c 1:3 mr'), 'c 1:3 mr');
    assert.throws(() => validateDeviceCgroupRule('x'), { message: "invalid device cgroup format 'x'" });
    assert.deepEqual(parseSecurityOpts(['no-new-privileges', 'label=disable', 'apparmor:unconfined']), [
      'no-new-privileges',
      'label=disable',
      'apparmor:unconfined',
    ]);
    assert.deepEqual(
      parseSecurityOpts(['seccomp=p.json'], () => '{ "a" : 1 }'),
      ['seccomp={"a":1}'],
    );
    assert.throws(() => parseSecurityOpts(['label']), { message: 'Invalid --security-opt: "label"' });
  });
});
