import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { InsecureRegistries, isLoopbackHost, normalizeHost, splitHostPort } from './hosts.js';

describe('registry/hosts', () => {
  it('normalizes Docker Hub aliases and URLs', () => {
    assert.equal(normalizeHost('https://index.docker.io/v1/'), 'docker.io');
    assert.equal(normalizeHost('registry-1.docker.io'), 'docker.io');
    assert.equal(normalizeHost('http://Example.com:5000/'), 'example.com:5000');
    assert.equal(normalizeHost('127.0.0.1:5000'), '127.0.0.1:5000');
  });

  it('splits host and port, IPv6 included', () => {
    assert.deepEqual(splitHostPort('[::1]:5000'), { hostname: '::1', port: '5000' });
    assert.deepEqual(splitHostPort('::1'), { hostname: '::1', port: undefined });
    assert.deepEqual(splitHostPort('example.com:443'), { hostname: 'example.com', port: '443' });
  });

  it('knows loopback hosts', () => {
    for (const h of ['localhost', 'localhost:5000', '127.0.0.1:5000', '127.3.4.5', '[::1]:5000', '::1']) {
      assert.ok(isLoopbackHost(h), h);
    }
    for (const h of ['example.com', '10.0.0.1:5000', '[fd00::1]:5000', 'localhost.example.com']) {
      assert.ok(!isLoopbackHost(h), h);
    }
  });

  it('matches insecure registries by name, host:port and CIDR', async () => {
    const insecure = new InsecureRegistries(['myreg:5000', 'other.example', '10.1.0.0/16', 'fd00::/8']);
    assert.ok(await insecure.matches('myreg:5000'));
    assert.ok(!(await insecure.matches('myreg:5001')));
    assert.ok(await insecure.matches('other.example:443'));
    assert.ok(await insecure.matches('10.1.2.3:5000'));
    assert.ok(!(await insecure.matches('10.2.0.1')));
    assert.ok(await insecure.matches('[fd00::5]:5000'));
  });
});
