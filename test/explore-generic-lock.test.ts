/**
 * Generic synthesis's module locks (explore/generic-area.ts): workers sharing the module cache
 * synthesize a module once. A module another live process is synthesizing is waited for (the
 * caller's other work runs meanwhile) and read from the cache; a lock left by a process that is
 * gone is taken over; the pool drops the locks of a thread that ended. A two-module design, so
 * that yosys's part stays about a second.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropThreadLocks, genericArea } from '../explore/generic-area.ts';

const files = {
  'lk.v': '// generated\nmodule lk(input [3:0] a, input [3:0] b, output [4:0] y);\n  lk_add u(.a(a), .b(b), .y(y));\nendmodule\n',
  'lk_add.v': '// generated\nmodule lk_add(input [3:0] a, input [3:0] b, output [4:0] y);\n  assign y = a + b;\nendmodule\n',
};
const dir = () => mkdtempSync(join(tmpdir(), 'vtw-generic-lock-'));
const entries = (d: string, ext: string) => readdirSync(d).filter((f) => f.endsWith(ext)).sort();
/** A process id that no longer runs. */
const deadPid = () => spawnSync('true').pid!;

let reference: Awaited<ReturnType<typeof genericArea>>;
let results: Record<string, string> = {};

test('synthesized once into an empty cache: one result per module, no lock left', async () => {
  const d = dir();
  reference = await genericArea(files, 'lk', d);
  assert.is(reference.synthesized, 2);
  assert.ok(reference.modules.M_add.cells > 0, 'the adder has cells');
  assert.is(reference.modules.M_add.instances, 1);
  assert.equal(entries(d, '.lock'), []);
  results = Object.fromEntries(entries(d, '.json').map((f) => [f, readFileSync(join(d, f), 'utf8')]));
  assert.is(Object.keys(results).length, 2);
});

test('modules locked by a live process: the caller\'s other work runs, then their results come from the cache', async () => {
  const d = dir();
  for (const f of Object.keys(results)) writeFileSync(join(d, `${f}.lock`), `${process.ppid} 0\n`);
  const order: string[] = [];
  // the other worker finishes after 300 ms
  setTimeout(() => {
    order.push('written');
    for (const [f, text] of Object.entries(results)) writeFileSync(join(d, f), text);
  }, 300);
  const a = await genericArea(files, 'lk', d, { whileWaiting: () => void order.push('other work') });
  assert.equal(order, ['other work', 'written']);
  assert.is(a.synthesized, 0, 'nothing synthesized twice');
  assert.is(a.cells, reference.cells);
  assert.equal(a.modules, reference.modules);
});

test('a lock whose process is gone is taken over; a thread\'s locks are dropped when it ends', async () => {
  const d = dir();
  const [left, ...done] = Object.keys(results);
  for (const f of done) writeFileSync(join(d, f), results[f]);
  writeFileSync(join(d, `${left}.lock`), `${deadPid()} 0\n`);
  const a = await genericArea(files, 'lk', d);
  assert.is(a.synthesized, 1, 'the module of the dead lock, the other from the cache');
  assert.is(a.cells, reference.cells);
  assert.equal(entries(d, '.lock'), []);
  // the pool's clean-up after a worker thread: its own locks only
  writeFileSync(join(d, 'x.json.lock'), `${process.pid} 7\n`);
  writeFileSync(join(d, 'y.json.lock'), `${process.pid} 8\n`);
  dropThreadLocks(7, d);
  assert.not.ok(existsSync(join(d, 'x.json.lock')));
  assert.ok(existsSync(join(d, 'y.json.lock')));
});

test.run();
