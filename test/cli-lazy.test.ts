// The CLI loads a command's module only when that command runs (src/cli/main.ts, COMMAND_MODULES):
// the table's verbs must be exactly what each module registers, or a verb would load the wrong module
// (and "unknown command") or be missing from one-verb runs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Command } from 'commander';
import { buildCli, COMMAND_MODULES } from '../src/cli/main.ts';

test('each command module registers exactly the verbs the table names', async () => {
  for (const m of COMMAND_MODULES) {
    const program = new Command('vtw');
    (await m.load())(program);
    assert.equal(program.commands.map((c) => c.name()), [...m.verbs]);
  }
});

test('a known verb loads its module only; help and unknown verbs load every module', async () => {
  const names = async (argv: string[]) => (await buildCli(argv)).commands.map((c) => c.name());
  assert.equal(await names(['disasm', 'x.vtap']), ['asm', 'disasm']);
  assert.equal(await names(['--version']), []);
  const all = COMMAND_MODULES.flatMap((m) => m.verbs);
  assert.equal(await names(['--help']), all);
  assert.equal(await names(['bords']), all);
  assert.equal(new Set(all).size, all.length, 'a verb is listed twice');
});

test.run();
