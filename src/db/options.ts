/**
 * open() options. The settings among them (`dir`, `durability`, `wal`, `snapshot`, `archive`)
 * are described, defaulted and checked by the settings schema in src/config/ (see
 * docs/configuration.md), which also reads them from `ecsdb.toml` and `ECSDB_*` variables.
 */
import { EcsdbError } from '../errors.js';
import { closest } from '../config/closest.js';
import { configError } from '../config/values.js';
import { DURABILITIES, settingsOf, type Durability, type SectionName } from '../config/schema.js';
import type { ArchiveSettings, SnapshotOptions, WalOptions } from '../config/types.js';
import type { ResolvedArchiveOptions, ResolvedSnapshotOptions, ResolvedWalOptions } from '../config/resolve.js';
import type { AnyComponentDef } from '../schema/component.js';
import type { Storage } from '../storage/storage.js';
import type { Migration } from '../recovery/migrate.js';

export type { Durability, WalOptions, SnapshotOptions, ArchiveSettings };
export type { ResolvedWalOptions, ResolvedSnapshotOptions, ResolvedArchiveOptions };
export { DURABILITIES };

export interface OpenOptions {
  /** Every component the database stores; names must be unique. */
  components: readonly AnyComponentDef[];
  /** Data directory. Required unless durability is 'memory'. Setting `[storage] dir`. */
  dir?: string;
  /**
   * Default durability of commits: 'buffered' when a directory is given, else 'memory'.
   * Transactions may override it with 'buffered' or 'strict' on a database with a WAL.
   * Setting `[storage] durability`.
   */
  durability?: Durability;
  wal?: WalOptions;
  snapshot?: SnapshotOptions;
  archive?: ArchiveSettings;
  /**
   * The configuration file: a path (relative to `cwd`) that must exist, or false to read none.
   * By default the file named by the ECSDB_CONFIG environment variable, else `ecsdb.toml` in
   * `cwd` if there is one. Options given here override the file and the environment.
   */
  config?: string | false;
  /** The environment `ECSDB_*` settings are read from. Default `process.env`; `{}` reads none. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Where `ecsdb.toml` is looked for and relative paths resolve. Default `process.cwd()`. */
  cwd?: string;
  /** The storage seam; the real file system unless a test injects a simulated one. */
  storage?: Storage;
  /** Clock in milliseconds; injectable for tests. */
  now?: () => number;
  /**
   * The version of `components` (an integer >= 1, default 1). The directory records it; a
   * directory of a higher version is refused (SCHEMA_MISMATCH). See docs/api.md, schema evolution.
   */
  schemaVersion?: number;
  /**
   * Migration functions keyed by the schema version they migrate to (2..schemaVersion). When the
   * stored version is lower, every step above it runs, in order, in one migration transaction.
   */
  migrations?: Readonly<Record<number, Migration>>;
}

function defaultsOf(section: SectionName): Record<string, unknown> {
  return Object.fromEntries(settingsOf(section).map((spec) => [spec.key, spec.default]));
}

export const WAL_DEFAULTS = defaultsOf('wal') as unknown as ResolvedWalOptions;
export const SNAPSHOT_DEFAULTS = defaultsOf('snapshot') as unknown as ResolvedSnapshotOptions;
export const ARCHIVE_DEFAULTS = defaultsOf('archive') as unknown as ResolvedArchiveOptions;

export function checkDurability(value: unknown, option: string): Durability {
  if (typeof value === 'string' && (DURABILITIES as readonly string[]).includes(value)) return value as Durability;
  throw new EcsdbError('CONFIG_INVALID', `${option} must be one of ${DURABILITIES.map((d) => `'${d}'`).join(', ')}, got ${JSON.stringify(value)}`);
}

/** Every key open() reads (the compile-time check below keeps it equal to OpenOptions). */
const OPEN_OPTION_KEYS = ['components', 'dir', 'durability', 'wal', 'snapshot', 'archive', 'config', 'env', 'cwd', 'storage', 'now', 'schemaVersion', 'migrations'] as const;
// Fails to compile when OpenOptions gains a key this list lacks, or the list names a key it lacks.
const OPEN_OPTION_KEYS_COMPLETE: [Exclude<keyof OpenOptions, (typeof OPEN_OPTION_KEYS)[number]>] extends [never]
  ? [Exclude<(typeof OPEN_OPTION_KEYS)[number], keyof OpenOptions>] extends [never]
    ? true
    : never
  : never = true;
void OPEN_OPTION_KEYS_COMPLETE;

/**
 * Refuses an open() option ecsdb does not know: ignoring it would hide a misspelling such as
 * `{ dri: 'data' }`, which would otherwise open an in-memory database and persist nothing.
 */
export function checkOpenOptionKeys(options: object): void {
  for (const key of Object.keys(options)) {
    if (!(OPEN_OPTION_KEYS as readonly string[]).includes(key)) {
      throw configError('unknown-key', `unknown open() option ${key}; did you mean ${closest(key, OPEN_OPTION_KEYS)}? Options: ${OPEN_OPTION_KEYS.join(', ')}`);
    }
  }
}
