import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { synthIce40, type ToolCommand } from '../fpga/flow.ts';
import { DELAYS as D, estimateTiming, pathFamilies } from '../fpga/timing-estimate.ts';

/** A yosys-style JSON netlist of one module from cells given as [name, type, {port: bits}]. */
function netlist(cells: Array<[string, string, Record<string, number[]>]>, nets: Record<string, number[]>): string {
  const dirs: Record<string, Record<string, 'input' | 'output'>> = {
    SB_LUT4: { I0: 'input', I1: 'input', I2: 'input', I3: 'input', O: 'output' },
    SB_CARRY: { I0: 'input', I1: 'input', CI: 'input', CO: 'output' },
    SB_DFF: { C: 'input', D: 'input', Q: 'output' },
    SB_DFFE: { C: 'input', D: 'input', E: 'input', Q: 'output' },
    SB_RAM40_4K: { RCLK: 'input', RADDR: 'input', RDATA: 'output' },
  };
  const c = Object.fromEntries(cells.map(([n, type, conn]) => [n, { type, connections: conn, port_directions: dirs[type] }]));
  const netnames = Object.fromEntries(Object.entries(nets).map(([n, bits]) => [n, { bits }]));
  return JSON.stringify({ modules: { top: { cells: c, netnames } } });
}

// q0, q1: registers (bits 2, 3); two LUT levels (4, 5) into r (bit 6); a 2-bit carry chain from
// q0 into s (bit 10); a block RAM's read data (bit 20) through one LUT (21) into t (bit 22)
const design = netlist(
  [
    ['ff0', 'SB_DFF', { C: [1], D: [2], Q: [2] }],
    ['ff1', 'SB_DFF', { C: [1], D: [3], Q: [3] }],
    ['l0', 'SB_LUT4', { I0: [2], I1: [3], I2: [], I3: [], O: [4] }],
    ['l1', 'SB_LUT4', { I0: [4], I1: [3], I2: [], I3: [], O: [5] }],
    ['ffr', 'SB_DFFE', { C: [1], D: [5], E: [3], Q: [6] }],
    ['c0', 'SB_CARRY', { I0: [2], I1: [3], CI: [], CO: [7] }],
    ['c1', 'SB_CARRY', { I0: [3], I1: [3], CI: [7], CO: [8] }],
    ['ls', 'SB_LUT4', { I0: [3], I1: [], I2: [], I3: [8], O: [10] }],
    ['ffs', 'SB_DFF', { C: [1], D: [10], Q: [11] }],
    ['ram', 'SB_RAM40_4K', { RCLK: [1], RADDR: [6], RDATA: [20] }],
    ['lt', 'SB_LUT4', { I0: [20], I1: [], I2: [], I3: [], O: [21] }],
    ['fft', 'SB_DFF', { C: [1], D: [21], Q: [22] }],
  ],
  { clk: [1], 'q[0]': [2], q: [2, 3], r: [6], s: [11], t: [22], u_x: [4] },
);

test('arrival times follow the delay model: LUT levels, a carry chain, RAM clock-to-out', () => {
  const est = estimateTiming(design, 'top', 100);
  const ns = (g: string) => Math.round(est.groups.find((x) => x.group === g)!.ns * 1000) / 1000;
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  const end = D.route + D.setup;
  const lut = D.route + D.lut;
  assert.is(ns('r'), r3(D.ffOut + 2 * lut + end));
  assert.is(ns('s'), r3(D.ffOut + D.route + D.carryIn + D.carry + lut + end));
  assert.is(ns('t'), r3(D.ramOut + lut + end));
  // the RAM's read address is an endpoint too, fed straight by r
  assert.is(ns('ram (SB_RAM40_4K)'), r3(D.ffOut + end));
  // the longest path into r starts at q (bit 0 through two LUTs), named without its bit index
  assert.is(est.groups[0].group, 'r');
  assert.is(est.groups[0].from, 'q');
  assert.is(est.groups.find((x) => x.group === 'r')!.endpoints, 2, 'D and enable');
  assert.equal(est.pathInto('r')!.map((s) => s.via ?? 'start'), ['start', 'SB_LUT4', 'SB_LUT4']);
  assert.is(est.pathInto('nothing'), undefined);
});

test('the limit counts endpoints over it, and families sum them by where their paths start', () => {
  const rNs = D.ffOut + 2 * (D.route + D.lut) + D.route + D.setup;
  const est = estimateTiming(design, 'top', rNs - 0.01);
  assert.is(est.over, 1, 'only r.D passes the limit');
  assert.equal(pathFamilies(est), [{ from: 'q', ns: rNs, over: 1, into: ['r'] }]);
  assert.is(estimateTiming(design, 'top', 1000).over, 0);
  assert.equal(pathFamilies(estimateTiming(design, 'top', 1000)), []);
});

test('a combinational loop is cut, not followed forever; a missing module is one clear error', () => {
  const loop = netlist(
    [
      ['ff0', 'SB_DFF', { C: [1], D: [5], Q: [2] }],
      ['a', 'SB_LUT4', { I0: [2], I1: [4], I2: [], I3: [], O: [3] }],
      ['b', 'SB_LUT4', { I0: [3], I1: [], I2: [], I3: [], O: [4] }],
      ['c', 'SB_LUT4', { I0: [3], I1: [], I2: [], I3: [], O: [5] }],
    ],
    { q: [2] },
  );
  const est = estimateTiming(loop, 'top', 100);
  assert.ok(est.groups[0].ns > 0 && Number.isFinite(est.groups[0].ns));
  assert.throws(() => estimateTiming(loop, 'other', 10), /no module other/);
});

test('on a real synth_ice40 netlist: an accumulator\'s adder is a carry chain, its register the worst', async () => {
  const { runYosys } = await import('@yowasp/yosys');
  const v = `module acc(input clk, input [15:0] d, input en, output reg [15:0] q, output reg f);
    always @(posedge clk) begin if (en) q <= q + d; f <= ^d; end
  endmodule`;
  const { json } = await synthIce40({ yosys: runYosys as ToolCommand, files: { 'acc.v': v }, top: 'acc' });
  const est = estimateTiming(json, 'acc', 1000);
  assert.is(est.groups[0].group, 'q');
  assert.is(est.groups[0].from, 'q', 'q + d: the longest path starts at q (d is an input, no clock-to-out)');
  const path = est.pathInto('q')!;
  assert.ok(path.filter((s) => s.via === 'SB_CARRY').length >= 10, 'the sum\'s carry ripples through the chain');
  const f = est.groups.find((g) => g.group === 'f')!;
  assert.ok(f.ns < est.groups[0].ns, 'a parity of inputs is shallower than the 16-bit add');
  assert.is(estimateTiming(json, 'acc', 0.1).over, est.endpoints, 'every input is over 0.1 ns');
});

test.run();
