import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { Command } from 'commander';

import { createContext, type CliContext } from '../context.js';
import { registerAllCommands } from './all.js';
import { LAZY_COMMANDS, commandOf, registerFor } from './lazy.js';

const ctx: CliContext = createContext(() => undefined);

function program(): Command {
  return new Command('berth').enablePositionalOptions();
}

/** A command tree as text: names, aliases, options and arguments, depth first, in order. */
function shape(cmd: Command, depth = 0): string[] {
  const lines = [
    `${' '.repeat(depth)}${[cmd.name(), ...cmd.aliases()].join('|')} ${cmd.usage()}` +
      ` [${cmd.options.map((o) => `${o.flags}${o.hidden ? '(hidden)' : ''}`).join(' ')}]`,
  ];
  for (const sub of cmd.commands) lines.push(...shape(sub, depth + 1));
  return lines;
}

describe('lazy command registration', () => {
  it('has an entry for every top-level command, in the order of berth --help', () => {
    const all = program();
    registerAllCommands(all, ctx);
    const names = all.commands.flatMap((c) => [c.name(), ...c.aliases()]);
    assert.deepEqual([...LAZY_COMMANDS.keys()], names);
  });

  it('registers each command exactly as registering them all does', async () => {
    const all = program();
    registerAllCommands(all, ctx);
    for (const name of LAZY_COMMANDS.keys()) {
      const one = program();
      await registerFor(one, ctx, ['node', 'berth', name]);
      const got = one.commands.find((c) => c.name() === name);
      const want = all.commands.find((c) => c.name() === name);
      assert.ok(got && want, name);
      assert.deepEqual(shape(got), shape(want), name);
    }
  });

  it('registers everything when the arguments name no single known command', async () => {
    for (const argv of [
      [],
      ['--help'],
      ['-v'],
      ['help', 'ps'],
      ['nosuch'],
      ['-H'],
      ['--', 'ps'],
      ['-D', 'ps'],
    ]) {
      const p = program();
      await registerFor(p, ctx, ['node', 'berth', ...argv]);
      assert.equal(p.commands.length, LAZY_COMMANDS.size, argv.join(' '));
    }
  });

  it('finds the command after the global -H/--host flags', () => {
    const of = (...args: string[]): string | undefined => commandOf(['node', 'berth', ...args]);
    assert.equal(of('stats', '--no-stream'), 'stats');
    assert.equal(of('-H', 'unix:///x.sock', 'stats'), 'stats');
    assert.equal(of('--host', 'tcp://h:2375', 'ps', '-a'), 'ps');
    assert.equal(of('--host=unix:///x.sock', 'container', 'ls'), 'container');
    assert.equal(of('-Hunix:///x.sock', 'run', '--rm', 'busybox'), 'run');
    assert.equal(of('-H', '-weird', 'images'), 'images');
    assert.equal(of(), undefined);
    assert.equal(of('-H', 'unix:///x.sock'), undefined);
    assert.equal(of('--version'), undefined);
    assert.equal(of('-h', 'stats'), undefined);
    assert.equal(of('help', 'stats'), undefined);
    assert.equal(of('stat'), undefined);
    assert.equal(of('Stats'), undefined);
  });
});
