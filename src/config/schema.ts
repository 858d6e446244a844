/**
 * The settings schema, as data: every setting ecsdb reads from `ecsdb.toml`, the environment and
 * `open()` options, with its type, default, allowed values, whether it can change on an open
 * database, and a one-line description. Validation, environment parsing, `db.config()` and
 * `db.configure()` all read this one table; docs/configuration.md and the example ecsdb.toml
 * mirror it, and test/config/schema-docs.test.ts checks that they list every setting.
 *
 * One setting has three spellings, all derived from `section` and `key` (camelCase):
 *
 *   open() option          ecsdb.toml                   environment
 *   wal.flushIntervalMs    [wal] flush_interval_ms      ECSDB_WAL_FLUSH_INTERVAL_MS
 *   dir  (storage section) [storage] dir                ECSDB_STORAGE_DIR
 *
 * The `storage` settings are top-level `open()` options (`dir`, `durability`).
 */

export type Durability = 'memory' | 'buffered' | 'strict';
export const DURABILITIES: readonly Durability[] = ['memory', 'buffered', 'strict'];

/** How the WAL makes a batch durable; see the `wal.syncMethod` setting. */
export type SyncMethod = 'fdatasync' | 'dsync';
export const SYNC_METHODS: readonly SyncMethod[] = ['fdatasync', 'dsync'];

export type SectionName = 'storage' | 'wal' | 'snapshot' | 'archive' | 'encryption';
export const SECTIONS: readonly SectionName[] = ['storage', 'wal', 'snapshot', 'archive', 'encryption'];

export type SettingType =
  | { readonly kind: 'integer'; readonly min: number; readonly max: number }
  | { readonly kind: 'boolean' }
  | { readonly kind: 'enum'; readonly values: readonly string[] }
  /** A non-empty file-system path; relative paths in a file are relative to that file's directory. */
  | { readonly kind: 'path' }
  /**
   * A non-empty string that is a secret (a key, a passphrase): refused in ecsdb.toml, never
   * repeated in a message, and reported by db.config() as "[redacted]".
   */
  | { readonly kind: 'secret' };

export type SettingValue = number | boolean | string;

export interface SettingSpec {
  readonly section: SectionName;
  /** camelCase, as in `open()` options. */
  readonly key: string;
  readonly type: SettingType;
  /** undefined when the default is not a fixed value; `defaultText` then says what it is. */
  readonly default: SettingValue | undefined;
  readonly defaultText?: string;
  /** Whether `db.configure()` can change it on an open database. */
  readonly runtime: boolean;
  readonly description: string;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const YEAR_MS = 365 * 24 * 3600 * 1000;

function integer(min: number, max: number): SettingType {
  return { kind: 'integer', min, max };
}
const BOOLEAN: SettingType = { kind: 'boolean' };

export const SETTINGS: readonly SettingSpec[] = [
  {
    section: 'storage',
    key: 'dir',
    type: { kind: 'path' },
    default: undefined,
    defaultText: 'none (the database lives in memory)',
    runtime: false,
    description: 'Data directory. Without one, the database lives in memory only.',
  },
  {
    section: 'storage',
    key: 'durability',
    type: { kind: 'enum', values: DURABILITIES },
    default: undefined,
    defaultText: '"buffered" with a dir, else "memory"',
    runtime: false,
    description: 'Default durability of commits; transactions may ask for "buffered" or "strict".',
  },
  {
    section: 'wal',
    key: 'segmentSizeBytesMax',
    type: integer(4 * KiB, 4 * GiB),
    default: 64 * MiB,
    runtime: true,
    description: 'A WAL segment is closed and a new one started before it would exceed this size.',
  },
  {
    section: 'wal',
    key: 'segmentAgeMsMax',
    type: integer(1, YEAR_MS),
    default: 60 * 60 * 1000,
    runtime: true,
    description: 'A WAL segment older than this is closed at the next flush.',
  },
  {
    section: 'wal',
    key: 'flushIntervalMs',
    type: integer(0, 60_000),
    default: 100,
    runtime: true,
    description: 'Buffered commits are written and fsynced at most this long after they commit.',
  },
  {
    section: 'wal',
    key: 'batchSizeBytesMax',
    type: integer(1, GiB),
    default: MiB,
    runtime: true,
    description: 'A batch is written early once it holds this many bytes: handed to the write thread at once when it can take it, even while the committing loop never yields.',
  },
  {
    section: 'wal',
    key: 'preallocateBytes',
    type: integer(0, GiB),
    default: 4 * MiB,
    runtime: true,
    description:
      'Zeros kept ahead of the records in the current WAL segment, so that a durable write overwrites space instead of growing the file (0 = none). Never past segmentSizeBytesMax.',
  },
  {
    section: 'wal',
    key: 'pollStrictWrites',
    type: BOOLEAN,
    default: false,
    runtime: true,
    description:
      'While a write that a strict commit or flush() waits for is in flight, keep the event loop turning instead of sleeping: the write is seen done sooner (30-80 µs on a VM), at the cost of a busy main thread meanwhile.',
  },
  {
    section: 'wal',
    key: 'syncMethod',
    type: { kind: 'enum', values: SYNC_METHODS },
    default: 'dsync',
    runtime: false,
    description: 'How a WAL batch is made durable: "fdatasync" (a write, then fdatasync) or "dsync" (segments opened with O_DSYNC: one durable write).',
  },
  {
    section: 'snapshot',
    key: 'everyCommits',
    type: integer(0, Number.MAX_SAFE_INTEGER),
    default: 100_000,
    runtime: true,
    description: 'Snapshot after this many commits since the last snapshot (0 = never).',
  },
  {
    section: 'snapshot',
    key: 'everyMs',
    type: integer(0, YEAR_MS),
    default: 10 * 60 * 1000,
    runtime: true,
    description: 'Snapshot this often, if anything was committed (0 = never).',
  },
  {
    section: 'snapshot',
    key: 'walBytesMax',
    type: integer(0, Number.MAX_SAFE_INTEGER),
    default: 64 * MiB,
    runtime: true,
    description: 'Snapshot once the WAL grew by this many bytes since the last snapshot (0 = never).',
  },
  {
    section: 'snapshot',
    key: 'keep',
    type: integer(1, 1000),
    default: 2,
    runtime: true,
    description: 'How many snapshots to keep (the newest); applied at the next snapshot.',
  },
  {
    section: 'snapshot',
    key: 'compress',
    type: BOOLEAN,
    default: false,
    runtime: true,
    description: 'Deflate-compress snapshot sections, on the main thread, one section per turn (slow on float columns: steps of 2-3 ms at the default chunkSlots).',
  },
  {
    section: 'snapshot',
    key: 'chunkSlots',
    type: integer(256, 16 * MiB),
    default: 16_384,
    runtime: true,
    description: 'Entity slots copied per step of a background snapshot; bounds the main-thread pause.',
  },
  {
    section: 'snapshot',
    key: 'fullEvery',
    type: integer(1, 1000),
    default: 1,
    runtime: true,
    description: 'Every M-th snapshot is full, the others incremental (changed chunks only); 1 = always full.',
  },
  {
    section: 'archive',
    key: 'compress',
    type: BOOLEAN,
    default: false,
    runtime: true,
    description: 'Deflate-compress WAL segments as they move to the archive.',
  },
  {
    section: 'archive',
    key: 'segmentCountMax',
    type: integer(0, 1_000_000),
    default: 8,
    runtime: true,
    description: 'Keep at most this many archived WAL segments (0 = no limit).',
  },
  {
    section: 'archive',
    key: 'sizeBytesMax',
    type: integer(0, Number.MAX_SAFE_INTEGER),
    default: 0,
    runtime: true,
    description: 'Keep at most this many bytes of archived WAL segments (0 = no limit).',
  },
  {
    section: 'encryption',
    key: 'key',
    type: { kind: 'secret' },
    default: undefined,
    defaultText: 'none',
    runtime: false,
    description: 'The 32-byte key as 64 hex digits or base64; encrypts a new database, unlocks an encrypted one.',
  },
  {
    section: 'encryption',
    key: 'keyFile',
    type: { kind: 'path' },
    default: undefined,
    defaultText: 'none',
    runtime: false,
    description: 'A file holding the key (64 hex digits, base64, or 32 raw bytes); an alternative to key.',
  },
  {
    section: 'encryption',
    key: 'passphrase',
    type: { kind: 'secret' },
    default: undefined,
    defaultText: 'none',
    runtime: false,
    description: 'A passphrase the key is derived from with scrypt; an alternative to key and key_file.',
  },
  {
    section: 'encryption',
    key: 'scryptLogN',
    type: integer(10, 22),
    default: 15,
    runtime: false,
    description: 'scrypt cost as log2 of N (r = 8, p = 1) when a passphrase encrypts a new database or a rekey.',
  },
];

/** `wal.flushIntervalMs`: a setting's identity, and its name in messages about open() options. */
export type SettingId = `${SectionName}.${string}`;

export function settingId(spec: SettingSpec): SettingId {
  return `${spec.section}.${spec.key}`;
}

/** `flushIntervalMs` → `flush_interval_ms`. */
export function snakeCase(camel: string): string {
  return camel.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

/** The key's name inside its `[section]` of ecsdb.toml. */
export function tomlKeyOf(spec: SettingSpec): string {
  return snakeCase(spec.key);
}

/** `ECSDB_WAL_FLUSH_INTERVAL_MS`. */
export function envVarOf(spec: SettingSpec): string {
  return `ECSDB_${spec.section.toUpperCase()}_${snakeCase(spec.key).toUpperCase()}`;
}

/** The option's path in `open()`: `wal.flushIntervalMs`, or `dir` for a storage setting. */
export function optionPathOf(spec: SettingSpec): string {
  return spec.section === 'storage' ? spec.key : `${spec.section}.${spec.key}`;
}

/** The settings of one section, in table order. */
export function settingsOf(section: SectionName): readonly SettingSpec[] {
  return SETTINGS.filter((spec) => spec.section === section);
}

const BY_ID = new Map<string, SettingSpec>(SETTINGS.map((spec) => [settingId(spec), spec]));

export function settingById(id: string): SettingSpec | undefined {
  return BY_ID.get(id);
}

/** What a value of this type may be, for error messages and docs. */
export function describeAllowed(type: SettingType): string {
  switch (type.kind) {
    case 'integer':
      return `an integer from ${type.min} to ${type.max}`;
    case 'boolean':
      return 'true or false';
    case 'enum':
      return `one of ${type.values.map((value) => `"${value}"`).join(', ')}`;
    case 'path':
      return 'a non-empty path';
    case 'secret':
      return 'a non-empty string, not in a file';
  }
}
