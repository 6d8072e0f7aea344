import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { TEST_BIN } from '../../test/helpers/daemon.js';
import {
  CredentialHelperError,
  DockerConfigError,
  DockerConfigFile,
  INDEX_SERVER,
  authConfigKey,
  convertToHostname,
  decodeAuth,
  dockerConfigPath,
  encodeAuth,
  registryAuthOf,
  registryKeyForImage,
} from './docker-config.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'berth-docker-config-test-'));
}

describe('docker-config: where the file is', () => {
  it('honours DOCKER_CONFIG, else ~/.docker', () => {
    assert.equal(dockerConfigPath({ DOCKER_CONFIG: '/x/y' }), '/x/y/config.json');
    assert.match(dockerConfigPath({}), /\/\.docker\/config\.json$/);
  });
});

describe('docker-config: registry keys', () => {
  it('uses the index server for Docker Hub images, the host for others', () => {
    assert.equal(registryKeyForImage('alpine'), INDEX_SERVER);
    assert.equal(registryKeyForImage('me/app:1'), INDEX_SERVER);
    assert.equal(registryKeyForImage('docker.io/library/alpine:latest'), INDEX_SERVER);
    assert.equal(registryKeyForImage('index.docker.io/me/app'), INDEX_SERVER);
    assert.equal(registryKeyForImage('localhost:5000/team/app:1.0'), 'localhost:5000');
    assert.equal(registryKeyForImage('ghcr.io/o/r@sha256:' + 'a'.repeat(64)), 'ghcr.io');
    assert.equal(registryKeyForImage('localhost/app'), 'localhost');
    assert.equal(authConfigKey('docker.io'), INDEX_SERVER);
    assert.throws(() => registryKeyForImage('Bad'), { name: 'ReferenceError' });
  });

  it('reduces server addresses to hosts as docker ConvertToHostname', () => {
    const cases: readonly [string, string][] = [
      ['https://index.docker.io/v1/', 'index.docker.io'],
      ['http://localhost:5000/v2/', 'localhost:5000'],
      ['https://user@r.example.com:443/x', 'r.example.com:443'],
      ['localhost:5000', 'localhost:5000'],
      ['r.example.com/some/path', 'r.example.com'],
      ['https://[::1]:5000/', '[::1]:5000'],
      ['https://[::1]/', '::1'],
    ];
    for (const [input, want] of cases) assert.equal(convertToHostname(input), want, input);
  });

  it('encodes and decodes auth values', () => {
    assert.equal(encodeAuth('user', 'pa:ss'), 'dXNlcjpwYTpzcw==');
    assert.deepEqual(decodeAuth('dXNlcjpwYTpzcw=='), { username: 'user', password: 'pa:ss' });
    assert.equal(encodeAuth('', ''), '');
    assert.throws(
      () => decodeAuth(Buffer.from('nocolon').toString('base64')),
      /invalid auth configuration file/,
    );
  });
});

describe('docker-config: round trip', () => {
  it('stores credentials as docker does, keeping the other keys, mode 0600', () => {
    const dir = tempDir();
    try {
      const path = join(dir, 'config.json');
      writeFileSync(
        path,
        JSON.stringify({
          psFormat: 'table {{.ID}}',
          currentContext: 'default',
          auths: { 'z.example.com': { auth: encodeAuth('z', 'zz') } },
          plugins: { x: { y: 'z' } },
        }),
        { mode: 0o644 },
      );
      const config = DockerConfigFile.load(path);
      assert.equal(
        config.storeAuth({ username: 'user', password: 'pass', serveraddress: 'localhost:5000' }),
        true,
      );
      assert.equal(
        config.storeAuth({ username: 'me', password: 'sekrit', serveraddress: INDEX_SERVER }),
        true,
      );
      config.save();

      assert.equal(
        readFileSync(path, 'utf8'),
        [
          '{',
          '\t"auths": {',
          '\t\t"https://index.docker.io/v1/": {',
          '\t\t\t"auth": "bWU6c2Vrcml0"',
          '\t\t},',
          '\t\t"localhost:5000": {',
          '\t\t\t"auth": "dXNlcjpwYXNz"',
          '\t\t},',
          '\t\t"z.example.com": {',
          '\t\t\t"auth": "ejp6eg=="',
          '\t\t}',
          '\t},',
          '\t"psFormat": "table {{.ID}}",',
          '\t"currentContext": "default",',
          '\t"plugins": {',
          '\t\t"x": {',
          '\t\t\t"y": "z"',
          '\t\t}',
          '\t}',
          '}',
        ].join('\n'),
      );
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.deepEqual(readdirSync(dir), ['config.json'], 'no temp file left behind');

      const again = DockerConfigFile.load(path);
      assert.deepEqual(again.getAuth('localhost:5000'), {
        username: 'user',
        password: 'pass',
        serveraddress: 'localhost:5000',
      });
      assert.equal(again.authForImage('alpine')?.username, 'me');
      assert.equal(again.authForImage('localhost:5000/a/b:1')?.password, 'pass');
      assert.equal(again.authForImage('ghcr.io/x/y'), undefined);
      assert.equal(
        again.storeAuth({ username: 'user', password: 'pass', serveraddress: 'localhost:5000' }),
        false,
        'an identical entry is not rewritten',
      );

      assert.equal(again.eraseAuth('localhost:5000'), true);
      assert.equal(again.eraseAuth('localhost:5000'), false);
      again.save();
      assert.deepEqual(DockerConfigFile.load(path).servers(), [INDEX_SERVER, 'z.example.com']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('finds entries keyed by URL through their host, and keeps tokens', () => {
    const dir = tempDir();
    try {
      const path = join(dir, 'config.json');
      writeFileSync(
        path,
        JSON.stringify({
          auths: { 'https://r.example.com:5000/v2/': { auth: encodeAuth('u', 'p'), identitytoken: 'tok' } },
        }),
      );
      const stored = DockerConfigFile.load(path).authForImage('r.example.com:5000/app');
      assert.deepEqual(stored, {
        username: 'u',
        password: 'p',
        serveraddress: 'https://r.example.com:5000/v2/',
        identitytoken: 'tok',
      });
      assert.deepEqual(registryAuthOf(stored), {
        username: 'u',
        password: 'p',
        serveraddress: 'https://r.example.com:5000/v2/',
        identitytoken: 'tok',
      });
      assert.deepEqual(registryAuthOf(undefined), {});
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('creates the directory and file when missing, and writes through a symlink', () => {
    const dir = tempDir();
    try {
      const path = join(dir, 'sub', 'config.json');
      const config = DockerConfigFile.load(path);
      assert.deepEqual(config.servers(), []);
      config.storeAuth({ username: 'a', password: 'b', serveraddress: INDEX_SERVER });
      config.save();
      assert.equal(
        readFileSync(path, 'utf8'),
        '{\n\t"auths": {\n\t\t"https://index.docker.io/v1/": {\n\t\t\t"auth": "YTpi"\n\t\t}\n\t}\n}',
      );

      mkdirSync(join(dir, 'real'));
      writeFileSync(join(dir, 'real', 'config.json'), '{}');
      symlinkSync(join(dir, 'real', 'config.json'), join(dir, 'link.json'));
      const linked = DockerConfigFile.load(join(dir, 'link.json'));
      linked.storeAuth({ username: 'a', password: 'b', serveraddress: 'x:1' });
      linked.save();
      assert.match(readFileSync(join(dir, 'real', 'config.json'), 'utf8'), /"x:1"/);
      assert.ok(statSync(join(dir, 'link.json')).isFile());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a malformed file, or warns and carries on when only reading', () => {
    const dir = tempDir();
    try {
      const path = join(dir, 'config.json');
      writeFileSync(path, '{not json');
      assert.throws(() => DockerConfigFile.load(path), DockerConfigError);
      const warnings: string[] = [];
      const config = DockerConfigFile.loadOrWarn((m) => warnings.push(m), path);
      assert.deepEqual(config.servers(), []);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0] ?? '', /^WARNING: Error parsing config file \(.*config\.json\): /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('docker-config: credential helpers', () => {
  let creds = '';
  const path = process.env['PATH'];
  before(() => {
    creds = tempDir();
    process.env['PATH'] = `${TEST_BIN}:${path ?? ''}`;
    process.env['BERTH_TEST_CREDS'] = creds;
  });
  after(() => {
    process.env['PATH'] = path;
    delete process.env['BERTH_TEST_CREDS'];
    rmSync(creds, { recursive: true, force: true });
  });

  const configWith = (settings: Record<string, unknown>): DockerConfigFile => {
    const file = join(tempDir(), 'config.json');
    writeFileSync(file, JSON.stringify(settings));
    return DockerConfigFile.load(file);
  };

  it('keeps credentials in credsStore, the file only an entry without them', () => {
    const config = configWith({ credsStore: 'berthtest' });
    assert.equal(config.helperFor('localhost:5000'), 'docker-credential-berthtest');
    assert.equal(config.getAuth('localhost:5000'), undefined, 'nothing stored yet');
    config.storeAuth({ username: 'me', password: 's3cret', serveraddress: 'localhost:5000', email: 'me@x' });
    config.save();
    const onDisk = JSON.parse(readFileSync(config.path, 'utf8')) as { auths: Record<string, unknown> };
    assert.deepEqual(onDisk.auths, { 'localhost:5000': { email: 'me@x' } });
    assert.equal(readdirSync(creds).length, 1, 'the helper has them');
    assert.deepEqual(DockerConfigFile.load(config.path).getAuth('localhost:5000'), {
      username: 'me',
      password: 's3cret',
      serveraddress: 'localhost:5000',
      email: 'me@x',
    });
    assert.equal(config.eraseAuth('localhost:5000'), true);
    assert.equal(config.getAuth('localhost:5000'), undefined);
    assert.equal(config.eraseAuth('localhost:5000'), false, 'erasing twice is no error');
  });

  it('prefers credHelpers for its server, and keeps identity tokens as <token>', () => {
    const config = configWith({ credsStore: 'nosuchhelper', credHelpers: { 'r.example:5000': 'berthtest' } });
    config.storeAuth({ username: '', password: '', serveraddress: 'r.example:5000', identitytoken: 'tok' });
    const stored = readFileSync(join(creds, readdirSync(creds)[0] ?? ''), 'utf8');
    assert.deepEqual(JSON.parse(stored), { ServerURL: 'r.example:5000', Username: '<token>', Secret: 'tok' });
    assert.deepEqual(config.getAuth('r.example:5000'), {
      username: '',
      password: '',
      serveraddress: 'r.example:5000',
      identitytoken: 'tok',
    });
    config.eraseAuth('r.example:5000');
    // Other servers go to credsStore, which is not installed: a clear error.
    assert.throws(
      () => config.getAuth('other.example'),
      (err: Error) =>
        err instanceof CredentialHelperError &&
        /exec: "docker-credential-nosuchhelper": executable file not found/.test(err.message),
    );
  });
});
