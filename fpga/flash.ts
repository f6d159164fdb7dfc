/**
 * Loading a bitstream onto a board through its programmer (the table in fpga/boards/programmers.ts),
 * run with execa. The first programmer of the board's list found on PATH is used unless one is
 * named. Failures keep the programmer's exit status; "no board found" explains USB access.
 */
import { execa } from 'execa';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { VtwError } from '../src/errors.ts';
import { boardProgrammers, type Board, type Programmer } from './boards/index.ts';

/** A programmer failed; `exitCode` is its own exit status. */
export class FlashError extends VtwError {
  override readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.exitCode = exitCode === 0 ? 1 : exitCode;
  }
}

export interface FlashPlan {
  programmer: Programmer;
  /** Absolute path of the executable, or null when it is not installed (dry runs only). */
  executable: string | null;
  args: string[];
  /** The command as one shell-quoted line. */
  command: string;
}

/** Find an executable on PATH (as execa would run it). */
export function which(tool: string, pathEnv = process.env.PATH ?? ''): string | null {
  for (const dir of pathEnv.split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, tool);
    try {
      accessSync(p, constants.X_OK);
      if (statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return null;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Choose the programmer and build its arguments. `dryRun` allows a programmer that is not installed
 * (the command is shown, not run); the bitstream must exist either way.
 */
export function planFlash(board: Board, file: string, opts: { sram?: boolean; tool?: string; dryRun?: boolean } = {}): FlashPlan {
  if (!isFile(file)) throw new VtwError(existsSync(file) ? `bitstream ${file} is not a file` : `bitstream ${file} does not exist`);
  const mode = opts.sram ? 'sram' : 'flash';
  const all = boardProgrammers(board);
  let candidates = all;
  if (opts.tool) {
    candidates = candidates.filter((p) => p.tool === opts.tool);
    if (!candidates.length) {
      throw new VtwError(`${board.name} is not programmed with ${opts.tool}; its programmers: ${all.map((p) => p.tool).join(', ')}`);
    }
  }
  if (opts.sram) {
    const able = candidates.filter((p) => p.sram);
    if (!able.length) {
      const why = candidates.map((p) => p.note).filter(Boolean).join('; ');
      throw new VtwError(`${board.name} cannot be loaded into SRAM with ${candidates.map((p) => p.tool).join(' or ')}${why ? ` (${why})` : ''}; leave out --sram to write the flash`);
    }
    candidates = able;
  }
  const found = candidates.map((p) => ({ p, exe: which(p.command) }));
  const chosen = found.find((f) => f.exe) ?? (opts.dryRun ? { p: candidates[0], exe: null } : undefined);
  if (!chosen) {
    const how = candidates.map((p) => `${p.tool} (${p.install})`).join(', or ');
    throw new VtwError(`no programmer for ${board.name} on PATH: install ${how}`);
  }
  const abs = isAbsolute(file) ? file : resolve(file);
  const template = mode === 'sram' ? chosen.p.sram! : chosen.p.flash;
  const args = template.map((a) => (a === '{file}' ? abs : a));
  return { programmer: chosen.p, executable: chosen.exe, args, command: [chosen.p.command, ...args].map(shellQuote).join(' ') };
}

/** Output lines that mean "the programmer found no board (or could not open it)". */
const NO_BOARD = [
  /Can't find iCE FTDI USB device/i,
  /unable to open ftdi device/i,
  /No cable found|cable not found|Failed to claim cable/i,
  /no active bootloaders? found|No port was specified/i,
  /can'?t find (?:the )?(?:icelink|device)|no device found|device not found/i,
  /LIBUSB_ERROR_ACCESS|insufficient permissions|Permission denied/i,
];

function usbHelp(p: Programmer): string {
  const [vid, pid] = p.usb.split(':');
  if (p.group === 'dialout') {
    return `check the USB cable (and that the board's bootloader is running); on Linux the serial device needs group dialout: sudo usermod -aG dialout $USER, then log in again`;
  }
  return (
    `check the USB cable; on Linux the programmer needs access to USB device ${p.usb}: ` +
    `install a udev rule such as ATTRS{idVendor}=="${vid}", ATTRS{idProduct}=="${pid}", MODE="0660", GROUP="plugdev", TAG+="uaccess" ` +
    `in /etc/udev/rules.d/53-vtw-fpga.rules (sudo udevadm control --reload), add yourself to plugdev (sudo usermod -aG plugdev $USER), log in again and replug the board`
  );
}

export interface FlashResult {
  plan: FlashPlan;
  exitCode: number;
  /** What the programmer printed (stdout and stderr interleaved). */
  output: string;
}

/** Run the programmer. Its output is passed to `echo` as it comes (e.g. to stderr). */
export async function flashBitstream(
  board: Board,
  file: string,
  opts: { sram?: boolean; tool?: string; echo?: (text: string) => void } = {},
): Promise<FlashResult> {
  const plan = planFlash(board, file, { sram: opts.sram, tool: opts.tool });
  const proc = execa(plan.executable!, plan.args, { reject: false, all: true, stdin: 'ignore' });
  proc.all?.on('data', (d: Buffer) => opts.echo?.(d.toString()));
  const r = await proc;
  const output = r.all ?? '';
  const code = typeof r.exitCode === 'number' ? r.exitCode : 1;
  if (code !== 0) {
    const tool = plan.programmer.tool;
    if (NO_BOARD.some((re) => re.test(output))) {
      throw new FlashError(`${tool} found no ${board.title} (exit ${code}): ${usbHelp(plan.programmer)}`, code);
    }
    const last = output.trim().split('\n').filter(Boolean).pop() ?? (r.signal ? `killed by ${r.signal}` : 'no output');
    throw new FlashError(`${tool} failed (exit ${code}): ${last}`, code);
  }
  return { plan, exitCode: 0, output };
}
