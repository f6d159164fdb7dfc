/**
 * Errors a user can fix. The CLI prints their message as one line and exits non-zero; anything
 * else that escapes is a bug in vtw and is reported as an internal error.
 */
export class VtwError extends Error {
  /** Process exit status the CLI uses for this error. */
  readonly exitCode: number = 1;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** An invalid configuration (unknown key, wrong type, out of range, inconsistent, layout overflow). */
export class ConfigError extends VtwError {}

/** An instruction or micro-op that cannot be encoded or decoded. */
export class IsaError extends VtwError {}

/** A malformed program container or assembly source. */
export class ProgramError extends VtwError {}

/** Closest candidate by edit distance, to turn "unknown X" into "did you mean Y?". */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Infinity;
  const w = word.toUpperCase();
  for (const c of candidates) {
    const d = editDistance(w, c.toUpperCase());
    if (d < bestDist) {
      bestDist = d;
      best = c;
    }
  }
  return bestDist <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length];
}

export function didYouMean(word: string, candidates: readonly string[]): string {
  const c = closest(word, candidates);
  return c ? ` (did you mean ${c}?)` : '';
}
