import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { FilterArgs } from '../../util/filters.js';
import { eventMatches, familiarName } from './filter.js';
import type { EngineEvent } from './types.js';

function ev(partial: Partial<EngineEvent> & Pick<EngineEvent, 'Type' | 'Action'>): EngineEvent {
  return { seq: 1, scope: 'local', timeNano: 1n, Actor: { ID: '', Attributes: {} }, ...partial };
}

const containerStart = ev({
  Type: 'container',
  Action: 'start',
  Actor: { ID: 'abcdef0123456789', Attributes: { name: 'web', image: 'busybox:latest', tier: 'front' } },
});
const imagePull = ev({
  Type: 'image',
  Action: 'pull',
  Actor: { ID: 'docker.io/library/busybox:latest', Attributes: { name: 'busybox' } },
});
const daemonReload = ev({
  Type: 'daemon',
  Action: 'reload',
  Actor: { ID: 'd-id', Attributes: { name: 'host1' } },
});
const execStart = ev({
  Type: 'container',
  Action: 'exec_start: sh -c true',
  Actor: { ID: 'abcdef0123456789', Attributes: { name: 'web' } },
});

const match = (pairs: string[], e: EngineEvent): boolean => eventMatches(FilterArgs.fromPairs(pairs), e);

describe('eventMatches', () => {
  it('passes everything without filters', () => {
    for (const e of [containerStart, imagePull, daemonReload]) assert.equal(match([], e), true);
  });
  it('filters by type (OR within a name)', () => {
    assert.equal(match(['type=image'], imagePull), true);
    assert.equal(match(['type=image'], containerStart), false);
    assert.equal(match(['type=image', 'type=container'], containerStart), true);
  });
  it('ANDs different names', () => {
    assert.equal(match(['type=container', 'event=start'], containerStart), true);
    assert.equal(match(['type=container', 'event=die'], containerStart), false);
  });
  it('matches containers by ID prefix or name, and excludes other actors', () => {
    assert.equal(match(['container=abcdef'], containerStart), true);
    assert.equal(match(['container=web'], containerStart), true);
    assert.equal(match(['container=db'], containerStart), false);
    assert.equal(match(['container=web'], imagePull), false);
  });
  it('matches images by reference, familiar name and container image attribute', () => {
    assert.equal(match(['image=busybox'], imagePull), true);
    assert.equal(match(['image=docker.io/library/busybox:latest'], imagePull), true);
    assert.equal(match(['image=busybox'], containerStart), true);
    assert.equal(match(['image=alpine'], containerStart), false);
  });
  it('matches labels against attributes', () => {
    assert.equal(match(['label=tier=front'], containerStart), true);
    assert.equal(match(['label=tier'], containerStart), true);
    assert.equal(match(['label=tier=back'], containerStart), false);
    assert.equal(match(['label=tier'], daemonReload), false);
  });
  it('matches daemon events by ID or name', () => {
    assert.equal(match(['daemon=host1'], daemonReload), true);
    assert.equal(match(['daemon=d-id'], daemonReload), true);
    assert.equal(match(['daemon=other'], daemonReload), false);
  });
  it('matches suffixed exec actions by prefix only when asked for the bare action', () => {
    assert.equal(match(['event=exec_start'], execStart), true);
    assert.equal(match(['event=exec_start: sh -c true'], execStart), true);
    assert.equal(match(['event=start'], execStart), false);
  });
  it('filters by scope', () => {
    assert.equal(match(['scope=local'], containerStart), true);
    assert.equal(match(['scope=swarm'], containerStart), false);
  });
});

describe('familiarName', () => {
  it('strips registry defaults, tags and digests', () => {
    assert.equal(familiarName('docker.io/library/busybox:latest'), 'busybox');
    assert.equal(familiarName('busybox:1.36'), 'busybox');
    assert.equal(familiarName('localhost:5000/team/app:1'), 'localhost:5000/team/app');
    assert.equal(familiarName('localhost:5000/app'), 'localhost:5000/app');
    assert.equal(familiarName(`app@sha256:${'a'.repeat(64)}`), 'app');
    assert.equal(familiarName('a'.repeat(64)), 'a'.repeat(64));
  });
});
