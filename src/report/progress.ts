/**
 * Progress for long work on stderr: a bar on a terminal, nothing when piped (CI logs stay clean)
 * unless asked for with VTW_PROGRESS=1 (then a line every few seconds).
 */
import cliProgress from 'cli-progress';

export interface Progress {
  tick(label?: string): void;
  /** Jump to `value` done (work counted by position rather than by steps). */
  update?(value: number, label?: string): void;
  stop(): void;
}

export function progress(total: number, title: string): Progress {
  const asked = process.env.VTW_PROGRESS === '1';
  if ((!process.stderr.isTTY && !asked) || total < 2) return { tick() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { format: `${title} [{bar}] {value}/{total} {label}`, stream: process.stderr, hideCursor: true, clearOnComplete: true, noTTYOutput: asked, notTTYSchedule: 5000 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { label: '' });
  return {
    tick: (label = '') => bar.increment(1, { label }),
    update: (value: number, label = '') => bar.update(value, { label }),
    stop: () => bar.stop(),
  };
}
