import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { AddressPool, parseSubnet, pickSubnet } from './ipam.js';

describe('AddressPool', () => {
  it('hands out the lowest free address, never the gateway', () => {
    const pool = new AddressPool(parseSubnet('10.231.5.0/24'), undefined);
    assert.equal(pool.gateway, '10.231.5.1');
    assert.equal(pool.allocate(), '10.231.5.2');
    assert.equal(pool.allocate(), '10.231.5.3');
    pool.release('10.231.5.2');
    assert.equal(pool.allocate(), '10.231.5.2');
  });
  it('honours requested addresses and refuses taken ones', () => {
    const pool = new AddressPool(parseSubnet('10.231.5.0/24'), '10.231.5.254');
    assert.equal(pool.allocate('10.231.5.100'), '10.231.5.100');
    assert.throws(() => pool.allocate('10.231.5.100'), /Address already in use/);
    assert.throws(() => pool.allocate('10.9.9.9'), /no configured subnet/);
    assert.equal(pool.allocate(), '10.231.5.1');
  });
  it('runs out cleanly', () => {
    const pool = new AddressPool(parseSubnet('10.0.0.0/30'), undefined);
    assert.equal(pool.allocate(), '10.0.0.2');
    assert.throws(() => pool.allocate(), /no available IPv4 addresses/);
  });
});

describe('pickSubnet', () => {
  it('skips subnets that overlap what is taken', () => {
    const s = pickSubnet(
      [{ base: '10.231.0.0/16', size: 24 }],
      [parseSubnet('10.231.0.0/24'), parseSubnet('10.231.1.0/24')],
    );
    assert.equal(s.cidr, '10.231.2.0/24');
  });
  it('normalizes CIDRs', () => {
    assert.equal(parseSubnet('10.1.2.3/24').cidr, '10.1.2.0/24');
    assert.throws(() => parseSubnet('10.1.2/24'), /invalid CIDR/);
  });
});
