/**
 * A small typed hardware-construction layer. Module generators build modules out of typed
 * signals, width-checked expressions, continuous assignments, clocked and combinational processes,
 * memories and instances; `printVerilog` (print.ts) is the only place Verilog text is produced.
 *
 * Widths are checked when an expression is built, so generated code has no implicit width
 * conversions (Verilator -Wall clean by construction), and combinational processes must give every
 * target a default first, so no latch can be inferred.
 */

import { relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** This layer's own folder: stack frames inside it are skipped when finding the builder's line. */
const HDL_DIR = fileURLToPath(new URL('.', import.meta.url));

/**
 * Where in the generator's TypeScript something was built: the first stack frame outside hw/hdl.
 * Capturing is cheap (V8 keeps the raw frames); the text is formatted and parsed only when an
 * error needs it.
 */
export class SourceSite {
  private text?: string;
  constructor(private readonly trace: { stack?: string }) {}

  toString(): string {
    if (this.text !== undefined) return this.text;
    this.text = '(unknown location)';
    for (const line of (this.trace.stack ?? '').split('\n').slice(1)) {
      const m = /\(?((?:file:\/\/)?[^()\s]+?):(\d+):\d+\)?\s*$/.exec(line);
      if (!m) continue;
      const path = m[1].startsWith('file://') ? fileURLToPath(m[1]) : m[1];
      if (path.startsWith(HDL_DIR) || path.startsWith('node:') || !path.includes(sep)) continue;
      const rel = relative(process.cwd(), path);
      this.text = `${rel.startsWith('..') ? path : rel}:${m[2]}`;
      break;
    }
    return this.text;
  }
}

/** The caller's site (the first frame outside hw/hdl). */
export function captureSite(): SourceSite {
  // Error.stackTraceLimit's default (10) frames reach past the few of this layer.
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, captureSite);
  return new SourceSite(holder);
}

/**
 * A construction error. It ends with the TypeScript line that made the failing call (`at
 * file:line`), unless `site` is null (errors found later, which name each offending signal's own
 * site in the message).
 */
export class HdlError extends Error {
  constructor(message: string, site: SourceSite | null = captureSite()) {
    super(site ? `${message} (at ${site})` : message);
    this.name = 'HdlError';
  }
}

/** A signal's name for a message, or a description of an unnamed expression. */
export function describe(e: Expr): string {
  return e instanceof Signal ? `${e.name} (${e.width} bits, declared at ${e.site})` : `a ${e.width}-bit expression`;
}

export type SignalKind = 'input' | 'output' | 'wire' | 'reg';

/** Any width-carrying expression. */
export abstract class Expr {
  abstract readonly width: number;
  /** Bits [hi:lo] of this expression. */
  slice(hi: number, lo: number): Expr {
    if (!(0 <= lo && lo <= hi && hi < this.width)) throw new HdlError(`slice [${hi}:${lo}] outside a ${this.width}-bit value`);
    if (lo === 0 && hi === this.width - 1) return this;
    return new Slice(this, hi, lo);
  }
  bit(i: number): Expr {
    return this.slice(i, i);
  }
}

export class Signal extends Expr {
  /** Where the generator declared it. */
  readonly site: SourceSite = captureSite();
  constructor(
    readonly name: string,
    readonly width: number,
    readonly kind: SignalKind,
    readonly comment?: string,
  ) {
    super();
    if (!Number.isInteger(width) || width < 1) throw new HdlError(`signal ${name}: width ${width} must be a positive integer`);
  }
}

export class Const extends Expr {
  constructor(
    readonly width: number,
    readonly value: bigint,
  ) {
    super();
    if (!Number.isInteger(width) || width < 1) throw new HdlError(`constant ${value}: width ${width} must be a positive integer`);
    if (value < 0n || value >= 1n << BigInt(width)) throw new HdlError(`constant ${value} does not fit in ${width} bits`);
  }
}

export class Slice extends Expr {
  readonly width: number;
  constructor(
    readonly base: Expr,
    readonly hi: number,
    readonly lo: number,
  ) {
    super();
    this.width = hi - lo + 1;
  }
}

export class Concat extends Expr {
  readonly width: number;
  /** Most significant part first, as in Verilog. */
  constructor(readonly parts: readonly Expr[]) {
    super();
    if (parts.length === 0) throw new HdlError('empty concatenation');
    this.width = parts.reduce((w, p) => w + p.width, 0);
  }
}

export class Repeat extends Expr {
  readonly width: number;
  constructor(
    readonly count: number,
    readonly part: Expr,
  ) {
    super();
    this.width = count * part.width;
  }
}

export type BinaryOp = '+' | '-' | '*' | '&' | '|' | '^' | '==' | '!=' | '<' | '<=' | '>' | '>=' | '<<' | '>>' | '>>>';
export type UnaryOp = '~' | '!' | '&' | '|' | '^';

export class Binary extends Expr {
  constructor(
    readonly op: BinaryOp,
    readonly a: Expr,
    readonly b: Expr,
    readonly width: number,
    /** Compare / shift / multiply as signed values. */
    readonly signed: boolean,
  ) {
    super();
  }
}

export class Unary extends Expr {
  constructor(
    readonly op: UnaryOp,
    readonly a: Expr,
    readonly width: number,
  ) {
    super();
  }
}

export class Mux extends Expr {
  readonly width: number;
  constructor(
    readonly sel: Expr,
    readonly onTrue: Expr,
    readonly onFalse: Expr,
  ) {
    super();
    if (sel.width !== 1) throw new HdlError(`mux select must be 1 bit, got ${sel.width}`);
    sameWidth('mux', onTrue, onFalse);
    this.width = onTrue.width;
  }
}

/** A read of memory `mem` at `addr` (used inside a clocked process for a registered read). */
export class MemRead extends Expr {
  readonly width: number;
  constructor(
    readonly mem: Memory,
    readonly addr: Expr,
  ) {
    super();
    if (addr.width !== mem.addrWidth) throw new HdlError(`memory ${mem.name}: address is ${addr.width} bits, needs ${mem.addrWidth}`);
    this.width = mem.width;
  }
}

export interface MemoryOptions {
  /**
   * Tell synthesis that a read and a write of the same address in one cycle never happen (yosys
   * `no_rw_check`), so it maps the memory without the bypass logic that keeps read-old-data
   * semantics (on iCE40 block RAM: one register and one LUT per data bit). Simulation keeps
   * read-old-data.
   */
  noRwCheck?: boolean;
  /**
   * Ask synthesis for block RAM even where the memory is small enough that it would build it from
   * flip-flops (yosys `ram_style = "block"`): the reads must be registered (a read register with no
   * logic between it and the memory).
   */
  blockRam?: boolean;
}

export class Memory {
  readonly addrWidth: number;
  constructor(
    readonly name: string,
    readonly width: number,
    readonly depth: number,
    readonly options: MemoryOptions = {},
  ) {
    this.addrWidth = Math.max(1, Math.ceil(Math.log2(depth)));
  }
  read(addr: Expr): Expr {
    return new MemRead(this, addr);
  }
}

function sameWidth(what: string, a: Expr, b: Expr): void {
  if (a.width !== b.width) throw new HdlError(`${what}: operand widths differ (${a.width} vs ${b.width}): ${describe(a)} and ${describe(b)}`);
}

// ---- expression helpers ----

export function lit(width: number, value: number | bigint): Const {
  let v = BigInt(value);
  if (v < 0n) v += 1n << BigInt(width);
  return new Const(width, v);
}

export function cat(...parts: Expr[]): Expr {
  return parts.length === 1 ? parts[0] : new Concat(parts);
}

export function repeat(count: number, part: Expr): Expr {
  return count === 1 ? part : new Repeat(count, part);
}

/** Same-width arithmetic that wraps (result has the operands' width). */
export function add(a: Expr, b: Expr): Expr {
  sameWidth('+', a, b);
  return new Binary('+', a, b, a.width, false);
}
export function sub(a: Expr, b: Expr): Expr {
  sameWidth('-', a, b);
  return new Binary('-', a, b, a.width, false);
}
/** Full-width product: width a + width b. */
export function mul(a: Expr, b: Expr, signed: boolean): Expr {
  const w = a.width + b.width;
  return new Binary('*', signed ? sext(a, w) : zext(a, w), signed ? sext(b, w) : zext(b, w), w, signed);
}
export function and(a: Expr, b: Expr): Expr {
  sameWidth('&', a, b);
  return new Binary('&', a, b, a.width, false);
}
export function or(a: Expr, b: Expr): Expr {
  sameWidth('|', a, b);
  return new Binary('|', a, b, a.width, false);
}
export function xor(a: Expr, b: Expr): Expr {
  sameWidth('^', a, b);
  return new Binary('^', a, b, a.width, false);
}
export function not(a: Expr): Expr {
  return new Unary('~', a, a.width);
}
export function reduceOr(a: Expr): Expr {
  return a.width === 1 ? a : new Unary('|', a, 1);
}
export function reduceAnd(a: Expr): Expr {
  return a.width === 1 ? a : new Unary('&', a, 1);
}
export function eq(a: Expr, b: Expr): Expr {
  sameWidth('==', a, b);
  return new Binary('==', a, b, 1, false);
}
export function ne(a: Expr, b: Expr): Expr {
  sameWidth('!=', a, b);
  return new Binary('!=', a, b, 1, false);
}
export function lt(a: Expr, b: Expr, signed = false): Expr {
  sameWidth('<', a, b);
  return new Binary('<', a, b, 1, signed);
}
export function gt(a: Expr, b: Expr, signed = false): Expr {
  sameWidth('>', a, b);
  return new Binary('>', a, b, 1, signed);
}
/** Logical shift left / right, or arithmetic right (`signed`); the amount is unsigned. */
export function shl(a: Expr, amount: Expr): Expr {
  return new Binary('<<', a, amount, a.width, false);
}
export function shr(a: Expr, amount: Expr, arithmetic: boolean): Expr {
  return new Binary(arithmetic ? '>>>' : '>>', a, amount, a.width, arithmetic);
}
export function mux(sel: Expr, onTrue: Expr, onFalse: Expr): Expr {
  return new Mux(sel, onTrue, onFalse);
}
export function zext(a: Expr, width: number): Expr {
  if (width < a.width) throw new HdlError(`zero-extension to ${width} bits of a ${a.width}-bit value`);
  return width === a.width ? a : cat(lit(width - a.width, 0), a);
}
export function sext(a: Expr, width: number): Expr {
  if (width < a.width) throw new HdlError(`sign-extension to ${width} bits of a ${a.width}-bit value`);
  return width === a.width ? a : cat(repeat(width - a.width, a.bit(a.width - 1)), a);
}
/** Resize by truncation or zero-extension. */
export function resize(a: Expr, width: number): Expr {
  return width <= a.width ? a.slice(width - 1, 0) : zext(a, width);
}

// ---- statements ----

export type Stmt =
  | { kind: 'set'; target: Signal | Slice; value: Expr }
  | { kind: 'memwrite'; mem: Memory; addr: Expr; value: Expr }
  | { kind: 'if'; cond: Expr; then: Stmt[]; else: Stmt[] }
  | { kind: 'case'; subject: Expr; arms: Array<{ match: Const[]; body: Stmt[] }>; default: Stmt[] };

/** Builds the statement list of one process. */
export class Block {
  readonly stmts: Stmt[] = [];
  constructor(private readonly owner: Module) {}

  set(target: Signal | Slice, value: Expr): void {
    const sig = target instanceof Signal ? target : (target.base as Signal);
    if (!(sig instanceof Signal)) throw new HdlError('only signals and slices of signals can be assigned');
    if (target.width !== value.width) throw new HdlError(`assignment to ${sig.name}: ${value.width}-bit value into ${target.width} bits`);
    this.owner.checkOwn(sig);
    this.stmts.push({ kind: 'set', target, value });
  }

  write(mem: Memory, addr: Expr, value: Expr): void {
    if (addr.width !== mem.addrWidth) throw new HdlError(`memory ${mem.name}: address is ${addr.width} bits, needs ${mem.addrWidth}`);
    if (value.width !== mem.width) throw new HdlError(`memory ${mem.name}: ${value.width}-bit write into ${mem.width}-bit words`);
    this.stmts.push({ kind: 'memwrite', mem, addr, value });
  }

  if(cond: Expr, then: (b: Block) => void, otherwise?: (b: Block) => void): void {
    if (cond.width !== 1) throw new HdlError(`if condition must be 1 bit, got ${cond.width}`);
    const t = new Block(this.owner);
    then(t);
    const e = new Block(this.owner);
    otherwise?.(e);
    this.stmts.push({ kind: 'if', cond, then: t.stmts, else: e.stmts });
  }

  switch(subject: Expr, arms: Array<[number | number[], (b: Block) => void]>, otherwise?: (b: Block) => void): void {
    const built = arms.map(([m, body]) => {
      const b = new Block(this.owner);
      body(b);
      return { match: (Array.isArray(m) ? m : [m]).map((v) => lit(subject.width, v)), body: b.stmts };
    });
    const d = new Block(this.owner);
    otherwise?.(d);
    this.stmts.push({ kind: 'case', subject, arms: built, default: d.stmts });
  }
}

export interface Process {
  kind: 'comb' | 'seq';
  clock?: Signal;
  body: Stmt[];
}

export interface Instance {
  module: Module;
  name: string;
  connections: Map<string, Expr>;
  /** Verilog parameters of the instance (constants), e.g. a primitive's configuration. */
  parameters: Map<string, Const | number>;
}

/** Signals a statement list assigns, and whether each is assigned on every path. */
function assignedAlways(stmts: Stmt[]): Set<string> {
  const out = new Set<string>();
  for (const s of stmts) {
    if (s.kind === 'set' && s.target instanceof Signal) out.add(s.target.name);
    if (s.kind === 'if') {
      const a = assignedAlways(s.then);
      const b = assignedAlways(s.else);
      for (const x of a) if (b.has(x)) out.add(x);
    }
    if (s.kind === 'case' && s.default.length) {
      const sets = [...s.arms.map((a) => assignedAlways(a.body)), assignedAlways(s.default)];
      for (const x of sets[0]) if (sets.every((set) => set.has(x))) out.add(x);
    }
  }
  return out;
}

function assignedAnywhere(stmts: Stmt[], out = new Set<string>()): Set<string> {
  for (const s of stmts) {
    if (s.kind === 'set') out.add((s.target instanceof Signal ? s.target : (s.target.base as Signal)).name);
    if (s.kind === 'if') {
      assignedAnywhere(s.then, out);
      assignedAnywhere(s.else, out);
    }
    if (s.kind === 'case') {
      for (const a of s.arms) assignedAnywhere(a.body, out);
      assignedAnywhere(s.default, out);
    }
  }
  return out;
}

export class Module {
  readonly signals: Signal[] = [];
  readonly memories: Memory[] = [];
  readonly assigns: Array<{ target: Signal; value: Expr }> = [];
  readonly processes: Process[] = [];
  readonly instances: Instance[] = [];
  private readonly names = new Set<string>();
  /** Who drives each signal, and the TypeScript line that made that driver. */
  private readonly drivers = new Map<string, { by: string; site: SourceSite }>();

  constructor(
    readonly name: string,
    readonly comment: string[] = [],
    /** A primitive defined by the tool's cell library (e.g. SB_MAC16): ports only, never printed. */
    readonly blackbox = false,
  ) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new HdlError(`module name '${name}' is not a Verilog identifier`);
  }

  private declare(name: string): void {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new HdlError(`${this.name}: '${name}' is not a Verilog identifier`);
    if (this.names.has(name)) throw new HdlError(`${this.name}: '${name}' declared twice`);
    this.names.add(name);
  }

  private signal(name: string, width: number, kind: SignalKind, comment?: string): Signal {
    this.declare(name);
    const s = new Signal(name, width, kind, comment);
    this.signals.push(s);
    return s;
  }

  input(name: string, width = 1, comment?: string): Signal {
    return this.signal(name, width, 'input', comment);
  }
  /** An output driven by a continuous assignment or a process. */
  output(name: string, width = 1, comment?: string): Signal {
    return this.signal(name, width, 'output', comment);
  }
  wire(name: string, width = 1, comment?: string): Signal {
    return this.signal(name, width, 'wire', comment);
  }
  /** A signal driven by one process (clocked register, or combinational with a default). */
  reg(name: string, width = 1, comment?: string): Signal {
    return this.signal(name, width, 'reg', comment);
  }
  memory(name: string, width: number, depth: number, options: MemoryOptions = {}): Memory {
    this.declare(name);
    const m = new Memory(name, width, depth, options);
    this.memories.push(m);
    return m;
  }

  checkOwn(sig: Signal): void {
    if (!this.signals.includes(sig)) throw new HdlError(`${this.name}: signal ${sig.name} belongs to another module`);
    if (sig.kind === 'input') throw new HdlError(`${this.name}: input ${sig.name} cannot be assigned (declared at ${sig.site})`);
  }

  private drive(sig: Signal, by: string, site = captureSite()): void {
    const prev = this.drivers.get(sig.name);
    if (prev && prev.by !== by) throw new HdlError(`${this.name}: ${sig.name} has two drivers (${prev.by} at ${prev.site} and ${by})`, site);
    if (!prev) this.drivers.set(sig.name, { by, site });
  }

  assign(target: Signal, value: Expr): void {
    this.checkOwn(target);
    if (target.kind === 'reg') throw new HdlError(`${this.name}: ${target.name} is a reg (declared at ${target.site}); drive it from a process`);
    if (target.width !== value.width) throw new HdlError(`${this.name}: assign ${target.name}: ${value.width}-bit value into ${target.width} bits (${target.name} declared at ${target.site})`);
    this.drive(target, `assign ${this.assigns.length}`);
    this.assigns.push({ target, value });
  }

  /** A clocked process (non-blocking assignments on the rising edge of `clock`). */
  seq(clock: Signal, body: (b: Block) => void): void {
    const b = new Block(this);
    body(b);
    const id = `process ${this.processes.length}`;
    for (const n of assignedAnywhere(b.stmts)) this.drive(this.signals.find((s) => s.name === n)!, id);
    this.processes.push({ kind: 'seq', clock, body: b.stmts });
  }

  /** A combinational process; every signal it assigns must be assigned on every path (no latches). */
  comb(body: (b: Block) => void): void {
    const b = new Block(this);
    body(b);
    const always = assignedAlways(b.stmts);
    for (const n of assignedAnywhere(b.stmts)) {
      if (!always.has(n)) {
        const sig = this.signals.find((x) => x.name === n)!;
        throw new HdlError(`${this.name}: ${n} (declared at ${sig.site}) is not assigned on every path of a combinational process (would infer a latch); give it a default first`);
      }
      this.drive(this.signals.find((s) => s.name === n)!, `process ${this.processes.length}`);
    }
    if (b.stmts.some((s) => s.kind === 'memwrite')) throw new HdlError(`${this.name}: memory writes belong in a clocked process`);
    this.processes.push({ kind: 'comb', body: b.stmts });
  }

  instance(module: Module, name: string, connections: Record<string, Expr>, parameters: Record<string, Const | number> = {}): void {
    this.declare(name);
    const map = new Map<string, Expr>();
    for (const port of module.ports()) {
      const e = connections[port.name];
      if (!e) throw new HdlError(`${this.name}.${name}: port ${port.name} of ${module.name} is not connected`);
      if (e.width !== port.width) throw new HdlError(`${this.name}.${name}: port ${port.name} is ${port.width} bits, connected to ${e.width}`);
      if (port.kind === 'output') {
        if (!(e instanceof Signal) || e.kind !== 'wire') throw new HdlError(`${this.name}.${name}: output ${port.name} must connect to a wire`);
        this.drive(e, `instance ${name}`);
      }
      map.set(port.name, e);
    }
    for (const k of Object.keys(connections)) {
      if (!module.ports().some((p) => p.name === k)) throw new HdlError(`${this.name}.${name}: ${module.name} has no port ${k}`);
    }
    this.instances.push({ module, name, connections: map, parameters: new Map(Object.entries(parameters)) });
  }

  ports(): Signal[] {
    return this.signals.filter((s) => s.kind === 'input' || s.kind === 'output');
  }

  /** Outputs and wires that nothing drives (reported before printing). */
  undriven(): Signal[] {
    return this.signals.filter((s) => (s.kind === 'output' || s.kind === 'wire' || s.kind === 'reg') && !this.drivers.has(s.name));
  }

  /** Where the driver of a signal was built (undefined: undriven). */
  driverSite(sig: Signal): SourceSite | undefined {
    return this.drivers.get(sig.name)?.site;
  }

  /** Whether an output is driven from a process (printed as `output reg`). */
  isProcessDriven(sig: Signal): boolean {
    const d = this.drivers.get(sig.name);
    return d !== undefined && d.by.startsWith('process');
  }

  /**
   * The checks made before printing: every output, wire and reg driven, and no combinational loop
   * (a signal that depends on itself through continuous assignments and combinational processes;
   * registers, memories and instances cut the paths). Errors name each signal and where it was built.
   */
  check(): void {
    const undriven = this.undriven();
    if (undriven.length) {
      throw new HdlError(`${this.name}: nothing drives ${undriven.map((s) => `${s.name} (declared at ${s.site})`).join(', ')}`, null);
    }
    const loop = combinationalLoop(this);
    if (loop) {
      const path = loop.map((s) => `${s.name} (driven at ${this.driverSite(s)})`).join(' -> ');
      throw new HdlError(`${this.name}: combinational loop: ${path} -> ${loop[0].name}`, null);
    }
  }
}

/** The signals an expression reads combinationally (a memory read depends on its address only). */
function readSignals(e: Expr, out: Set<Signal>, seen = new Set<Expr>()): Set<Signal> {
  if (seen.has(e)) return out;
  seen.add(e);
  if (e instanceof Signal) out.add(e);
  else if (e instanceof Slice) readSignals(e.base, out, seen);
  else if (e instanceof Concat) for (const p of e.parts) readSignals(p, out, seen);
  else if (e instanceof Repeat) readSignals(e.part, out, seen);
  else if (e instanceof Binary) {
    readSignals(e.a, out, seen);
    readSignals(e.b, out, seen);
  } else if (e instanceof Unary) readSignals(e.a, out, seen);
  else if (e instanceof Mux) {
    readSignals(e.sel, out, seen);
    readSignals(e.onTrue, out, seen);
    readSignals(e.onFalse, out, seen);
  } else if (e instanceof MemRead) readSignals(e.addr, out, seen);
  return out;
}

/** Per target of a combinational process: what it reads, its own values and the conditions around its assignments. */
function combDeps(stmts: Stmt[], conds: Set<Signal>, deps: Map<Signal, Set<Signal>>): void {
  for (const s of stmts) {
    if (s.kind === 'set') {
      const t = s.target instanceof Signal ? s.target : (s.target.base as Signal);
      const set = deps.get(t) ?? new Set<Signal>();
      for (const c of conds) set.add(c);
      readSignals(s.value, set);
      deps.set(t, set);
    } else if (s.kind === 'if') {
      const inner = readSignals(s.cond, new Set(conds));
      combDeps(s.then, inner, deps);
      combDeps(s.else, inner, deps);
    } else if (s.kind === 'case') {
      const inner = readSignals(s.subject, new Set(conds));
      for (const a of s.arms) combDeps(a.body, inner, deps);
      combDeps(s.default, inner, deps);
    }
  }
}

/** A combinational cycle of signals of `m`, or null. */
function combinationalLoop(m: Module): Signal[] | null {
  const deps = new Map<Signal, Set<Signal>>();
  for (const a of m.assigns) readSignals(a.value, deps.get(a.target) ?? deps.set(a.target, new Set()).get(a.target)!);
  for (const p of m.processes) if (p.kind === 'comb') combDeps(p.body, new Set(), deps);
  const state = new Map<Signal, 1 | 2>(); // 1: on the current path, 2: finished
  const path: Signal[] = [];
  const visit = (s: Signal): Signal[] | null => {
    const st = state.get(s);
    if (st === 2) return null;
    if (st === 1) return path.slice(path.indexOf(s));
    state.set(s, 1);
    path.push(s);
    for (const d of deps.get(s) ?? []) {
      const loop = visit(d);
      if (loop) return loop;
    }
    path.pop();
    state.set(s, 2);
    return null;
  };
  for (const s of deps.keys()) {
    const loop = visit(s);
    if (loop) return loop;
  }
  return null;
}
