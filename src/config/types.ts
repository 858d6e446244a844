/**
 * Public configuration types: the settings sections as `open()` and `db.configure()` take them,
 * and `db.config()`'s report of the effective settings. The settings themselves (types, ranges,
 * defaults) are described once, in schema.ts.
 */
import type { Durability, SyncMethod } from './schema.js';

export type { Durability, SyncMethod };

export interface WalOptions {
  /** A segment is closed and a new one started before it would exceed this size. Default 64 MiB. */
  segmentSizeBytesMax?: number;
  /** A segment older than this is closed at the next flush. Default 1 hour. */
  segmentAgeMsMax?: number;
  /** Buffered commits are fsynced at most this long after commit. Default 100 ms. */
  flushIntervalMs?: number;
  /** A buffered batch is fsynced early once it holds this many bytes. Default 1 MiB. */
  batchSizeBytesMax?: number;
  /**
   * Zeros kept ahead of the records in the current segment, so that a durable write overwrites
   * space the file has instead of growing it (which costs a metadata commit); 0 = none. Never
   * more than segmentSizeBytesMax. Default 4 MiB.
   */
  preallocateBytes?: number;
  /**
   * While a write that a strict commit or flush() waits for is in flight, keep the event loop
   * turning (setImmediate) instead of letting the thread sleep until the write completes: the
   * completion is seen 30–80 µs sooner on the development VM, at the cost of a busy main thread
   * while such writes are in flight. Default false.
   */
  pollStrictWrites?: boolean;
  /**
   * How a batch is made durable: 'fdatasync' (write, then fdatasync: two thread-pool trips) or
   * 'dsync' (segments opened with O_DSYNC: each write is durable when it returns, one trip).
   * Same guarantee either way. Default 'dsync' (measured faster: docs/performance.md).
   */
  syncMethod?: SyncMethod;
}

export interface SnapshotOptions {
  /** Snapshot after this many commits since the last snapshot (0 = never). Default 100,000. */
  everyCommits?: number;
  /** Snapshot this often, if anything was committed (0 = never). Default 10 minutes. */
  everyMs?: number;
  /** Snapshot once the WAL grew by this many bytes since the last snapshot (0 = never). Default 64 MiB. */
  walBytesMax?: number;
  /** How many snapshots to keep (the newest). Default 2. */
  keep?: number;
  /** Deflate-compress snapshot sections (fflate). Default false. */
  compress?: boolean;
  /** Slots copied per step of a background snapshot; bounds the main-thread pause. Default 16,384. */
  chunkSlots?: number;
  /**
   * Every M-th snapshot is full, the others incremental (only the chunks changed since the
   * previous snapshot, chained to it). Default 1: every snapshot is full.
   */
  fullEvery?: number;
}

export interface ArchiveSettings {
  /** Deflate-compress archived WAL segments (fflate). Default false. */
  compress?: boolean;
  /** Keep at most this many archived segments (0 = no limit). Default 8. */
  segmentCountMax?: number;
  /** Keep at most this many archived bytes (0 = no limit). Default 0. */
  sizeBytesMax?: number;
}

/**
 * Encryption at rest (docs/api.md): give at most one of `key`, `keyFile`, `passphrase`. They are
 * read when the database is opened; none can change on an open database.
 */
export interface EncryptionOptions {
  /** The 32-byte key as 64 hex digits or base64. */
  key?: string;
  /** A file holding the key (64 hex digits, base64, or the 32 raw bytes). */
  keyFile?: string;
  /** A passphrase; the key is derived from it with scrypt. */
  passphrase?: string;
  /** scrypt cost, log2 N (default 15), when a passphrase encrypts a new database. */
  scryptLogN?: number;
}

/**
 * Where a setting's effective value came from: the built-in default, the configuration file
 * (`'file /abs/path/ecsdb.toml'`), an environment variable (`'env ECSDB_WAL_FLUSH_INTERVAL_MS'`),
 * the options given to `open()`, or a later `db.configure()`.
 */
export type ConfigSource = 'default' | 'open()' | 'configure()' | `file ${string}` | `env ${string}`;

export interface ConfigSetting<T> {
  readonly value: T;
  readonly source: ConfigSource;
}

type Report<T> = { readonly [K in keyof T]-?: ConfigSetting<Exclude<T[K], undefined>> };

/** `db.config()`: every setting's effective value and its source, by section. */
export interface ConfigReport {
  /** The configuration file that was read (absolute path), or undefined when none was. */
  readonly file: string | undefined;
  readonly storage: {
    /** Absolute; undefined for a database in memory. */
    readonly dir: ConfigSetting<string | undefined>;
    readonly durability: ConfigSetting<Durability>;
  };
  readonly wal: Report<WalOptions>;
  readonly snapshot: Report<SnapshotOptions>;
  readonly archive: Report<ArchiveSettings>;
  /** `key` and `passphrase` are reported as "[redacted]" when set, never as their value. */
  readonly encryption: Report<EncryptionOptions>;
}

/**
 * What `db.configure()` takes: the same shapes as `open()` options. Only settings that can
 * change at run time may be given (every `wal`, `snapshot` and `archive` setting); `dir` and
 * `durability` fail with CONFIG_INVALID.
 */
export interface ConfigChange {
  dir?: string;
  durability?: Durability;
  wal?: WalOptions;
  snapshot?: SnapshotOptions;
  archive?: ArchiveSettings;
}
