/**
 * The Verilog printer: the one place text is produced from the construction layer. Output is
 * Verilog-2005 that Verilator and Yosys accept, deterministic (same module → same bytes) and
 * readable: named signals, one module per file, a header comment.
 */
import {
  Binary, Concat, Const, Expr, HdlError, MemRead, Module, Mux, Repeat, Signal, Slice, Unary, type Stmt,
} from './ir.ts';

const range = (w: number) => (w === 1 ? '' : `[${w - 1}:0] `);

function constText(c: Const): string {
  return c.width <= 32 && c.value < 1024n ? `${c.width}'d${c.value}` : `${c.width}'h${c.value.toString(16)}`;
}

/**
 * Print one module. A slice of a compound expression becomes a `_t<n>_unused` wire (Verilog cannot
 * slice an expression); the suffix tells Verilator's default unused-regexp that its other bits are
 * dropped on purpose.
 */
export function printModule(m: Module): string {
  if (m.blackbox) throw new HdlError(`${m.name} is a primitive of the cell library and has no Verilog of its own`);
  m.check();
  const temps: string[] = [];
  const tempOf = new Map<Expr, string>();

  const expr = (e: Expr): string => {
    if (e instanceof Signal) return e.name;
    const named = tempOf.get(e);
    if (named) return named;
    if (e instanceof Const) return constText(e);
    if (e instanceof Slice) {
      const base = e.base instanceof Signal ? e.base.name : temp(e.base);
      return e.hi === e.lo ? `${base}[${e.lo}]` : `${base}[${e.hi}:${e.lo}]`;
    }
    if (e instanceof Concat) return `{${e.parts.map(expr).join(', ')}}`;
    if (e instanceof Repeat) return `{${e.count}{${expr(e.part)}}}`;
    if (e instanceof Mux) return `(${expr(e.sel)} ? ${expr(e.onTrue)} : ${expr(e.onFalse)})`;
    if (e instanceof Unary) return `(${e.op}${expr(e.a)})`;
    if (e instanceof MemRead) return `${e.mem.name}[${expr(e.addr)}]`;
    if (e instanceof Binary) {
      const a = e.signed && e.op !== '>>>' ? `$signed(${expr(e.a)})` : expr(e.a);
      const aa = e.op === '>>>' ? `$signed(${expr(e.a)})` : a;
      const b = e.signed && e.op !== '>>>' && e.op !== '<<' ? `$signed(${expr(e.b)})` : expr(e.b);
      // An arithmetic shift is wrapped in $unsigned(): its argument is self-determined, so the shift
      // stays arithmetic inside an unsigned context (e.g. a ?: whose other branch is unsigned).
      if (e.op === '>>>') return `$unsigned(${aa} >>> ${b})`;
      return `(${aa} ${e.op} ${b})`;
    }
    throw new HdlError(`cannot print expression ${e.constructor.name}`);
  };

  const temp = (e: Expr): string => {
    // An expression sliced more than once gets one temporary.
    const existing = tempOf.get(e);
    if (existing) return existing;
    const text = expr(e);
    const name = `_t${tempOf.size}_unused`;
    tempOf.set(e, name);
    temps.push(`  wire ${range(e.width)}${name} = ${text};`);
    return name;
  };

  const stmts = (list: Stmt[], indent: string, op: '=' | '<='): string[] => {
    const out: string[] = [];
    for (const s of list) {
      switch (s.kind) {
        case 'set':
          out.push(`${indent}${expr(s.target)} ${op} ${expr(s.value)};`);
          break;
        case 'memwrite':
          out.push(`${indent}${s.mem.name}[${expr(s.addr)}] <= ${expr(s.value)};`);
          break;
        case 'if':
          out.push(`${indent}if (${expr(s.cond)}) begin`, ...stmts(s.then, indent + '  ', op));
          if (s.else.length) out.push(`${indent}end else begin`, ...stmts(s.else, indent + '  ', op));
          out.push(`${indent}end`);
          break;
        case 'case':
          out.push(`${indent}case (${expr(s.subject)})`);
          for (const arm of s.arms) {
            out.push(`${indent}  ${arm.match.map(constText).join(', ')}: begin`, ...stmts(arm.body, indent + '    ', op), `${indent}  end`);
          }
          out.push(`${indent}  default: begin`, ...stmts(s.default, indent + '    ', op), `${indent}  end`, `${indent}endcase`);
          break;
      }
    }
    return out;
  };

  // Body first (it may create temporaries), then declarations.
  const body: string[] = [];
  for (const a of m.assigns) body.push(`  assign ${a.target.name} = ${expr(a.value)};`);
  for (const p of m.processes) {
    body.push('');
    body.push(p.kind === 'seq' ? `  always @(posedge ${p.clock!.name}) begin` : '  always @(*) begin');
    body.push(...stmts(p.body, '    ', p.kind === 'seq' ? '<=' : '='), '  end');
  }
  for (const inst of m.instances) {
    const conns = [...inst.connections].map(([port, e]) => `    .${port}(${expr(e)})`);
    const params = [...inst.parameters].map(([k, v]) => `    .${k}(${typeof v === 'number' ? v : constText(v)})`);
    const head = params.length ? `  ${inst.module.name} #(\n${params.join(',\n')}\n  ) ${inst.name} (` : `  ${inst.module.name} ${inst.name} (`;
    body.push('', head, conns.join(',\n'), '  );');
  }

  const ports = m.ports().map((p) => {
    const kind = p.kind === 'input' ? 'input  wire' : m.isProcessDriven(p) ? 'output reg ' : 'output wire';
    return `  ${kind} ${range(p.width)}${p.name}${p.comment ? ` /* ${p.comment} */` : ''}`;
  });
  const decls: string[] = [];
  for (const s of m.signals) {
    if (s.kind === 'wire') decls.push(`  wire ${range(s.width)}${s.name};${s.comment ? ` // ${s.comment}` : ''}`);
    if (s.kind === 'reg') decls.push(`  reg  ${range(s.width)}${s.name};${s.comment ? ` // ${s.comment}` : ''}`);
  }
  for (const mem of m.memories) decls.push(`  ${mem.options.noRwCheck ? '(* no_rw_check *) ' : ''}${mem.options.blockRam ? '(* ram_style = "block" *) ' : ''}reg  ${range(mem.width)}${mem.name} [0:${mem.depth - 1}];`);

  return [
    ...m.comment.map((c) => `// ${c}`),
    `module ${m.name} (`,
    ports.join(',\n'),
    ');',
    ...decls,
    ...temps,
    ...body,
    'endmodule',
    '',
  ].join('\n');
}
