/**
 * Yosys's error lines, found in its log. Yosys writes `ERROR: message`, or `file:line: ERROR:
 * message` for an error in a source file; either becomes `message` or `file:line: message`.
 * (Its own module: the flow reads logs without loading yosys itself.)
 */
const ERROR_LINE = /^(?:(\S+:\d+(?:\.\d+(?:-\d+\.\d+)?)?): )?ERROR:\s*(.*)$/;

export function yosysErrorLines(log: string): string[] {
  const out: string[] = [];
  for (const line of log.split('\n')) {
    const m = ERROR_LINE.exec(line.trimEnd());
    if (m) out.push(m[1] ? `${m[1]}: ${m[2]}` : m[2]);
  }
  return out;
}
