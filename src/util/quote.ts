/**
 * Quoting what a user typed or fed in, inside one-line error messages: control characters escaped
 * (a binary file fed as JSON prints no NUL bytes), at most ~80 characters, so every error stays one
 * readable line. Every error that quotes input goes through quoteUser.
 */

/** The longest error line the CLI prints (errorLine cuts anything longer). */
export const MAX_ERROR_CHARS = 300;

function escapeControls(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** `text` as one line, control characters escaped, cut to `max` characters ('…' marks a cut), in single quotes unless `quotes` is false. */
export function quoteUser(text: unknown, max = 80, quotes = true): string {
  const s = typeof text === 'string' ? text : String(text);
  const chars = [...s];
  const cut = chars.length > max;
  const body = escapeControls((cut ? chars.slice(0, max) : chars).join('')) + (cut ? '…' : '');
  return quotes ? `'${body}'` : body;
}

/** A finished error message as one line of at most MAX_ERROR_CHARS characters. */
export function errorLine(message: string): string {
  const flat = escapeControls(message.replace(/\s*\n\s*/g, ' '));
  const chars = [...flat];
  return chars.length > MAX_ERROR_CHARS ? chars.slice(0, MAX_ERROR_CHARS - 1).join('') + '…' : flat;
}

/** Position in `text` as "line L column C" (1-based). */
export function lineColumn(text: string, pos: number): string {
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - (before.lastIndexOf('\n') + 1) + 1;
  return `line ${line} column ${column}`;
}

/**
 * Why JSON.parse rejected `text`, as one line: V8's reason without the source snippet it echoes
 * (several lines of a container, NUL bytes of a binary), with the position as line and column.
 */
export function jsonErrorReason(text: string, e: unknown): string {
  let msg = e instanceof Error ? e.message : String(e);
  // "Unexpected token 'x', ..."<snippet>"... is not valid JSON" → "Unexpected token 'x'".
  msg = msg.replace(/,\s*(\.\.\.)?"[\s\S]*"(\.\.\.)?\s+is not valid JSON\s*$/, '');
  const at = /\s*in JSON at position (\d+)(\s*\(line \d+ column \d+\))?\s*$/.exec(msg);
  if (at) msg = `${msg.slice(0, at.index)} at ${lineColumn(text, Number(at[1]))}`;
  const token = /^Unexpected token '([\s\S]*)'$/.exec(msg);
  if (token) {
    const pos = firstBadTokenPos(text, token[1]);
    msg = `unexpected character ${quoteUser(token[1], 10)}${pos >= 0 ? ` at ${lineColumn(text, pos)}` : ''}`;
  }
  if (!text.trim()) msg = 'the input is empty';
  return quoteUser(msg, 160, false);
}

/** Best guess of where V8's "Unexpected token" is: its first occurrence outside strings. */
function firstBadTokenPos(text: string, token: string): number {
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    if (!inString && text.startsWith(token, i) && c !== '"') return i;
  }
  return text.indexOf(token);
}

/** JSON.parse with a one-line error `${where} is not valid JSON: ...` thrown as `make(message)`. */
export function parseJsonText(text: string, where: string, make: (message: string) => Error): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw make(`${where} is not valid JSON: ${jsonErrorReason(text, e)}`);
  }
}
