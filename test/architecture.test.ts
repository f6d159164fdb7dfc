/**
 * The layering rules of docs/architecture.md, checked on the import graph: every static import,
 * re-export and dynamic `import('...')` of every .ts file in the source folders.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const FOLDERS = ['src', 'sim', 'hw', 'compiler', 'fpga', 'scripts', 'explore'];

/** A forbidden arrow: files under `from` (except those under `except`) may not import files under `to`. */
interface Rule {
  from: string;
  except?: string;
  to: string[];
  why: string;
}
const RULES: Rule[] = [
  { from: 'hw/', to: ['sim/'], why: 'the generator reads micro-architecture facts from src/, not from the simulator' },
  { from: 'src/', except: 'src/cli/', to: ['sim/', 'hw/', 'compiler/', 'fpga/', 'explore/'], why: 'the core imports no layer above it' },
  { from: 'hw/', to: ['explore/'], why: 'explore/ sits above hw/, sim/ and compiler/ (it uses them)' },
  { from: 'sim/', to: ['explore/'], why: 'explore/ sits above hw/, sim/ and compiler/ (it uses them)' },
  { from: 'compiler/', to: ['explore/'], why: 'explore/ sits above hw/, sim/ and compiler/ (it uses them)' },
];

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...tsFiles(rel));
    else if (e.name.endsWith('.ts')) out.push(rel);
  }
  return out;
}

/**
 * The source with comments removed and every string literal replaced by a placeholder `"#N"`,
 * so that text inside strings and comments never looks like an import. Returns both.
 */
function tokenize(src: string): { code: string; strings: string[] } {
  let code = '';
  const strings: string[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    const next = src[i + 1];
    if (c === '/' && next === '/') {
      while (i < src.length && src[i] !== '\n') i++;
    } else if (c === '/' && next === '*') {
      const end = src.indexOf('*/', i + 2);
      i = end < 0 ? src.length : end + 2;
      code += ' ';
    } else if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < src.length && src[j] !== c) j += src[j] === '\\' ? 2 : 1;
      code += `"#${strings.length}"`;
      strings.push(src.slice(i + 1, j));
      i = j + 1;
    } else {
      code += c;
      i++;
    }
  }
  return { code, strings };
}

/** Module specifiers a file imports (static, re-exports, side-effect and dynamic imports). */
function importSpecifiers(src: string): string[] {
  const { code, strings } = tokenize(src);
  const specs: string[] = [];
  const patterns = [
    /(?:^|[\s;}])(?:import|export)\s[^"`;]*?\bfrom\s*"#(\d+)"/g,
    /(?:^|[\s;}])import\s*"#(\d+)"/g,
    /\bimport\s*\(\s*"#(\d+)"\s*\)/g,
  ];
  for (const re of patterns) for (const m of code.matchAll(re)) specs.push(strings[Number(m[1])]);
  return specs;
}

interface Edge {
  file: string;
  target: string;
}

function edges(): Edge[] {
  const out: Edge[] = [];
  for (const folder of FOLDERS) {
    for (const file of tsFiles(folder)) {
      for (const spec of importSpecifiers(readFileSync(join(root, file), 'utf8'))) {
        if (!spec.startsWith('.')) continue; // packages and node: builtins
        out.push({ file, target: relative(root, normalize(join(root, dirname(file), spec))).split('\\').join('/') });
      }
    }
  }
  return out;
}

test('the import scanner finds static, multi-line, re-export, side-effect and dynamic imports, not comments', () => {
  const src = [
    "import { a } from './a.ts';",
    'import {',
    '  b,',
    "  type C,",
    "} from '../b.ts';",
    "export { d } from './d.ts';",
    "import './side.ts';",
    "const m = await import('../../dyn.ts');",
    "// import { x } from './commented.ts';",
    "/* import y from './block.ts'; */",
    "const s = 'not an import from \"./string.ts\"';",
  ].join('\n');
  assert.equal(importSpecifiers(src).sort(), ['../../dyn.ts', '../b.ts', './a.ts', './d.ts', './side.ts']);
});

test('layering: hw/ never imports sim/; src/ (except src/cli) imports no layer above it', () => {
  const all = edges();
  assert.ok(all.length > 100, `found only ${all.length} import edges: the scanner is broken`);
  const offending: string[] = [];
  for (const r of RULES) {
    for (const e of all) {
      if (!e.file.startsWith(r.from) || (r.except && e.file.startsWith(r.except))) continue;
      if (r.to.some((t) => e.target.startsWith(t))) offending.push(`${e.file} -> ${e.target}  (${r.why})`);
    }
  }
  if (offending.length) console.log(`forbidden imports:\n  ${offending.join('\n  ')}`);
  assert.equal(offending, [], `${offending.length} forbidden import(s), listed above`);
});

test.run();
