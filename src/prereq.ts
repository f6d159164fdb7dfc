/**
 * The external tools vta-workbench uses, in one table: `vtw doctor` reports every row, and the test
 * runner (scripts/run-tests.ts) refuses to start when a row that `npm test` needs is missing.
 * Add a tool here and both see it. Probes only run `<tool> --version` (or read a package.json / a
 * folder), each with a short timeout, so checking every tool takes well under a second.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** How to install a tool: Debian/Ubuntu packages, or it comes with `npm ci`. */
export type Install = { apt: readonly string[] } | { npm: string };

export interface Tool {
  /** Short id used in --json output and messages. */
  id: string;
  /** What the user knows it as. */
  name: string;
  /** Lowest major version that works (compared with the probed version's first number). */
  minMajor?: number;
  /** What it enables in vtw. */
  enables: string;
  /** Whether `npm test` needs it (the runner stops when one of these is missing). */
  neededByTests: boolean;
  install: Install;
  /** Where the install command may fall short (printed when the tool is too old). */
  note?: string;
  /** Finds the tool: its version (first line of `--version`), or null when absent. */
  probe(env: NodeJS.ProcessEnv): { version: string } | null;
}

/** The first of `commands` that runs `--version` successfully; its version line. */
function probeCommand(commands: readonly string[], pick: (out: string) => string | null = firstLine) {
  return (env: NodeJS.ProcessEnv): { version: string } | null => {
    for (const cmd of commands) {
      const r = spawnSync(cmd, ['--version'], { env, encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'] });
      if (r.error || r.status !== 0) continue;
      const version = pick(`${r.stdout}\n${r.stderr}`);
      if (version !== null) return { version: `${version}${commands.length > 1 ? ` (${cmd})` : ''}` };
    }
    return null;
  };
}

/** The version number on the first line (`GNU Make 4.3`, `cc (Debian 12.2.0-14) 12.2.0`), else the whole line. */
function firstLine(out: string): string | null {
  const line = out.split('\n').map((l) => l.trim()).find((l) => l.length > 0);
  if (line === undefined) return null;
  return /(\d+\.\d+(\.\d+)?)\s*$/.exec(line)?.[1] ?? /version (\d+\.\d+(\.\d+)?)/.exec(line)?.[1] ?? line;
}

/** The version of an npm package installed beside vtw (the bundled WebAssembly tools). */
function probeNpm(pkg: string) {
  return (): { version: string } | null => {
    let entry: string;
    try {
      entry = createRequire(import.meta.url).resolve(pkg);
    } catch {
      return null;
    }
    // Walk up from the entry point to the package's own package.json (its exports hide the file).
    for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
      const file = join(dir, 'package.json');
      if (!existsSync(file)) continue;
      const json = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (json.name === pkg) return { version: json.version ?? 'unknown' };
    }
    return null;
  };
}

/** An OpenCL runtime: the ICD loader's vendor files (PoCL installs pocl.icd). */
function probeOpenCl(env: NodeJS.ProcessEnv): { version: string } | null {
  const dir = env.OCL_ICD_VENDORS ?? '/etc/OpenCL/vendors';
  let icds: string[];
  try {
    icds = readdirSync(dir).filter((f) => f.endsWith('.icd'));
  } catch {
    return null;
  }
  return icds.length ? { version: `ICDs: ${icds.map((f) => f.replace(/\.icd$/, '')).join(', ')}` } : null;
}

/** Where Debian's libonnx-testdata puts ONNX's node tests. */
export const ONNX_TESTDATA = '/usr/share/libonnx-testdata/data/node';

/** Where Debian's fonts-dejavu-core puts the fonts the PaddleOCR test lines are drawn with (compiler/data/text-lines.ts). */
export const DEJAVU_DIR = '/usr/share/fonts/truetype/dejavu';
export const DEJAVU_FONTS = ['DejaVuSans.ttf', 'DejaVuSerif.ttf', 'DejaVuSansMono.ttf'] as const;

/** A data folder a package installs: its entries summarized as the version (null: what is there is not enough). */
function probeFolder(dir: string, describe: (entries: string[]) => string | null) {
  return (): { version: string } | null => {
    try {
      const version = describe(readdirSync(dir));
      return version === null ? null : { version };
    } catch {
      return null;
    }
  };
}

export const TOOLS: readonly Tool[] = [
  {
    id: 'verilator',
    name: 'Verilator',
    minMajor: 5,
    enables: 'co-simulation (--engine verilator|both), RTL tests and lint, vtw run --sim',
    neededByTests: true,
    install: { apt: ['verilator'] },
    note: 'Ubuntu 22.04 packages 4.038: there, build 5.x from source (verilator.org, Git Quick Install)',
    probe: probeCommand(['verilator'], (out) => /Verilator \d+\.\d+/.exec(out)?.[0].replace('Verilator ', '') ?? null),
  },
  {
    id: 'cxx',
    name: 'C++ compiler',
    enables: 'compiling the models Verilator generates',
    neededByTests: true,
    install: { apt: ['build-essential'] },
    probe: probeCommand(['c++', 'g++', 'clang++']),
  },
  {
    id: 'make',
    name: 'make',
    enables: 'Verilator builds',
    neededByTests: true,
    install: { apt: ['build-essential'] },
    probe: probeCommand(['make']),
  },
  {
    id: 'cc',
    name: 'C compiler',
    enables: 'the CPU back end: vtw op --target cpu ($CC, default cc; threads need -pthread)',
    neededByTests: false,
    install: { apt: ['build-essential'] },
    probe: probeCommand(['cc', 'gcc', 'clang']),
  },
  {
    id: 'wabt',
    name: 'wabt (npm, WebAssembly toolkit)',
    enables: 'the WebAssembly back end: vtw op --target wasm, the CPU path when no C compiler is found',
    neededByTests: false,
    install: { npm: 'wabt' },
    probe: probeNpm('wabt'),
  },
  {
    id: 'opencl',
    name: 'OpenCL runtime (ICD loader + PoCL)',
    enables: 'the OpenCL back end (vtw op --target opencl; PoCL runs it on the CPU)',
    neededByTests: false,
    install: { apt: ['ocl-icd-opencl-dev', 'pocl-opencl-icd'] },
    probe: probeOpenCl,
  },
  {
    id: 'nvcc',
    name: 'CUDA toolkit (nvcc)',
    enables: 'the CUDA back end (vtw op --target cuda: compiles, reports registers / shared memory; runs where a GPU is)',
    neededByTests: false,
    install: { apt: ['nvidia-cuda-toolkit'] },
    probe: probeCommand(['nvcc'], (out) => /release ([\d.]+)/.exec(out)?.[1] ?? null),
  },
  {
    id: 'onnx-testdata',
    name: 'ONNX conformance data (libonnx-testdata)',
    enables: 'the graph level\'s per-operator checks against ONNX\'s golden outputs (test/graph-conformance.test.ts)',
    neededByTests: false,
    install: { apt: ['libonnx-testdata'] },
    probe: probeFolder(ONNX_TESTDATA, (entries) => `${entries.length} node tests`),
  },
  {
    id: 'fonts-dejavu',
    name: 'DejaVu fonts (fonts-dejavu-core)',
    enables: 'rendered text lines for the PaddleOCR models (scripts/eval-ocr.ts, test/models-paddleocr.test.ts, test/data-text-lines.test.ts)',
    neededByTests: false,
    install: { apt: ['fonts-dejavu-core'] },
    probe: probeFolder(DEJAVU_DIR, (entries) => {
      const found = DEJAVU_FONTS.filter((f) => entries.includes(f));
      return found.length === DEJAVU_FONTS.length ? found.join(', ') : null;
    }),
  },
  {
    id: 'chromium',
    name: 'Chromium (headless browser)',
    enables: 'the browser checks of vtw explore\'s HTML report (test/explore-report.test.ts, driven by playwright-core)',
    neededByTests: false,
    install: { apt: ['chromium'] },
    probe: probeCommand(['chromium', 'chromium-browser'], (out) => /Chromium (\d+(?:\.\d+)+)/.exec(out)?.[1] ?? null),
  },
  {
    id: 'redis-server',
    name: 'Redis server',
    enables: 'the tests of the distributed sweep (vtw explore --queue, vtw worker start their own redis-server on a loopback port); users point --queue at any Redis 6.2+',
    neededByTests: false,
    install: { apt: ['redis-server'] },
    probe: probeCommand(['redis-server'], (out) => /v=(\d+\.\d+(\.\d+)?)/.exec(out)?.[1] ?? null),
  },
  {
    id: 'yosys',
    name: 'YoWASP yosys (npm, WebAssembly)',
    enables: 'vtw synth (synthesis), yosys checks of generated Verilog',
    neededByTests: true,
    install: { npm: '@yowasp/yosys' },
    probe: probeNpm('@yowasp/yosys'),
  },
  {
    id: 'nextpnr',
    name: 'YoWASP nextpnr-ice40 (npm, WebAssembly)',
    enables: 'vtw synth (place and route, bitstreams), PLL planning',
    neededByTests: true,
    install: { npm: '@yowasp/nextpnr-ice40' },
    probe: probeNpm('@yowasp/nextpnr-ice40'),
  },
];

export interface ToolStatus {
  id: string;
  name: string;
  found: boolean;
  version: string | null;
  /** Found and new enough. */
  ok: boolean;
  /** Why not ok: "not found" or "4.038 is older than 5". */
  problem: string | null;
  enables: string;
  neededByTests: boolean;
  /** The one command that installs it. */
  install: string;
  /** When too old: where the install command may fall short. */
  note: string | null;
}

/** The command that installs every tool listed (apt packages merged into one apt-get). */
export function installCommand(tools: readonly Pick<Tool, 'install'>[]): string {
  const apt = [...new Set(tools.flatMap((t) => ('apt' in t.install ? t.install.apt : [])))];
  const npm = tools.some((t) => 'npm' in t.install);
  const parts = [];
  if (apt.length) parts.push(`sudo apt-get install -y ${apt.join(' ')}`);
  if (npm) parts.push('npm ci');
  return parts.join(' && ');
}

/** Probe one tool. */
export function checkTool(tool: Tool, env: NodeJS.ProcessEnv = process.env): ToolStatus {
  const found = tool.probe(env);
  let problem: string | null = found ? null : 'not found';
  if (found && tool.minMajor !== undefined) {
    const major = Number(/\d+/.exec(found.version)?.[0] ?? NaN);
    if (!(major >= tool.minMajor)) problem = `${found.version} is older than ${tool.minMajor}`;
  }
  return {
    id: tool.id,
    name: tool.minMajor !== undefined ? `${tool.name} >= ${tool.minMajor}` : tool.name,
    found: found !== null,
    version: found?.version ?? null,
    ok: problem === null,
    problem,
    enables: tool.enables,
    neededByTests: tool.neededByTests,
    install: installCommand([tool]),
    note: found && problem ? tool.note ?? null : null,
  };
}

/**
 * Which host CPU path is active and why: the C back end (`--target cpu`) when a C compiler is
 * found, else the WebAssembly back end (`--target wasm`), which needs only Node and wabt.
 */
export function hostCpuPath(statuses: readonly ToolStatus[]): { target: 'cpu' | 'wasm' | null; why: string } {
  const cc = statuses.find((s) => s.id === 'cc');
  const wasm = statuses.find((s) => s.id === 'wabt');
  if (cc?.ok) return { target: 'cpu', why: `C compiler found (${cc.version}); --target wasm also works without one` };
  if (wasm?.ok) return { target: 'wasm', why: `no C compiler found, so --target wasm (WebAssembly SIMD in Node) is the host path; ${cc?.install ?? 'install build-essential'} enables --target cpu` };
  return { target: null, why: 'neither a C compiler nor the wabt package: npm ci restores wabt (--target wasm)' };
}

/** Probe every tool in the table. */
export function checkTools(env: NodeJS.ProcessEnv = process.env): ToolStatus[] {
  return TOOLS.map((t) => checkTool(t, env));
}

/**
 * One line saying what `npm test` lacks and how to install it, or null when nothing is missing.
 * `statuses` may cover only the tools that tests need.
 */
export function testPrerequisiteProblem(statuses: readonly ToolStatus[]): string | null {
  const missing = statuses.filter((s) => s.neededByTests && !s.ok);
  if (!missing.length) return null;
  const what = missing.map((s) => `${s.name} (${s.problem})`).join(', ');
  const tools = TOOLS.filter((t) => missing.some((m) => m.id === t.id));
  const notes = missing.flatMap((s) => (s.note ? [`; ${s.note}`] : [])).join('');
  return `npm test needs ${what}: install with \`${installCommand(tools)}\`${notes}`;
}

/** Probe only the tools `npm test` needs (what the test runner checks before it starts). */
export function checkTestPrerequisites(env: NodeJS.ProcessEnv = process.env): string | null {
  return testPrerequisiteProblem(TOOLS.filter((t) => t.neededByTests).map((t) => checkTool(t, env)));
}
