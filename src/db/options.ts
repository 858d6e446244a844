/**
 * open() options: their types, defaults and validation. Every bad option fails with
 * CONFIG_INVALID naming the option and the allowed values.
 */
import { EcsdbError } from '../errors.js';
import type { AnyComponentDef } from '../schema/component.js';
import type { Storage } from '../storage/storage.js';

export type Durability = 'memory' | 'buffered' | 'strict';
export const DURABILITIES: readonly Durability[] = ['memory', 'buffered', 'strict'];

export interface WalOptions {
  /** A segment is closed and a new one started before it would exceed this size. Default 64 MiB. */
  segmentSizeBytesMax?: number;
  /** A segment older than this is closed at the next flush. Default 1 hour. */
  segmentAgeMsMax?: number;
  /** Buffered commits are fsynced at most this long after commit. Default 100 ms. */
  flushIntervalMs?: number;
  /** A buffered batch is fsynced early once it holds this many bytes. Default 1 MiB. */
  batchSizeBytesMax?: number;
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

export interface OpenOptions {
  /** Every component the database stores; names must be unique. */
  components: readonly AnyComponentDef[];
  /** Data directory. Required unless durability is 'memory'. */
  dir?: string;
  /**
   * Default durability of commits: 'buffered' when a directory is given, else 'memory'.
   * Transactions may override it with 'buffered' or 'strict' on a database with a WAL.
   */
  durability?: Durability;
  wal?: WalOptions;
  snapshot?: SnapshotOptions;
  archive?: ArchiveSettings;
  /** The storage seam; the real file system unless a test injects a simulated one. */
  storage?: Storage;
  /** Clock in milliseconds; injectable for tests. */
  now?: () => number;
}

export interface ResolvedWalOptions {
  readonly segmentSizeBytesMax: number;
  readonly segmentAgeMsMax: number;
  readonly flushIntervalMs: number;
  readonly batchSizeBytesMax: number;
}

export const WAL_DEFAULTS: ResolvedWalOptions = {
  segmentSizeBytesMax: 64 * 1024 * 1024,
  segmentAgeMsMax: 60 * 60 * 1000,
  flushIntervalMs: 100,
  batchSizeBytesMax: 1024 * 1024,
};

const WAL_RANGES: Record<keyof ResolvedWalOptions, readonly [number, number]> = {
  segmentSizeBytesMax: [4096, 4 * 1024 * 1024 * 1024],
  segmentAgeMsMax: [1, 365 * 24 * 3600 * 1000],
  flushIntervalMs: [0, 60_000],
  batchSizeBytesMax: [1, 1024 * 1024 * 1024],
};

export function checkDurability(value: unknown, option: string): Durability {
  if (typeof value === 'string' && (DURABILITIES as readonly string[]).includes(value)) return value as Durability;
  throw new EcsdbError('CONFIG_INVALID', `${option} must be one of ${DURABILITIES.map((d) => `'${d}'`).join(', ')}, got ${JSON.stringify(value)}`);
}

export function resolveWalOptions(given: WalOptions | undefined): ResolvedWalOptions {
  if (given === undefined) return WAL_DEFAULTS;
  if (given === null || typeof given !== 'object') throw new EcsdbError('CONFIG_INVALID', 'option wal must be an object');
  const resolved: Record<string, number> = { ...WAL_DEFAULTS };
  for (const [key, value] of Object.entries(given)) {
    const range = WAL_RANGES[key as keyof ResolvedWalOptions];
    if (range === undefined) {
      throw new EcsdbError('CONFIG_INVALID', `unknown option wal.${key}; known: ${Object.keys(WAL_RANGES).join(', ')}`);
    }
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < range[0] || value > range[1]) {
      throw new EcsdbError('CONFIG_INVALID', `option wal.${key} must be an integer from ${range[0]} to ${range[1]}, got ${JSON.stringify(value)}`);
    }
    resolved[key] = value;
  }
  return resolved as unknown as ResolvedWalOptions;
}

export interface ResolvedSnapshotOptions {
  everyCommits: number;
  everyMs: number;
  walBytesMax: number;
  keep: number;
  compress: boolean;
  chunkSlots: number;
  fullEvery: number;
}

export interface ResolvedArchiveOptions {
  readonly compress: boolean;
  readonly segmentCountMax: number;
  readonly sizeBytesMax: number;
}

export const SNAPSHOT_DEFAULTS: ResolvedSnapshotOptions = {
  everyCommits: 100_000,
  everyMs: 10 * 60 * 1000,
  walBytesMax: 64 * 1024 * 1024,
  keep: 2,
  compress: false,
  chunkSlots: 16_384,
  fullEvery: 1,
};

export const ARCHIVE_DEFAULTS: ResolvedArchiveOptions = { compress: false, segmentCountMax: 8, sizeBytesMax: 0 };

const SNAPSHOT_RANGES: Record<string, readonly [number, number]> = {
  everyCommits: [0, Number.MAX_SAFE_INTEGER],
  everyMs: [0, 365 * 24 * 3600 * 1000],
  walBytesMax: [0, Number.MAX_SAFE_INTEGER],
  keep: [1, 1000],
  chunkSlots: [256, 16 * 1024 * 1024],
  fullEvery: [1, 1000],
  segmentCountMax: [0, 1_000_000],
  sizeBytesMax: [0, Number.MAX_SAFE_INTEGER],
};

/** Validates an options section of numbers and booleans against its defaults and ranges. */
function resolveSection<T extends object>(section: string, given: object | undefined, defaults: T): T {
  const defaultValues = defaults as Record<string, unknown>;
  if (given === undefined) return { ...defaults };
  if (given === null || typeof given !== 'object') throw new EcsdbError('CONFIG_INVALID', `option ${section} must be an object`);
  const resolved: Record<string, unknown> = { ...defaultValues };
  for (const [key, value] of Object.entries(given)) {
    if (!(key in defaultValues)) {
      throw new EcsdbError('CONFIG_INVALID', `unknown option ${section}.${key}; known: ${Object.keys(defaults).join(', ')}`);
    }
    if (value === undefined) continue;
    const expected = typeof defaultValues[key];
    if (expected === 'boolean') {
      if (typeof value !== 'boolean') throw new EcsdbError('CONFIG_INVALID', `option ${section}.${key} must be true or false, got ${JSON.stringify(value)}`);
    } else {
      const [min, max] = SNAPSHOT_RANGES[key];
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
        throw new EcsdbError('CONFIG_INVALID', `option ${section}.${key} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
      }
    }
    resolved[key] = value;
  }
  return resolved as unknown as T;
}

export function resolveSnapshotOptions(given: SnapshotOptions | undefined): ResolvedSnapshotOptions {
  return resolveSection('snapshot', given, SNAPSHOT_DEFAULTS);
}

export function resolveArchiveOptions(given: ArchiveSettings | undefined): ResolvedArchiveOptions {
  return resolveSection('archive', given, ARCHIVE_DEFAULTS);
}
