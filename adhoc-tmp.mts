import { runCli } from './test/helpers/cli.ts';
const cases = [
 ['--board', 'icestick'], ['--board', 'icestick', '--verilog', '/nonexistent-dir', '--top', 'x'], ['--board', 'icestick', '--demo', '--freq', '0'],
 ['--config', 'default', '--board', 'icebreaker'], ['--config', 'ice40-tiny'], ['--config', 'ice40-tiny', '--board', 'icestick', '--demo'],
 ['--config', 'ice40-tiny', '--board', 'icestick', '--freq', '30'], ['--config', 'ice40-small', '--board', 'icestick'],
 ['--config', '{"TARGET":"ice40","DSP_BUDGET":8,"MEM_OUTSTANDING":1}', '--board', 'icestick'], ['--config', 'ice40-tiny', '--board', 'nope'],
 ['--board', 'icestick', '--demo', '--seed', '-1'],
];
for (const c of cases) { const r = await runCli('synth', ...c); console.log(r.code, r.stderr.trim()); }
for (const c of [['run', 'x.json', '--board', 'icebreaker', '--baud', '0'], ['link', '--baud', 'x', 'ping'], ['test', '--count', '-1'], ['op', 'dense', '--shape', '4,16,16', '--batch', '2'], ['op', 'conv', '--shape', '1'], ['sim', 'x', '--engine', 'board'], ['flash', 'x.bin', '-b', 'icebraker']]) { const r = await runCli(...c); console.log(r.code, r.stderr.trim()); }
const h = await runCli('op', '--help'); console.log(h.stdout);
