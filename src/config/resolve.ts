/**
 * The effective configuration: built-in defaults < the configuration file < the environment <
 * options given to `open()` (< later `db.configure()` changes), setting by setting, each value
 * remembering which layer gave it.
 *
 * The one setting whose default is not a constant is `storage.durability`: "buffered" when the
 * effective `dir` is set (by any layer), "memory" when it is not.
 */
import { chooseConfigFile, readConfigFile } from './file.js';
import { envLayer, fileLayer, optionsLayer, type Layer, type LayerEntry, type OptionsInput } from './layers.js';
import { SECTIONS, SETTINGS, optionPathOf, settingId, settingsOf, type Durability, type SectionName, type SettingId } from './schema.js';
import type { ArchiveSettings, ConfigChange, ConfigReport, SnapshotOptions, WalOptions } from './types.js';
import { configError } from './values.js';
import type { Storage } from '../storage/storage.js';
import { assert } from '../assert.js';

export type ResolvedWalOptions = Readonly<Required<WalOptions>>;
export type ResolvedSnapshotOptions = Readonly<Required<SnapshotOptions>>;
export type ResolvedArchiveOptions = Readonly<Required<ArchiveSettings>>;

export interface ResolvedConfig {
  /** The configuration file that was read, if any. */
  readonly file: string | undefined;
  /** Every setting of the schema, except `storage.dir` when no layer set it. */
  readonly entries: ReadonlyMap<SettingId, LayerEntry>;
}

export interface ResolveConfigInput {
  /** `open()` options: the settings (`dir`, `durability`, `wal`, `snapshot`, `archive`) and `config`. */
  readonly options?: OptionsInput & { readonly config?: unknown };
  /** The environment to read `ECSDB_*` from (process.env in `open()`). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Where `ecsdb.toml` is looked for, and what relative paths outside the file are relative to. */
  readonly cwd: string;
  /** Reads the configuration file. */
  readonly storage: Storage;
}

/** Reads the file and the environment and stacks every layer (see the header). */
export async function resolveConfig(input: ResolveConfigInput): Promise<ResolvedConfig> {
  const options = input.options ?? {};
  const choice = chooseConfigFile(options.config, input.env, input.cwd);
  const file = choice === undefined ? undefined : await readConfigFile(input.storage, choice);
  const layers: Layer[] = [];
  if (file !== undefined) layers.push(fileLayer(file));
  layers.push(envLayer(input.env, input.cwd));
  layers.push(optionsLayer(options, 'open()', input.cwd, false));
  return { file: file?.path, entries: stack(layers) };
}

function stack(layers: readonly Layer[]): Map<SettingId, LayerEntry> {
  const entries = new Map<SettingId, LayerEntry>();
  for (const spec of SETTINGS) {
    if (spec.default !== undefined) entries.set(settingId(spec), { value: spec.default, source: 'default' });
  }
  for (const layer of layers) for (const [id, entry] of layer) entries.set(id, entry);
  if (!entries.has('storage.durability')) {
    entries.set('storage.durability', { value: entries.has('storage.dir') ? 'buffered' : 'memory', source: 'default' });
  }
  return entries;
}

/**
 * Checks a `db.configure()` change: known keys, valid values, and only settings that can change
 * at run time. Returns the changed settings; nothing is applied yet.
 */
export function checkRuntimeChange(change: ConfigChange, cwd: string): Layer {
  if (change === null || typeof change !== 'object' || Array.isArray(change)) {
    throw configError('wrong-type', `configure() needs an object such as { wal: { flushIntervalMs: 50 } }, got ${String(change)}`);
  }
  const layer = optionsLayer(change, 'configure()', cwd, true);
  for (const id of layer.keys()) {
    const spec = SETTINGS.find((candidate) => settingId(candidate) === id)!;
    if (!spec.runtime) {
      const runtime = SETTINGS.filter((candidate) => candidate.runtime).map((candidate) => candidate.section);
      throw configError(
        'not-runtime',
        `${optionPathOf(spec)} cannot change on an open database; close it and open() it again with the new value ` +
          `(run-time settings are those of ${[...new Set(runtime)].join(', ')})`,
      );
    }
  }
  return layer;
}

/** The configuration after a checked change. */
export function withChange(config: ResolvedConfig, change: Layer): ResolvedConfig {
  const entries = new Map(config.entries);
  for (const [id, entry] of change) entries.set(id, entry);
  return { file: config.file, entries };
}

/** The settings of `section` that a change sets, by camelCase key. */
export function changedIn<T>(change: Layer, section: 'wal' | 'snapshot' | 'archive'): Partial<T> {
  const values: Record<string, unknown> = {};
  for (const spec of settingsOf(section)) {
    const entry = change.get(settingId(spec));
    if (entry !== undefined) values[spec.key] = entry.value;
  }
  return values as Partial<T>;
}

function valuesOf(config: ResolvedConfig, section: SectionName): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const spec of settingsOf(section)) values[spec.key] = config.entries.get(settingId(spec))?.value;
  return values;
}

export function walSettings(config: ResolvedConfig): ResolvedWalOptions {
  return valuesOf(config, 'wal') as unknown as ResolvedWalOptions;
}

export function snapshotSettings(config: ResolvedConfig): ResolvedSnapshotOptions {
  return valuesOf(config, 'snapshot') as unknown as ResolvedSnapshotOptions;
}

export function archiveSettings(config: ResolvedConfig): ResolvedArchiveOptions {
  return valuesOf(config, 'archive') as unknown as ResolvedArchiveOptions;
}

export function storageSettings(config: ResolvedConfig): { readonly dir: string | undefined; readonly durability: Durability } {
  return valuesOf(config, 'storage') as { dir: string | undefined; durability: Durability };
}

/** `db.config()`: a fresh, plain object (changing it changes nothing). */
export function configReport(config: ResolvedConfig): ConfigReport {
  const report: Record<string, unknown> = { file: config.file };
  for (const section of SECTIONS) {
    const settings: Record<string, unknown> = {};
    for (const spec of settingsOf(section)) {
      const entry = config.entries.get(settingId(spec));
      assert(entry !== undefined || spec.default === undefined, `setting ${settingId(spec)} has a default but no value`);
      // A secret's value is never reported, only whether and where it was given.
      const value = spec.type.kind === 'secret' && entry !== undefined ? '[redacted]' : entry?.value;
      settings[spec.key] = { value, source: entry?.source ?? 'default' };
    }
    report[section] = settings;
  }
  return report as unknown as ConfigReport;
}
