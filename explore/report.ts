/**
 * The HTML report of a sweep (docs/explore.md): DIR/report.html and the SVG exports DIR/scatter.svg
 * and DIR/layers.svg, built from exactly what a sweep writes (results.jsonl and pareto.json), so
 * `vtw explore report DIR` renders the same bytes as the sweep did.
 *
 * Three parts, kept apart: `reportSpecs` builds the vega-lite specs (objectives scatter with the
 * Pareto front and the reference point, per-layer cycle bars per point); `renderSvg` renders a
 * spec headless in Node with vega's View.toSVG(); `reportHtml` writes one self-contained page with
 * the vega, vega-lite and vega-embed builds inlined (it opens offline from file://), the specs,
 * and a table of every point that sorts by any column.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TopLevelSpec } from 'vega-lite';
import { VtwError } from '../src/errors.ts';
import { fsReason, OUTPUT_MARKER, writeFolder } from '../src/util/folder.ts';
import { jsonErrorReason, quoteUser } from '../src/util/quote.ts';
import { METRICS } from './metrics.ts';
import type { Objective } from './pareto.ts';
import type { PointRecord } from './run.ts';

/** pareto.json as explore/run.ts writes it (the fields the report reads). */
export interface ParetoFile {
  space: string;
  objectives: Objective[];
  front: { id: number }[];
  reference?: { id: number; status: string; on_front: boolean; dominated_by: number[] };
  /** Workload name → its front ({ id, ... }[]) when the space has several workloads. */
  per_workload?: Record<string, unknown>;
}

export interface ReportInput {
  records: PointRecord[];
  pareto: ParetoFile;
}

/** Every file the report may write into the output folder. */
export const REPORT_FILES = ['report.html', 'scatter.svg', 'layers.svg'];

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const FRONT = 'Pareto front';
const DOMINATED = 'dominated';
const COLORS = { [FRONT]: '#d62728', [DOMINATED]: '#8c8c8c' };
/** d3 format of numbers in tooltips: up to 7 significant digits, thousands separated, no exponent. */
const NUM = ',.7~r';

const goalWords = (goal: 'min' | 'max') => (goal === 'min' ? 'lower is better' : 'higher is better');
const hasValue = (r: PointRecord, m: string) => Number.isFinite(r.metrics[m]);
/** The varied keys, in the space file's order (every record has them all). */
const variedKeys = (records: readonly PointRecord[]) => Object.keys(records[0]?.point ?? {});

function fmt(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? v.toLocaleString('en-US') : v.toLocaleString('en-US', { maximumSignificantDigits: 7 });
  if (v === undefined || v === null) return '';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function axisScale(values: number[]): { zero?: false; padding: number; type?: 'log' } {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  // a log axis when the values span more than a factor of 30 (areas and latencies of a wide space);
  // padding keeps the extreme points and the reference label inside the plot
  return lo > 0 && hi / lo > 30 ? { type: 'log', padding: 24 } : { zero: false, padding: 24 };
}

/**
 * The points a scatter mark stands for: every point whose objectives were all measured (status
 * ok), with its role (on the front or dominated), whether it is the reference, and a one-line
 * description (the mark's aria-label in the page).
 */
export function scatterRows(input: ReportInput): Record<string, unknown>[] {
  const { records, pareto } = input;
  const front = new Set(pareto.front.map((f) => f.id));
  const keys = variedKeys(records);
  return records
    .filter((r) => r.status === 'ok' && pareto.objectives.every((o) => hasValue(r, o.metric)))
    .map((r) => {
      const role = front.has(r.id) ? FRONT : DOMINATED;
      const values = pareto.objectives.map((o) => `${o.metric} ${fmt(r.metrics[o.metric])}`).join(', ');
      return {
        ...Object.fromEntries(keys.map((k) => [k, r.point[k]])),
        ...r.metrics,
        id: r.id,
        variant: r.variant,
        role,
        reference: pareto.reference?.id === r.id,
        desc: `point #${r.id} (${role === FRONT ? 'on the Pareto front' : 'dominated'}): ${values}`,
      };
    });
}

/** The objectives scatter: first objective across, second up (point id up when there is one). */
function scatterSpec(input: ReportInput): TopLevelSpec {
  const { pareto, records } = input;
  const rows = scatterRows(input);
  const [ox, oy] = pareto.objectives;
  const axis = (o: Objective) => ({
    field: o.metric, type: 'quantitative' as const, title: `${o.metric} (${goalWords(o.goal)})`,
    scale: axisScale(rows.map((r) => r[o.metric] as number)), axis: { format: '~s' },
  });
  const x = axis(ox);
  const y = oy ? axis(oy) : { field: 'id', type: 'quantitative' as const, title: 'point id', scale: { zero: false as const, padding: 24 } };
  const tooltip = [
    { field: 'id', type: 'quantitative' as const, title: 'point' },
    { field: 'role', type: 'nominal' as const, title: 'status' },
    ...pareto.objectives.map((o) => ({ field: o.metric, type: 'quantitative' as const, format: NUM })),
    ...variedKeys(records).map((k) => ({ field: k, type: 'nominal' as const })),
    { field: 'variant', type: 'nominal' as const },
  ];
  const more = pareto.objectives.length > 2 ? `; the front is over all ${pareto.objectives.length} objectives, so front points can look dominated here` : '';
  const ref = pareto.reference;
  // The staircase joining the front, when it is a front of exactly these two objectives.
  const step = ox?.goal === oy?.goal ? (ox.goal === 'min' ? 'step-after' : 'step-before') : 'linear';
  const layer: unknown[] = [];
  if (pareto.objectives.length === 2) {
    layer.push({
      transform: [{ filter: `datum.role === '${FRONT}'` }],
      mark: { type: 'line', interpolate: step, color: COLORS[FRONT], strokeDash: [4, 3], strokeWidth: 1, opacity: 0.7, aria: false },
      encoding: { x: { ...x, title: x.title }, y, order: { field: ox.metric, type: 'quantitative' } },
    });
  }
  layer.push({
    name: 'points',
    params: [{ name: 'zoom', select: 'interval', bind: 'scales' }],
    mark: { type: 'point', filled: true, size: 70, opacity: 0.85 },
    encoding: {
      x, y,
      color: { field: 'role', type: 'nominal', title: null, scale: { domain: [FRONT, DOMINATED], range: [COLORS[FRONT], COLORS[DOMINATED]] } },
      description: { field: 'desc', type: 'nominal' },
      tooltip,
    },
  });
  if (ref && rows.some((r) => r.reference)) {
    const only = [{ filter: 'datum.reference' }];
    layer.push(
      { transform: only, mark: { type: 'point', shape: 'diamond', size: 320, strokeWidth: 2, color: 'black', filled: false }, encoding: { x, y, description: { value: `reference point #${ref.id}` }, tooltip } },
      { transform: only, mark: { type: 'text', align: 'center', dy: -16, fontSize: 11, aria: false }, encoding: { x, y, text: { value: `reference #${ref.id}` } } },
    );
  }
  return {
    $schema: SCHEMA,
    title: { text: `${pareto.space}: ${ox.metric}${oy ? ` vs ${oy.metric}` : ''}`, subtitle: `${rows.length} measured points, ${rows.filter((r) => r.role === FRONT).length} on the Pareto front${more}` },
    width: 560, height: 380,
    data: { values: rows },
    layer,
  } as TopLevelSpec;
}

/** Per point (status ok), its cycles split by workload layer (cycles x count), fastest on top. */
function layersSpec(input: ReportInput): TopLevelSpec | null {
  const { records, pareto } = input;
  const front = new Set(pareto.front.map((f) => f.id));
  const ok = records.filter((r) => r.status === 'ok' && r.workloads.some((w) => w.cycles !== undefined));
  if (!ok.length) return null;
  const several = new Set(ok.flatMap((r) => r.workloads.map((w) => w.workload))).size > 1;
  const layerName = (w: PointRecord['workloads'][number]) => (several && w.layer !== w.workload ? `${w.workload} ${w.layer}` : w.layer);
  const order = [...new Set(ok.flatMap((r) => r.workloads.map(layerName)))];
  const rows = ok.flatMap((r) => {
    const total = r.workloads.reduce((s, w) => s + (w.cycles ?? 0) * w.count, 0);
    return r.workloads.map((w) => ({
      point: `#${r.id}${front.has(r.id) ? ' \u2605' : ''}${pareto.reference?.id === r.id ? ' (ref)' : ''}`,
      id: r.id, variant: r.variant, layer: layerName(w), index: order.indexOf(layerName(w)),
      count: w.count, cycles: w.cycles, layer_cycles: (w.cycles ?? 0) * w.count, utilization: w.utilization, total,
    }));
  });
  return {
    $schema: SCHEMA,
    title: { text: `${pareto.space}: simulated cycles per layer`, subtitle: `each layer's cycles x how often the workload runs it; \u2605 on the Pareto front` },
    width: 560, height: { step: 16 },
    data: { values: rows },
    mark: { type: 'bar' },
    encoding: {
      y: { field: 'point', type: 'nominal', title: null, sort: { field: 'total', op: 'max', order: 'ascending' } },
      x: { field: 'layer_cycles', type: 'quantitative', title: 'cycles', stack: 'zero', axis: { format: '~s' } },
      color: { field: 'layer', type: 'nominal', title: 'layer', scale: { domain: order }, legend: order.length > 24 ? null : { orient: 'right' } },
      order: { field: 'index', type: 'quantitative' },
      tooltip: [
        { field: 'id', type: 'quantitative', title: 'point' }, { field: 'variant', type: 'nominal' }, { field: 'layer', type: 'nominal' },
        { field: 'count', type: 'quantitative' }, { field: 'cycles', type: 'quantitative', title: 'cycles per run', format: NUM },
        { field: 'layer_cycles', type: 'quantitative', title: 'cycles x count', format: NUM }, { field: 'utilization', type: 'quantitative', format: '.1%' },
        { field: 'total', type: 'quantitative', title: 'point total', format: NUM },
      ],
    },
  } as TopLevelSpec;
}

/** The report's vega-lite specs by name (the name is the chart's element id and SVG file name). */
export function reportSpecs(input: ReportInput): Record<string, TopLevelSpec> {
  const specs: Record<string, TopLevelSpec> = { scatter: scatterSpec(input) };
  const layers = layersSpec(input);
  if (layers) specs.layers = layers;
  return specs;
}

/** Render a vega-lite spec to SVG in Node (vega's headless View; no browser). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    // vega numbers clip paths with a counter global to the process: number them per file instead,
    // so the same results give the same bytes
    const ids = new Map<string, number>();
    return (await view.toSVG()).replace(/(id="|url\(#)clip(\d+)/g, (_, pre: string, n: string) => {
      if (!ids.has(n)) ids.set(n, ids.size + 1);
      return `${pre}clip${ids.get(n)}`;
    });
  } finally {
    view.finalize();
  }
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A package's browser build (UMD, minified), made safe to sit inside a <script> element. */
function browserBuild(pkg: 'vega' | 'vega-lite' | 'vega-embed'): string {
  const file = { vega: 'vega.min.js', 'vega-lite': 'vega-lite.min.js', 'vega-embed': 'vega-embed.min.js' }[pkg];
  let path = '';
  try {
    // the packages export their ES module entry (in build/) but not the browser bundle beside it
    path = join(dirname(fileURLToPath(import.meta.resolve(pkg))), file);
    return readFileSync(path, 'utf8').replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
  } catch (e) {
    throw new VtwError(`cannot read ${pkg}'s browser build${path ? ` ${path}` : ''} for the report: ${fsReason(e)}; run npm ci`);
  }
}

/** The sortable table of every point: id, status, front, varied keys, variant, metrics, cached, reason. */
function tableHtml(input: ReportInput): string {
  const { records, pareto } = input;
  const front = new Set(pareto.front.map((f) => f.id));
  const keys = variedKeys(records);
  const present = new Set(records.flatMap((r) => Object.keys(r.metrics)));
  const metrics = [...Object.keys(METRICS).filter((m) => present.has(m)), ...[...present].filter((m) => !(m in METRICS))];
  const objective = new Map(pareto.objectives.map((o) => [o.metric, o.goal]));
  const head = [
    ['id', 'grid index of the point'], ['status', 'ok, failed (a workload layer could not be measured) or infeasible'], ['front', 'on the Pareto front (\u2605) or the reference point (ref)'],
    ...keys.map((k) => [k, 'varied configuration key']), ['variant', 'src/config variant name'],
    ...metrics.map((m) => [objective.has(m) ? `${m} (${objective.get(m)})` : m, METRICS[m]?.doc ?? '']), ['cached', 'every measurement came from the cache'], ['reason', 'why the point is infeasible or failed'],
  ];
  const th = head.map(([h, title]) => `<th scope="col" tabindex="0" title="${esc(title)}">${esc(h)}</th>`).join('');
  const cell = (v: unknown, shown = fmt(v)) => `<td data-v="${esc(v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v))}">${esc(shown)}</td>`;
  const body = records.map((r) => {
    const mark = [front.has(r.id) ? '\u2605' : '', pareto.reference?.id === r.id ? 'ref' : ''].filter(Boolean).join(' ');
    const cls = front.has(r.id) ? ' class="front"' : r.status !== 'ok' ? ` class="${r.status}"` : '';
    return `<tr data-id="${r.id}"${cls}>${cell(r.id)}${cell(r.status)}${cell(mark)}${keys.map((k) => cell(r.point[k])).join('')}${cell(r.variant)}${metrics.map((m) => cell(r.metrics[m])).join('')}${cell(r.cached)}${cell(r.reason)}</tr>`;
  });
  return `<table id="points"><thead><tr>${th}</tr></thead><tbody>\n${body.join('\n')}\n</tbody></table>`;
}

function summaryHtml(input: ReportInput): string {
  const { records, pareto } = input;
  const count = (s: string) => records.filter((r) => r.status === s).length;
  const ids = (xs: { id: number }[]) => xs.map((f) => `#${f.id}`).join(', ') || 'none';
  const lines = [
    `${records.length} points: ${count('ok')} measured, ${count('failed')} with a workload that failed, ${count('infeasible')} infeasible.`,
    `Objectives: ${pareto.objectives.map((o) => `${o.goal} ${o.metric}`).join(', ')}. Pareto front (${pareto.front.length}): ${ids(pareto.front)}.`,
  ];
  const ref = pareto.reference;
  if (ref) {
    lines.push(`Reference point #${ref.id}: ${ref.on_front ? 'on the front' : ref.dominated_by.length ? `dominated by ${ids(ref.dominated_by.map((id) => ({ id })))}` : `no result to compare (${ref.status})`}.`);
  }
  for (const [w, f] of Object.entries(pareto.per_workload ?? {})) if (Array.isArray(f)) lines.push(`Front for ${w} alone: ${ids(f as { id: number }[])}.`);
  return lines.map((l) => `<p>${esc(l)}</p>`).join('\n');
}

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
.chart { margin: 0.5em 0; } .svg-link { font-size: 0.9em; }
table { border-collapse: collapse; font-size: 12px; }
th, td { border: 1px solid #ddd; padding: 2px 6px; text-align: right; white-space: nowrap; }
td:last-child { text-align: left; white-space: normal; min-width: 30em; max-width: 60em; }
th { background: #f3f3f3; cursor: pointer; user-select: none; position: sticky; top: 0; }
th[aria-sort="ascending"]::after { content: " \\25B2"; } th[aria-sort="descending"]::after { content: " \\25BC"; }
tr.front td { background: #fdecec; } tr.infeasible td, tr.failed td { color: #888; }
`;

/** Sorting the table by a clicked column (numbers as numbers, empty cells last, ties by id), and the charts. */
const SCRIPT = `
(function () {
  const table = document.getElementById('points');
  function sortBy(th) {
    const i = Array.prototype.indexOf.call(th.parentNode.children, th);
    const dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;
    for (const h of th.parentNode.children) h.removeAttribute('aria-sort');
    th.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');
    const body = table.tBodies[0];
    const rows = Array.from(body.rows);
    const val = (tr) => tr.children[i].dataset.v;
    rows.sort((a, b) => {
      const x = val(a), y = val(b);
      if (x === '' || y === '') return x === y ? Number(a.dataset.id) - Number(b.dataset.id) : x === '' ? 1 : -1;
      const nx = Number(x), ny = Number(y);
      const c = !isNaN(nx) && !isNaN(ny) ? nx - ny : x < y ? -1 : x > y ? 1 : 0;
      return dir * c || Number(a.dataset.id) - Number(b.dataset.id);
    });
    body.append(...rows);
  }
  for (const th of table.tHead.rows[0].cells) {
    th.addEventListener('click', () => sortBy(th));
    th.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sortBy(th); } });
  }
  const specs = JSON.parse(document.getElementById('specs').textContent);
  const views = {};
  const opts = { renderer: 'svg', actions: { export: true, source: false, compiled: false, editor: false } };
  window.vtwReport = {
    views,
    ready: Promise.all(Object.keys(specs).map((name) => vegaEmbed('#' + name, specs[name], opts).then((r) => { views[name] = r.view; })))
      .then(() => true, (e) => { console.error('vtw report: ' + e); return false; }),
  };
})();
`;

/** The whole page: the specs and the table rendered here, the three libraries inlined. */
export function reportHtml(input: ReportInput, specs: Record<string, TopLevelSpec>): string {
  const name = input.pareto.space;
  const titles: Record<string, string> = { scatter: 'Objectives and the Pareto front', layers: 'Cycles per workload layer' };
  const charts = Object.keys(specs).map((k) =>
    `<h2>${esc(titles[k] ?? k)}</h2>\n<div id="${k}" class="chart"></div>\n<p class="svg-link">For papers: <a href="${k}.svg">${k}.svg</a> (rendered by vtw, beside this file).</p>`).join('\n');
  const json = JSON.stringify(specs).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vtw explore: ${esc(name)}</title>
<style>${STYLE}</style>
<script>${browserBuild('vega')}</script>
<script>${browserBuild('vega-lite')}</script>
<script>${browserBuild('vega-embed')}</script>
</head>
<body>
<h1>vtw explore: ${esc(name)}</h1>
${summaryHtml(input)}
${charts}
<h2>Every point</h2>
<p>Click a column to sort by it (again to reverse).</p>
${tableHtml(input)}
<script type="application/json" id="specs">${json}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

/** report.html and one SVG per chart, as files for the output folder. */
export async function reportFiles(input: ReportInput): Promise<Record<string, string>> {
  const specs = reportSpecs(input);
  const files: Record<string, string> = { 'report.html': reportHtml(input, specs) };
  for (const [name, spec] of Object.entries(specs)) files[`${name}.svg`] = await renderSvg(spec);
  return files;
}

/** results.jsonl and pareto.json of a sweep's output folder, checked enough to render. */
export function readReportInput(dir: string): ReportInput {
  const read = (f: string) => {
    try {
      return readFileSync(join(dir, f), 'utf8');
    } catch (e) {
      throw new VtwError(`cannot read ${quoteUser(join(dir, f))}: ${fsReason(e)}; give the --out folder of a vtw explore run`);
    }
  };
  const parse = (text: string, where: string) => {
    try {
      return JSON.parse(text) as unknown;
    } catch (e) {
      throw new VtwError(`${where} is not valid JSON (${jsonErrorReason(text, e)}); run vtw explore again to rewrite it`);
    }
  };
  const resultsText = read('results.jsonl');
  const paretoText = read('pareto.json');
  const records = resultsText.split('\n').filter((l) => l.trim()).map((l, i) => {
    const r = parse(l, `${quoteUser(join(dir, 'results.jsonl'))} line ${i + 1}`) as PointRecord;
    if (typeof r?.id !== 'number' || typeof r.point !== 'object' || typeof r.metrics !== 'object' || !Array.isArray(r.workloads)) {
      throw new VtwError(`${quoteUser(join(dir, 'results.jsonl'))} line ${i + 1} is not a point record (id, point, metrics, workloads); run vtw explore again to rewrite it`);
    }
    return r;
  });
  if (!records.length) throw new VtwError(`${quoteUser(join(dir, 'results.jsonl'))} holds no points; run vtw explore again`);
  const pareto = parse(paretoText, quoteUser(join(dir, 'pareto.json'))) as ParetoFile;
  if (!Array.isArray(pareto?.objectives) || !pareto.objectives.length || !Array.isArray(pareto.front)) {
    throw new VtwError(`${quoteUser(join(dir, 'pareto.json'))} has no objectives or front; run vtw explore again to rewrite it`);
  }
  return { records, pareto };
}

/**
 * `vtw explore report DIR`: render the report again from DIR's results and replace DIR with the
 * same files plus the new report (the folder is written as a whole, like every vtw output).
 */
export async function rerenderReport(dir: string): Promise<string[]> {
  const input = readReportInput(dir);
  const files: Record<string, string | Uint8Array> = {};
  let listed: string[] = [];
  try {
    listed = (JSON.parse(readFileSync(join(dir, OUTPUT_MARKER), 'utf8')) as { files: string[] }).files;
  } catch {
    throw new VtwError(`${quoteUser(dir)} was not written by vtw explore (no readable ${OUTPUT_MARKER}); give the --out folder of a vtw explore run`);
  }
  for (const f of listed) {
    if (REPORT_FILES.includes(f)) continue;
    try {
      files[f] = readFileSync(join(dir, f));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new VtwError(`cannot read ${quoteUser(join(dir, f))}: ${fsReason(e)}`);
    }
  }
  const report = await reportFiles(input);
  writeFolder(dir, { ...files, ...report });
  return Object.keys(report);
}
