/**
 * Tools for snapshot tests: hermetic open() options, the snapshot and archive directories of a
 * database directory, the section layout of a snapshot file (walked from its own length fields,
 * independently of the reader), byte totals of directories, a bounded wait for background work,
 * workloads that span several snapshot chunks and their models, directories built once and
 * copied per test, and the two-snapshot directory the damage and fuzz tests start from.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { EcsdbError, open, type OpenOptions, type Transaction } from '../../src/index.js';
import { FileStorage } from '../../src/storage/file-storage.js';
import { SimulatedStorage } from '../../src/storage/simulated-storage.js';
import type { Storage } from '../../src/storage/storage.js';
import { parseSegmentFileName } from '../../src/wal/format.js';
import { SMALL_WAL, openFixture, type DirFixture, type FixtureKind } from './db-dir.js';
import { Health, Name, Position } from './fixtures.js';
import { WORKLOAD_COMPONENTS, dumpDatabase, workloadStep } from './workload.js';

/**
 * Options that make open() hermetic: no ./ecsdb.toml from the working directory and no ECSDB_*
 * variables, so a test gets exactly the settings it passes (and skips a file read per open).
 */
export const HERMETIC = { config: false, env: {} } as const;

/** Snapshot policy with every automatic trigger off: the test decides when to snapshot. */
export const MANUAL_SNAPSHOTS = { everyCommits: 0, everyMs: 0, walBytesMax: 0 } as const;

/** Offsets of the snapshot layout (see src/snapshot/format.ts), restated here on purpose. */
export const SNAPSHOT_HEADER_BYTES = 64;
export const SECTION_HEADER_BYTES = 32;

export function snapshotsDirOf(dir: string): string {
  return join(dir, 'snapshots');
}

export function archiveDirOf(dir: string): string {
  return join(dir, 'archive');
}

export function walDirOf(dir: string): string {
  return join(dir, 'wal');
}

export function manifestPathOf(dir: string): string {
  return join(dir, 'MANIFEST');
}

/** Names in a directory, or none when it does not exist. */
export async function listOrEmpty(files: Storage, path: string): Promise<string[]> {
  return (await files.stat(path)) === undefined ? [] : files.list(path);
}

/** Sum of the sizes of the files directly in `path` (0 when it does not exist). */
export async function directorySizeBytes(files: Storage, path: string): Promise<number> {
  let total = 0;
  for (const name of await listOrEmpty(files, path)) total += (await files.stat(join(path, name)))?.sizeBytes ?? 0;
  return total;
}

/** Segment names (archived `.deflate` suffix removed) with their first LSN, ascending. */
export async function segmentFirstLsns(files: Storage, path: string): Promise<number[]> {
  const lsns = (await listOrEmpty(files, path))
    .map((name) => parseSegmentFileName(name.replace(/\.deflate$/, '')))
    .filter((lsn): lsn is number => lsn !== undefined);
  return lsns.sort((a, b) => a - b);
}

export interface SectionLayout {
  /** Offset of the section's 32-byte header. */
  readonly offset: number;
  readonly storedSizeBytes: number;
  readonly kind: number;
  readonly componentIndex: number;
  readonly fieldIndex: number;
  readonly firstSlot: number;
  readonly slotCount: number;
}

/** The sections of a well-formed snapshot file, walking their stored lengths. */
export function snapshotSections(bytes: Uint8Array): SectionLayout[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const sections: SectionLayout[] = [];
  for (let offset = SNAPSHOT_HEADER_BYTES; offset < bytes.length; ) {
    const storedSizeBytes = view.getUint32(offset, true);
    sections.push({
      offset,
      storedSizeBytes,
      kind: bytes[offset + 12],
      componentIndex: view.getUint32(offset + 16, true),
      fieldIndex: view.getUint32(offset + 20, true),
      firstSlot: view.getUint32(offset + 24, true),
      slotCount: view.getUint32(offset + 28, true),
    });
    offset += SECTION_HEADER_BYTES + storedSizeBytes;
  }
  return sections;
}

/**
 * Lets background work (snapshots run one chunk per event-loop turn, file I/O on libuv) go on
 * until `condition` holds. Bounded by turns, not by a deadline: the test then fails saying what
 * never happened, instead of asserting how long anything took.
 */
export async function waitUntil(condition: () => boolean, what: string, turnsMax = 2000, turnMs = 2): Promise<void> {
  for (let turn = 0; turn < turnsMax && !condition(); turn++) await new Promise((resolve) => setTimeout(resolve, turnMs));
  expect(condition(), `waited ${turnsMax} turns for ${what}`).toBe(true);
}

/** What a promise rejected with; fails the test when it resolved. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => expect.fail(`expected a rejection, got ${JSON.stringify(value)}`),
    (error: unknown) => error,
  );
}

/** Asserts an EcsdbError with `code` whose message contains every `parts`. */
export function expectTyped(error: unknown, code: string, ...parts: string[]): EcsdbError {
  expect(error, String(error)).toBeInstanceOf(EcsdbError);
  expect((error as EcsdbError).code, (error as Error).message).toBe(code);
  for (const part of parts) expect((error as EcsdbError).message).toContain(part);
  return error as EcsdbError;
}

/** One transaction of a deterministic workload, by index. */
export type WorkloadStep = (tx: Transaction, index: number) => void;

/**
 * The workload of test/helpers/workload.ts after one bulk transaction that creates `bulkCount`
 * entities, so the world spans several snapshot chunks from the start.
 */
export function bulkThenWorkload(seed: number, bulkCount: number): WorkloadStep {
  return (tx, index) => {
    if (index > 0) return workloadStep(tx, seed, index);
    for (let i = 0; i < bulkCount; i++) {
      const e = tx.create();
      tx.add(e, Position, { x: i, y: -i, z: i / 7 });
      if (i % 3 === 0) tx.add(e, Name, { value: `bulk ${i}` });
      if (i % 5 === 0) tx.add(e, Health, { hp: i });
    }
  };
}

/** A workload run in memory: the world after every LSN, and where to continue from each. */
export interface StepModel {
  /** The dump after each LSN (index = LSN). */
  readonly dumps: unknown[][];
  /** The step index to run next once the world is at LSN r (steps that change nothing get no LSN). */
  readonly nextIndex: number[];
}

/** Runs `count` steps in memory: the dump after each LSN, and the step that follows each. */
export async function stepModel(step: WorkloadStep, count: number): Promise<StepModel> {
  const db = await open({ ...HERMETIC, components: WORKLOAD_COMPONENTS, durability: 'memory' });
  const dumps: unknown[][] = [dumpDatabase(db)];
  const nextIndex = [0];
  for (let index = 0; index < count; index++) {
    const commit = db.transact((tx) => step(tx, index));
    dumps[commit.lsn] = dumpDatabase(db);
    nextIndex[commit.lsn] = index + 1;
  }
  await db.close();
  return { dumps, nextIndex };
}

/** Runs `count` steps in memory and returns the dump after each LSN (index = LSN). */
export async function modelDumpsOf(step: WorkloadStep, count: number): Promise<unknown[][]> {
  return (await stepModel(step, count)).dumps;
}

/** Runs `steps` in memory and returns the final dump and LSN only (cheaper than every dump). */
export async function modelFinal(step: WorkloadStep, count: number): Promise<{ dump: unknown[]; lsn: number }> {
  const db = await open({ ...HERMETIC, components: WORKLOAD_COMPONENTS, durability: 'memory' });
  for (let index = 0; index < count; index++) db.transact((tx) => step(tx, index));
  const result = { dump: dumpDatabase(db), lsn: db.lsn };
  await db.close();
  return result;
}

/** A directory built once, handed out as fresh independent copies (one per test). */
export interface FixtureTemplate {
  copy(): Promise<DirFixture>;
  cleanup(): Promise<void>;
}

/**
 * Builds a database directory once with `build`, then copies it for each test: a clone of the
 * simulated storage, or a recursive copy into a fresh temporary directory on the real one.
 */
export async function buildTemplate(kind: FixtureKind, build: (fixture: DirFixture) => Promise<void>): Promise<FixtureTemplate> {
  const template = await kind.create();
  await build(template);
  return { copy: () => copyFixture(template), cleanup: () => template.cleanup() };
}

/**
 * An independent copy of a directory as it is now, unsynced bytes included (what a process
 * crash leaves): a clone of the simulated storage, or a recursive copy into a fresh temporary
 * directory. Works while a database has the original open (its LOCK then counts as stale).
 */
export async function copyFixture(fixture: DirFixture): Promise<DirFixture> {
  if (fixture.storage instanceof SimulatedStorage) {
    const copy = fixture.storage.clone();
    return { dir: fixture.dir, storage: copy, files: copy, cleanup: async () => {} };
  }
  const root = await mkdtemp(join(tmpdir(), 'ecsdb-test-'));
  const dir = join(root, 'db');
  await cp(fixture.dir, dir, { recursive: true });
  return { dir, storage: undefined, files: new FileStorage(), cleanup: () => rm(root, { recursive: true, force: true }) };
}

/**
 * A directory with two published snapshots and a WAL tail, for damage tests: a bulk transaction
 * of 300 entities and the seeded workload; snapshot A (older) after commit index 99, B (newest)
 * after 199; 250 commits in all, flushed every 10; keep 2. Archived segments are plain. With
 * `fullEvery` 2, B is incremental and builds on A.
 */
export interface TwoSnapshots {
  /** The world after the last commit. */
  readonly finalDump: unknown[];
  readonly lastLsn: number;
  readonly older: { file: string; startLsn: number; endLsn: number; base?: string };
  readonly newest: { file: string; startLsn: number; endLsn: number; base?: string };
}

const TWO_SNAPSHOTS_SEED = 61;
const TWO_SNAPSHOTS_COMMITS = 250;

export interface TwoSnapshotSettings {
  /** Archived segments kept beyond what the older snapshot needs; 0 keeps every one. */
  readonly segmentCountMax: number;
  /** Deflate-compressed snapshot sections. */
  readonly compress?: boolean;
  /** 2 makes B incremental on A. */
  readonly fullEvery?: number;
}

export function twoSnapshotOptions(settings: TwoSnapshotSettings): Partial<OpenOptions> {
  const { segmentCountMax, compress = false, fullEvery = 1 } = settings;
  return {
    ...HERMETIC,
    components: WORKLOAD_COMPONENTS,
    wal: SMALL_WAL,
    snapshot: { ...MANUAL_SNAPSHOTS, chunkSlots: 256, keep: 2, compress, fullEvery },
    archive: { compress: false, segmentCountMax },
  };
}

export async function writeTwoSnapshots(fixture: DirFixture, settings: TwoSnapshotSettings): Promise<TwoSnapshots> {
  const step = bulkThenWorkload(TWO_SNAPSHOTS_SEED, 300);
  const db = await openFixture(fixture, twoSnapshotOptions(settings));
  const entries = [];
  for (let index = 0; index < TWO_SNAPSHOTS_COMMITS; index++) {
    db.transact((tx) => step(tx, index));
    if (index % 10 === 9) await db.flush();
    if (index === 99 || index === 199) entries.push(await db.snapshot());
  }
  const lastLsn = db.lsn;
  await db.close();
  const model = await modelFinal(step, TWO_SNAPSHOTS_COMMITS);
  expect(model.lsn).toBe(lastLsn);
  const [older, newest] = entries.map(({ file, startLsn, endLsn, base }) => ({ file, startLsn, endLsn, base }));
  expect(older.endLsn).toBeLessThan(newest.startLsn);
  expect(newest.base, 'B builds on A exactly when fullEvery > 1').toBe((settings.fullEvery ?? 1) > 1 ? older.file : undefined);
  return { finalDump: model.dump, lastLsn, older, newest };
}

/**
 * A canonical string of a dump, for fast equality over thousands of crash states: JSON, with
 * -0, NaN and ±Infinity spelled out (plain JSON would fold them into 0 and null).
 */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, x: unknown) =>
    typeof x === 'number' && (!Number.isFinite(x) || Object.is(x, -0)) ? `#number ${Object.is(x, -0) ? '-0' : String(x)}` : x,
  );
}

/** Asserts `actual` equals the dump whose canonical string is `expected`; diffs against `expectedDump` when not. */
export function expectSameDump(actual: unknown, expected: string, expectedDump: unknown, message: string): void {
  if (canonical(actual) === expected) return;
  expect(actual, message).toEqual(expectedDump);
  expect.fail(`${message}: differs from the model in -0, NaN or an infinity`);
}
