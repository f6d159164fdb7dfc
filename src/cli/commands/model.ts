/**
 * `vtw model`: whole networks (issue 13). `inspect` imports an ONNX model, binds its inputs, runs
 * the graph passes and reports operators, value shapes, MACs per node and what would offload to VTA
 * on a configuration (docs/models.md).
 */
import { Option, type Command } from 'commander';
import type { Derived } from '../../config/index.ts';
import { table } from '../../report/table.ts';
import { loadModelFile } from '../../../compiler/graph/load.ts';
import { staticShape } from '../../../compiler/graph/ir.ts';
import { analyzeGraph } from '../../../compiler/graph/offload.ts';
import { PASS_NAMES, parseInputShape } from '../../../compiler/graph/passes.ts';
import { configOption, jsonOption } from '../options.ts';

/** `--input NAME=DIMS`, repeatable: the shapes of a model's inputs (binds dynamic dimensions). */
export function inputShapeOption(): Option {
  return new Option('--input <name=dims>', 'shape of an input, e.g. x=1x3x48x192 (repeat for several inputs); binds dynamic dimensions')
    .argParser((text: string, prev: Map<string, number[]> | undefined) => {
      const m = new Map(prev ?? []);
      const [name, dims] = parseInputShape(text);
      m.set(name, dims);
      return m;
    });
}

/** `--print-graph PASS`: the graph after a pass, on stderr. */
export function printGraphOption(): Option {
  return new Option('--print-graph <pass>', `print the graph after a pass on stderr: ${PASS_NAMES.join(', ')}`);
}

interface InspectOptions {
  input?: Map<string, number[]>;
  config: Derived;
  printGraph?: string;
  json?: boolean;
}

function fmtShape(s: readonly number[]): string {
  return `[${s.join(',')}]`;
}

/** `Conv+relu`, `Add+clip[0,6]`: an operator with its fused activation. */
function opLabel(op: string, clip: number[] | undefined): string {
  if (!clip) return op;
  return clip[0] === 0 && clip[1] === Infinity ? `${op}+relu` : `${op}+clip[${clip.join(',')}]`;
}

function inspect(file: string, opts: InspectOptions): void {
  const g = loadModelFile(file, { inputShapes: opts.input, printAfter: opts.printGraph });
  const d = opts.config;
  const r = analyzeGraph(g, d);
  const io = (names: string[]) => names.map((n) => ({ name: n, dtype: g.values.get(n)!.dtype, shape: staticShape(g.values.get(n)!) }));
  if (opts.json) {
    console.log(JSON.stringify({
      model: file,
      graph: g.name,
      opset: g.opset,
      config: d.variant,
      inputs: io(g.inputs),
      outputs: io(g.outputs),
      ops: r.ops,
      nodes: r.nodes.map((n) => ({
        name: n.name, op: n.op, clip: n.clip?.map((v) => (Number.isFinite(v) ? v : null)) ?? null, inputs: n.inputs, outputs: n.outputs, macs: n.macs,
        target: n.offload.as ? 'vta' : 'host', vta_op: n.offload.as, host_reason: n.offload.reason,
      })),
      macs: r.macs,
      offloaded_macs: r.offloadedMacs,
      offloaded_macs_fraction: +r.offloadedFraction.toFixed(6),
      vta_regions: r.regions,
      layout_transforms: { to_vta: r.layoutTransforms.toVta, to_host: r.layoutTransforms.toHost },
    }, null, 2));
    return;
  }
  const line = (xs: ReturnType<typeof io>) => xs.map((x) => `${x.name} ${x.dtype}${fmtShape(x.shape ?? [])}`).join(', ');
  console.log(`${file}: graph ${JSON.stringify(g.name)}, opset ${g.opset}, ${g.nodes.length} nodes after the passes`);
  console.log(`inputs:  ${line(io(g.inputs))}`);
  console.log(`outputs: ${line(io(g.outputs))}`);
  console.log(`ops:     ${Object.entries(r.ops).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([op, c]) => `${op} ${c}`).join(', ')}`);
  console.log('');
  console.log(table(
    ['node', 'op', 'output', 'MACs', `on ${d.variant}`],
    r.nodes.map((n) => [
      n.name, opLabel(n.op, n.clip), n.outputs.map((o) => `${o.dtype}${fmtShape(o.shape)}`).join(' '), n.macs,
      n.offload.as ? `vta ${n.offload.as}` : n.offload.reason ? `host (${n.offload.reason})` : 'host',
    ]),
  ));
  console.log('');
  const pct = (100 * r.offloadedFraction).toFixed(1);
  console.log(`MACs: ${r.macs.toLocaleString('en-US')} in total, ${r.offloadedMacs.toLocaleString('en-US')} (${pct} %) would run on VTA (${d.variant})`);
  console.log(`VTA regions: ${r.regions.length}; layout transforms at their boundaries: ${r.layoutTransforms.toVta.length} into VTA's layout, ${r.layoutTransforms.toHost.length} back`);
}

export function registerModel(program: Command): void {
  const model = program.command('model').description('whole networks: import ONNX models, inspect them (docs/models.md)');
  model
    .command('inspect')
    .description('import an ONNX model and report its operators, shapes, MACs per node and what would offload to VTA on a configuration')
    .argument('<model>', 'ONNX file (.onnx)')
    .addOption(inputShapeOption())
    .addOption(configOption({ description: 'VTA configuration the offload report is for (preset name, JSON file or inline JSON)' }))
    .addOption(printGraphOption())
    .addOption(jsonOption('print JSON: inputs, outputs, ops, nodes (shapes, macs, target), macs, offloaded_macs, offloaded_macs_fraction, vta_regions, layout_transforms'))
    .action((file: string, opts: InspectOptions) => inspect(file, opts));
}
