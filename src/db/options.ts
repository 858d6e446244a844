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
