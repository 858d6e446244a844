/**
 * Database directories for persistence tests, on the simulated storage and on the real file
 * system alike, plus the tools to look at and damage their files behind the database's back.
 *
 * A fixture's `storage` is what `open()` gets: the SimulatedStorage itself, or undefined for the
 * real file system, so those tests go through the exact default path users take (including the
 * process-wide FileStorage whose lock registry sees every open). `files` is a storage for raw
 * access to the same bytes; it never takes part in locking.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { open, type Database, type OpenOptions } from '../../src/index.js';
import { FileStorage } from '../../src/storage/file-storage.js';
import { SimulatedStorage } from '../../src/storage/simulated-storage.js';
import type { Storage } from '../../src/storage/storage.js';
import { RECORD_HEADER_SIZE_BYTES, SEGMENT_HEADER_SIZE_BYTES, parseSegmentFileName } from '../../src/wal/format.js';
import { WORKLOAD_COMPONENTS, dumpDatabase, modelDumps, workloadStep } from './workload.js';

export interface DirFixture {
  readonly dir: string;
  /** What open() is given: undefined means the real, default storage. */
  readonly storage: Storage | undefined;
  /** Raw access to the same files, for reading and damaging them. */
  readonly files: Storage;
  cleanup(): Promise<void>;
}

export interface FixtureKind {
  readonly name: 'SimulatedStorage' | 'FileStorage';
  create(): Promise<DirFixture>;
}

export const SIMULATED: FixtureKind = {
  name: 'SimulatedStorage',
  create: async () => {
    const storage = new SimulatedStorage({ seed: 3 });
    return { dir: '/data/db', storage, files: storage, cleanup: async () => {} };
  },
};

export const REAL: FixtureKind = {
  name: 'FileStorage',
  create: async () => {
    const root = await mkdtemp(join(tmpdir(), 'ecsdb-test-'));
    return { dir: join(root, 'db'), storage: undefined, files: new FileStorage(), cleanup: () => rm(root, { recursive: true, force: true }) };
  },
};

export const BOTH_STORAGES: readonly FixtureKind[] = [SIMULATED, REAL];

/** Small segments, and buffered commits that only reach disk at flush() or close(). */
export const SMALL_WAL = { segmentSizeBytesMax: 4096, flushIntervalMs: 60_000, batchSizeBytesMax: 1024 * 1024 };

export function openFixture(fixture: DirFixture, options: Partial<OpenOptions> = {}): Promise<Database> {
  return open({ dir: fixture.dir, storage: fixture.storage, components: WORKLOAD_COMPONENTS, wal: SMALL_WAL, ...options });
}

/**
 * Runs `commits` workload transactions (seed `seed`), flushing every `flushEvery` commits so
 * each flush is one WAL batch, then closes. Returns the model: the dump after each LSN.
 */
export async function populate(fixture: DirFixture, seed: number, commits: number, flushEvery = commits, options: Partial<OpenOptions> = {}): Promise<unknown[][]> {
  const db = await openFixture(fixture, options);
  for (let index = 0; index < commits; index++) {
    db.transact((tx) => workloadStep(tx, seed, index));
    if ((index + 1) % flushEvery === 0) await db.flush();
  }
  await db.close();
  const model = await modelDumps(open, seed, commits);
  expect(model.length - 1, 'the workload must commit something').toBeGreaterThan(0);
  return model;
}

/** Opens the directory and checks it holds exactly the model at its LSN; returns the open db. */
export async function openAndCheck(fixture: DirFixture, model: unknown[][], expectedLsn: number): Promise<Database> {
  const db = await openFixture(fixture);
  expect(db.lsn).toBe(expectedLsn);
  expect(dumpDatabase(db)).toEqual(model[expectedLsn]);
  return db;
}

export function walDir(fixture: DirFixture): string {
  return join(fixture.dir, 'wal');
}

/** Segment file names, in LSN order. */
export async function segmentNames(fixture: DirFixture): Promise<string[]> {
  const names = (await fixture.files.list(walDir(fixture))).filter((name) => parseSegmentFileName(name) !== undefined);
  return names.sort((a, b) => parseSegmentFileName(a)! - parseSegmentFileName(b)!);
}

export function segmentPath(fixture: DirFixture, name: string): string {
  return join(walDir(fixture), name);
}

/** Start offsets of the records of a well-formed segment, walking their length fields. */
export function recordStarts(segment: Uint8Array): number[] {
  const view = new DataView(segment.buffer, segment.byteOffset, segment.byteLength);
  const starts: number[] = [];
  for (let offset = SEGMENT_HEADER_SIZE_BYTES; offset < segment.length; ) {
    starts.push(offset);
    offset += RECORD_HEADER_SIZE_BYTES + view.getUint32(offset, true);
  }
  return starts;
}

/** Every file under `dir` by relative path (directories as `name/`), with its bytes. */
export async function readTree(files: Storage, dir: string): Promise<Map<string, string>> {
  const tree = new Map<string, string>();
  const walk = async (relative: string): Promise<void> => {
    for (const name of await files.list(join(dir, relative))) {
      const path = join(relative, name);
      const stat = await files.stat(join(dir, path));
      if (stat!.isDirectory) {
        tree.set(`${path}/`, 'directory');
        await walk(path);
      } else {
        tree.set(path, Buffer.from(await files.readFile(join(dir, path))).toString('hex'));
      }
    }
  };
  await walk('');
  return tree;
}

export async function readBytes(files: Storage, path: string): Promise<Uint8Array> {
  return (await files.readFile(path)).slice();
}

/** Writes `bytes` at `position`, in place. */
export async function patchFile(files: Storage, path: string, position: number, bytes: Uint8Array): Promise<void> {
  const file = await files.open(path, 'readwrite');
  try {
    await file.write(bytes, position);
    await file.sync();
  } finally {
    await file.close();
  }
}

export async function truncateFile(files: Storage, path: string, sizeBytes: number): Promise<void> {
  const file = await files.open(path, 'readwrite');
  try {
    await file.truncate(sizeBytes);
    await file.sync();
  } finally {
    await file.close();
  }
}

export async function appendToFile(files: Storage, path: string, bytes: Uint8Array): Promise<void> {
  const file = await files.open(path, 'readwrite');
  try {
    await file.write(bytes, await file.sizeBytes());
    await file.sync();
  } finally {
    await file.close();
  }
}

/** Replaces a whole file's content (creating it if needed), durably. */
export async function writeWholeFile(files: Storage, path: string, bytes: Uint8Array): Promise<void> {
  if ((await files.stat(path)) !== undefined) await files.unlink(path);
  const file = await files.open(path, 'create');
  try {
    await file.write(bytes, 0);
    await file.sync();
  } finally {
    await file.close();
  }
}

/** Inverts every bit of the byte at `position`. */
export async function flipByte(files: Storage, path: string, position: number): Promise<void> {
  const [byte] = await (async () => {
    const file = await files.open(path, 'read');
    try {
      return await file.read(position, 1);
    } finally {
      await file.close();
    }
  })();
  await patchFile(files, path, position, new Uint8Array([byte ^ 0xff]));
}

/** Lets every pending microtask and I/O callback of the simulated storage run. */
export async function settle(turns = 3): Promise<void> {
  for (let turn = 0; turn < turns; turn++) await new Promise((resolve) => setImmediate(resolve));
}
