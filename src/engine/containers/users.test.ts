import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { resolveUser } from './users.js';

const PASSWD =
  'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n';
const GROUP = 'root:x:0:\napp:x:1000:\nstaff:x:50:app\nnogroup:x:65534:\n';

describe('resolveUser', () => {
  it('resolves names, ids and groups as runc does', () => {
    assert.deepEqual(resolveUser('', PASSWD, GROUP), { uid: 0, gid: 0, additionalGids: [], home: '/root' });
    assert.deepEqual(resolveUser('app', PASSWD, GROUP), {
      uid: 1000,
      gid: 1000,
      additionalGids: [50],
      home: '/home/app',
    });
    assert.deepEqual(resolveUser('1000:50', PASSWD, GROUP), {
      uid: 1000,
      gid: 50,
      additionalGids: [],
      home: '/home/app',
    });
    assert.deepEqual(resolveUser('nobody:nogroup', PASSWD, GROUP).gid, 65534);
    assert.deepEqual(resolveUser('4242', PASSWD, GROUP), {
      uid: 4242,
      gid: 0,
      additionalGids: [],
      home: '/',
    });
    assert.deepEqual(resolveUser('app', PASSWD, GROUP, ['root']).additionalGids, [0, 50]);
  });
  it('runs an image without /etc/passwd as root when no user is asked for, as Docker does', () => {
    assert.deepEqual(resolveUser('', '', ''), { uid: 0, gid: 0, additionalGids: [], home: '/' });
    assert.deepEqual(resolveUser('0:0', '', ''), { uid: 0, gid: 0, additionalGids: [], home: '/' });
    assert.throws(() => resolveUser('root', '', ''), /unable to find user root/);
  });
  it('refuses unknown names with runc message', () => {
    assert.throws(() => resolveUser('ghost', PASSWD, GROUP), {
      message: 'unable to find user ghost: no matching entries in passwd file',
    });
    assert.throws(() => resolveUser('app:ghosts', PASSWD, GROUP), /unable to find group ghosts/);
  });
});
