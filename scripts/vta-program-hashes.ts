/**
 * Hashes of the VTA program containers the compiler builds for ResNet-18 C2-C11 (C1 stays on the
 * host) and for the registry's operators on three presets: a refactoring of the operator
 * definitions must leave them byte-identical.
 *
 *   npx tsx scripts/vta-program-hashes.ts            print the hashes
 *   npx tsx scripts/vta-program-hashes.ts FILE       compare with a file of earlier output (exit 1 on a difference)
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadConfig } from '../src/config/index.ts';
import { serializeProgram } from '../src/program/container.ts';
import { RESNET18_LAYERS } from '../compiler/bench/layers.ts';
import { compileConv2d } from '../compiler/ops/conv2d_op.ts';
import { buildProgram, type OpInstance } from '../compiler/ops/op.ts';
import { OPERATORS, type OpParams } from '../compiler/ops/registry.ts';
import { defaultShift } from '../compiler/ops/common.ts';

const PRESETS = ['default', 'batch2-block8', 'block32'];
const lines: string[] = [];
const hash = (inst: OpInstance) => createHash('sha256').update(serializeProgram(buildProgram(inst, 1).program)).digest('hex').slice(0, 16);

for (const p of PRESETS) {
  const d = loadConfig(p);
  for (const l of RESNET18_LAYERS) {
    const spec = { ...l.spec, shift: defaultShift(l.spec.cin * l.spec.k * l.spec.k, d), bias: true, clip: [0, 2 ** (d.outWidth - 1) - 1] as [number, number] };
    lines.push(`${p} ${l.name} ${hash(compileConv2d(spec, d))}`);
  }
  const params: OpParams = { batch: 1, groups: 1, bias: true, clip: [0, 2 ** (d.outWidth - 1) - 1] };
  for (const e of OPERATORS) lines.push(`${p} ${e.name}${e.example.join('x')} ${hash(e.strategies.vta.build(e.example, params, d, {}))}`);
  const extra: Array<[string, readonly number[], OpParams]> = [
    ['conv2d', [6, 6, 16, 16, 3, 1, 1], { ...params, groups: 4 }],
    ['conv2d', [6, 6, 32, 32, 3, 1, 1], { ...params, groups: 32 }],
    ['conv2d', [7, 5, 12, 20, 3, 1, 2], { ...params, batch: 2, bias: false, clip: undefined }],
    ['dense', [3, 40, 24], { ...params, bias: false }],
  ];
  for (const [name, shape, prm] of extra) {
    const e = OPERATORS.find((o) => o.name === name)!;
    lines.push(`${p} ${name}${shape.join('x')}g${prm.groups}b${prm.batch} ${hash(e.strategies.vta.build(shape, prm, d, {}))}`);
  }
}
const text = lines.join('\n') + '\n';
const against = process.argv[2];
if (!against) process.stdout.write(text);
else {
  const want = readFileSync(against, 'utf8');
  const diff = lines.filter((l) => !want.split('\n').includes(l));
  if (diff.length) {
    console.log(`${diff.length} of ${lines.length} programs differ:\n${diff.join('\n')}`);
    process.exit(1);
  }
  console.log(`all ${lines.length} programs byte-identical`);
}
