import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { applyChanges } from './changes.js';

describe('applyChanges', () => {
  it('applies the Dockerfile instructions import accepts', () => {
    const c = applyChanges({ Env: ['PATH=/bin'] }, [
      'CMD ["sh", "-c", "echo hi"]',
      'ENTRYPOINT /entry.sh',
      'ENV FOO=bar BAZ="a b"',
      'ENV LEGACY value with spaces',
      'LABEL org.example=yes',
      'EXPOSE 80 53/udp',
      'USER app',
      'WORKDIR /srv',
      'WORKDIR data',
      'VOLUME ["/data", "/logs"]',
      'STOPSIGNAL SIGINT',
    ]);
    assert.deepEqual(c.Cmd, ['sh', '-c', 'echo hi']);
    assert.deepEqual(c.Entrypoint, ['/bin/sh', '-c', '/entry.sh']);
    assert.deepEqual(c.Env, ['PATH=/bin', 'FOO=bar', 'BAZ=a b', 'LEGACY=value with spaces']);
    assert.deepEqual(c.Labels, { 'org.example': 'yes' });
    assert.deepEqual(c.ExposedPorts, { '80/tcp': {}, '53/udp': {} });
    assert.equal(c.User, 'app');
    assert.equal(c.WorkingDir, '/srv/data');
    assert.deepEqual(c.Volumes, { '/data': {}, '/logs': {} });
    assert.equal(c.StopSignal, 'SIGINT');
  });
  it('replaces an existing ENV entry', () => {
    assert.deepEqual(applyChanges({ Env: ['A=1', 'B=2'] }, ['ENV A=3']).Env, ['B=2', 'A=3']);
  });
  it('refuses other instructions with Docker message', () => {
    assert.throws(() => applyChanges({}, ['RUN echo']), { message: 'run is not a valid change command' });
    assert.throws(() => applyChanges({}, ['CMD ["unterminated"']), /invalid JSON array/);
  });
});
