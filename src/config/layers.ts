/**
 * The sources of settings, each turned into a layer of checked values: the configuration file,
 * the environment, and options (`open()` or `db.configure()`). resolve.ts stacks the layers.
 *
 * Every layer is checked whole, even where a later layer overrides it: a bad value is reported
 * wherever it is written, so a file that only works because of an override cannot linger.
 */
import { dirname, resolve } from 'node:path';
import { closest, editDistance } from './closest.js';
import { findKeyLine, type ConfigFile } from './file.js';
import {
  SECTIONS,
  SETTINGS,
  envVarOf,
  optionPathOf,
  settingId,
  settingsOf,
  snakeCase,
  tomlKeyOf,
  type SectionName,
  type SettingId,
  type SettingSpec,
  type SettingValue,
} from './schema.js';
import type { ConfigSource } from './types.js';
import { checkValue, configError, parseEnvValue } from './values.js';

export interface LayerEntry {
  readonly value: SettingValue;
  readonly source: ConfigSource;
}

export type Layer = Map<SettingId, LayerEntry>;

const ENV_VARS = new Map(SETTINGS.map((spec) => [envVarOf(spec), spec]));

/** How near (in edits) to a setting's name an ECSDB_ variable outside the sections is a misspelling. */
const ENV_MISSPELLING_DISTANCE_MAX = 2;

/** The settings of a parsed ecsdb.toml. Relative paths are relative to the file's directory. */
export function fileLayer(file: ConfigFile): Layer {
  const layer: Layer = new Map();
  const source: ConfigSource = `file ${file.path}`;
  const at = (section: string | undefined, key: string): string => {
    const line = findKeyLine(file.text, section, key) ?? findTableLine(file.text, section === undefined ? key : `${section}.${key}`);
    return line === undefined ? `in ${file.path}` : `in ${file.path} line ${line}`;
  };
  const tomlName = (spec: SettingSpec): string => `[${spec.section}] ${tomlKeyOf(spec)}`;
  for (const [name, value] of Object.entries(file.table)) {
    const section = SECTIONS.find((candidate) => candidate === name);
    if (section === undefined) {
      const table = isTable(value);
      const hint = table ? `[${closest(name, SECTIONS)}]` : suggest(undefined, name, tomlName, tomlKeyOf);
      throw configError(
        'unknown-key',
        `unknown ${table ? `section [${name}]` : `key ${name}`} ${at(undefined, name)}; did you mean ${hint}? ` +
          `Settings go in the sections ${SECTIONS.map((s) => `[${s}]`).join(', ')} (see docs/configuration.md)`,
      );
    }
    if (!isTable(value)) {
      throw configError('wrong-type', `${name} ${at(undefined, name)} must be a table ([${name}]), got ${JSON.stringify(value) ?? String(value)}`);
    }
    for (const [key, raw] of Object.entries(value)) {
      const spec = settingsOf(section).find((candidate) => tomlKeyOf(candidate) === key);
      if (spec === undefined) {
        throw configError(
          'unknown-key',
          `unknown key [${section}] ${key} ${at(section, key)}; did you mean ${suggest(section, key, tomlName, tomlKeyOf)}? ` +
            `Keys of [${section}]: ${settingsOf(section).map(tomlKeyOf).join(', ')}`,
        );
      }
      if (spec.type.kind === 'secret') {
        throw configError(
          'secret-in-file',
          `[${section}] ${key} ${at(section, key)} is a secret and does not belong in a configuration file; ` +
            `give it as ${envVarOf(spec)} or to open(), or put the key in a file named by [encryption] key_file`,
        );
      }
      const checked = checkValue(spec, raw, () => `[${section}] ${key} ${at(section, key)}`);
      const value = spec.type.kind === 'path' ? resolve(dirname(file.path), checked as string) : checked;
      layer.set(settingId(spec), { value, source });
    }
  }
  return layer;
}

/**
 * The settings given as `ECSDB_<SECTION>_<KEY>` variables. A variable that starts with a
 * section's prefix but names no setting fails, and so does one a couple of edits away from a
 * setting's name (`ECSDB_SNAPSHOTS_KEEP`); other ECSDB_ variables (ECSDB_CONFIG, test and bench
 * knobs) are not settings and are left alone. Relative paths are relative to `cwd`.
 */
export function envLayer(env: Readonly<Record<string, string | undefined>>, cwd: string): Layer {
  const layer: Layer = new Map();
  const envKey = (spec: SettingSpec): string => snakeCase(spec.key).toUpperCase();
  // Sorted, so that of several bad variables the same one is reported every time.
  for (const name of Object.keys(env).filter((n) => n.startsWith('ECSDB_')).sort()) {
    const text = env[name];
    if (text === undefined) continue;
    const spec = ENV_VARS.get(name);
    if (spec !== undefined) {
      const checked = parseEnvValue(spec, text, `environment variable ${name}`);
      const value = spec.type.kind === 'path' ? resolve(cwd, checked as string) : checked;
      layer.set(settingId(spec), { value, source: `env ${name}` });
      continue;
    }
    const section = SECTIONS.find((candidate) => name.startsWith(`ECSDB_${candidate.toUpperCase()}_`));
    let hint: string;
    if (section !== undefined) {
      hint = suggest(section, name.slice(`ECSDB_${section}_`.length), envVarOf, envKey);
    } else {
      hint = closest(name, [...ENV_VARS.keys()])!;
      if (editDistance(name, hint) > ENV_MISSPELLING_DISTANCE_MAX) continue;
    }
    throw configError(
      'unknown-key',
      `unknown setting ${name} in the environment; did you mean ${hint}? ` +
        'ecsdb reads ECSDB_<SECTION>_<KEY> for the settings listed in docs/configuration.md',
    );
  }
  return layer;
}

/** What an options layer may hold: `open()` options or a `db.configure()` change. */
export interface OptionsInput {
  readonly dir?: unknown;
  readonly durability?: unknown;
  readonly wal?: unknown;
  readonly snapshot?: unknown;
  readonly archive?: unknown;
  readonly encryption?: unknown;
}

const OPTION_SECTIONS: readonly SectionName[] = ['wal', 'snapshot', 'archive', 'encryption'];

/**
 * The settings given as options. `source` is 'open()' or 'configure()'; with `onlySettings`,
 * any other top-level key is unknown (open() has more options than settings, configure() not).
 */
export function optionsLayer(options: OptionsInput, source: 'open()' | 'configure()', cwd: string, onlySettings: boolean): Layer {
  const layer: Layer = new Map();
  const label = (spec: SettingSpec): string => `${source} option ${optionPathOf(spec)}`;
  const add = (spec: SettingSpec, raw: unknown): void => {
    if (raw === undefined) return;
    const checked = checkValue(spec, raw, label(spec));
    layer.set(settingId(spec), { value: spec.type.kind === 'path' ? resolve(cwd, checked as string) : checked, source });
  };
  for (const spec of settingsOf('storage')) add(spec, (options as Record<string, unknown>)[spec.key]);
  for (const section of OPTION_SECTIONS) {
    const given = (options as Record<string, unknown>)[section];
    if (given === undefined) continue;
    if (given === null || typeof given !== 'object' || Array.isArray(given)) {
      throw configError('wrong-type', `${source} option ${section} must be an object such as { ${settingsOf(section)[0].key}: ... }, got ${String(given)}`);
    }
    for (const [key, raw] of Object.entries(given)) {
      const spec = settingsOf(section).find((candidate) => candidate.key === key);
      if (spec === undefined) {
        throw configError(
          'unknown-key',
          `unknown ${source} option ${section}.${key}; did you mean ${suggest(section, key, optionPathOf, (s) => s.key)}? ` +
            `Options of ${section}: ${settingsOf(section).map((s) => s.key).join(', ')}`,
        );
      }
      add(spec, raw);
    }
  }
  if (onlySettings) {
    const allowed = [...settingsOf('storage').map((spec) => spec.key), ...OPTION_SECTIONS];
    for (const key of Object.keys(options)) {
      if (!allowed.includes(key)) {
        throw configError('unknown-key', `unknown ${source} option ${key}; did you mean ${closest(key, allowed)}? Options: ${allowed.join(', ')}`);
      }
    }
  }
  return layer;
}

/**
 * The likeliest setting meant by an unknown `key` (spelled as its source spells keys, `keyOf`),
 * named as its source names settings (`nameOf`). The same key under another section is the
 * likeliest mistake (`durability` under [wal]); else the nearest key of the section; else the
 * nearest key anywhere.
 */
function suggest(section: SectionName | undefined, key: string, nameOf: (spec: SettingSpec) => string, keyOf: (spec: SettingSpec) => string): string {
  const moved = SETTINGS.find((spec) => keyOf(spec).toLowerCase() === key.toLowerCase());
  if (moved !== undefined) return nameOf(moved);
  const pool = section === undefined ? SETTINGS : settingsOf(section);
  const best = closest(key, pool.map(keyOf));
  return nameOf(pool.find((spec) => keyOf(spec) === best)!);
}

/** A TOML table (smol-toml gives plain objects for tables, arrays and Dates for the rest). */
function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function findTableLine(text: string, name: string): number | undefined {
  const lines = text.split(/\r?\n/);
  const index = lines.findIndex((line) => new RegExp(`^\\s*\\[\\s*${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*\\]`).test(line));
  return index === -1 ? undefined : index + 1;
}
