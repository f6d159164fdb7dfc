/** Resolve what a user passes as `--config`: a preset name, a JSON file, or inline JSON. */
import { existsSync } from 'node:fs';
import { ConfigError, didYouMean } from '../errors.ts';
import { deriveConfig, type Derived } from './derive.ts';
import { PRESETS, PRESET_NAMES } from './presets.ts';
import { INPUT_LIMITS, readInputText, stripBom } from '../util/input.ts';
import { parseJsonText, quoteUser } from '../util/quote.ts';

export function presetJson(name: string): Record<string, unknown> | undefined {
  return PRESETS.find((p) => p.name === name)?.json;
}

/** Raw JSON for a config spec, with a label naming where it came from (for messages). */
export function resolveConfigJson(spec: string | undefined): { json: unknown; source: string } {
  const s = (spec ?? 'default').trim();
  const preset = presetJson(s);
  if (preset) return { json: preset, source: `preset ${s}` };
  if (s.startsWith('{')) return { json: parseJson(s, 'inline config'), source: 'inline config' };
  if (existsSync(s)) {
    const text = readInputText(s, 'config file', INPUT_LIMITS.config, (m) => new ConfigError(m));
    return { json: parseJson(text, s), source: s };
  }
  const looksLikePath = /[\\/.]/.test(s);
  throw new ConfigError(
    looksLikePath
      ? `config file ${quoteUser(s)} does not exist`
      : `unknown config preset ${quoteUser(s, 40, false)}${didYouMean(s, PRESET_NAMES)}; presets: ${PRESET_NAMES.join(', ')} (or pass a JSON file)`,
  );
}

function parseJson(text: string, where: string): unknown {
  return parseJsonText(stripBom(text), where === 'inline config' ? where : quoteUser(where), (m) => new ConfigError(m));
}

/** Load, validate and derive a configuration; errors name where the config came from. */
export function loadConfig(spec?: string): Derived {
  const { json, source } = resolveConfigJson(spec);
  try {
    return deriveConfig(json);
  } catch (e) {
    if (e instanceof ConfigError && source !== 'preset default') throw new ConfigError(`${source}: ${e.message}`);
    throw e;
  }
}
