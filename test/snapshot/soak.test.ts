/**
 * A bounded soak: spawn/update/despawn churn at a steady population, with automatic snapshots
 * every N commits, keep 2, and a compressed, count-limited WAL archive. After every snapshot the
 * bytes in snapshots/, archive/ and wal/ are sampled, and so is the heap (after a full GC).
 * Disk must stay under a bound derived from the settings and must not grow with the commit
 * count; the heap must not grow either (second half against first half, generous slack). At the
 * end the directory reopens to the model.
 *
 * On the simulated storage, on purpose. With the real one, a snapshot's half-dozen fsyncs took
 * 50-120 ms on the development VM, so in a tight commit loop the automatic snapshots fell several
 * times behind their schedule (two instead of eleven in 3,000 commits) and how many happened
 * depended on the disk: a flaky soak that checks little. Simulated I/O completes in microtasks,
 * so every run takes the same snapshots at the same commits. The price: the simulated files
 * live in the JS heap, so their bytes are subtracted from the heap figure (and are bounded by
 * the disk assertions anyway). The real file paths are exercised by the damage, fidelity and
 * policy tests, which run on both storages.
 *
 * Size: ECSDB_SOAK_COMMITS commits (default 3000); raise it locally for a longer soak.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect, test } from 'vitest';
import type { Entity, Transaction } from '../../src/index.js';
import { createRandom, randomInt } from '../../src/storage/random.js';
import { SimulatedStorage } from '../../src/storage/simulated-storage.js';
import { SIMULATED, openFixture } from '../helpers/db-dir.js';
import { Health, Name, Position } from '../helpers/fixtures.js';
import { dumpDatabase } from '../helpers/workload.js';
import { HERMETIC, archiveDirOf, directorySizeBytes, listOrEmpty, modelFinal, segmentFirstLsns, snapshotsDirOf, walDirOf } from '../helpers/snapshot-dir.js';

const COMMITS = Number(process.env.ECSDB_SOAK_COMMITS ?? 3000);
const EVERY_COMMITS = Math.max(100, Math.floor(COMMITS / 12));
const KEEP = 2;
const SEGMENT_SIZE_BYTES_MAX = 16 * 1024;
const ARCHIVE_SEGMENT_COUNT_MAX = 4;
const POPULATION = 500;
const OPTIONS = {
  ...HERMETIC,
  wal: { segmentSizeBytesMax: SEGMENT_SIZE_BYTES_MAX, flushIntervalMs: 60_000, batchSizeBytesMax: 16 * 1024 },
  snapshot: { everyCommits: EVERY_COMMITS, everyMs: 0, walBytesMax: 0, keep: KEEP, chunkSlots: 256, compress: true },
  archive: { compress: true, segmentCountMax: ARCHIVE_SEGMENT_COUNT_MAX, sizeBytesMax: 0 },
};

/** Spawns three, updates five, despawns three (one while the population is still growing). */
function churn(tx: Transaction, index: number): void {
  const random = createRandom(index * 7919 + 1);
  const alive = tx.query(Position);
  for (let i = 0; i < 3; i++) {
    const e = tx.create();
    tx.add(e, Position, { x: index, y: i, z: random() });
    tx.add(e, Health, { hp: 100 });
    if (random() < 0.3) tx.add(e, Name, { value: `unit ${index}.${i}` });
  }
  for (let i = 0; i < 5 && alive.length > 0; i++) {
    const e = alive[randomInt(random, alive.length)];
    tx.set(e, Position, { x: random() * 1000, y: -index });
    if (tx.has(e, Health)) tx.set(e, Health, { hp: randomInt(random, 100) });
  }
  const despawns = alive.length > POPULATION ? 3 : 1;
  for (let i = 0; i < despawns && alive.length > 0; i++) {
    const slot = randomInt(random, alive.length);
    const e: Entity = alive[slot];
    alive.splice(slot, 1);
    tx.destroy(e);
  }
}

/** A full GC, if this process can trigger one. */
function findGc(): (() => void) | undefined {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return exposed;
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

/** Bytes the simulated files hold in the heap. */
function simulatedFileBytes(storage: SimulatedStorage): number {
  let total = 0;
  for (const bytes of storage.snapshotFiles().values()) total += bytes.length;
  return total;
}

interface Sample {
  readonly lsn: number;
  readonly snapshotBytes: number;
  readonly snapshotFiles: number;
  readonly walBytes: number;
  readonly archiveBytes: number;
  readonly segmentCount: number;
  /** Heap used after a full GC, minus the simulated files' bytes. */
  readonly heapUsedBytes: number | undefined;
}

const half = <T>(values: T[], which: 0 | 1): T[] => (which === 0 ? values.slice(0, Math.floor(values.length / 2)) : values.slice(Math.floor(values.length / 2)));
const max = (values: number[]): number => Math.max(...values);
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

test(`${COMMITS} churn commits with automatic snapshots keep disk and heap flat`, async () => {
  const fixture = await SIMULATED.create();
  const dir = fixture.dir;
  const files = fixture.files;
  const storage = fixture.storage as SimulatedStorage;
  const gc = findGc();
  const db = await openFixture(fixture, OPTIONS);
  const sample = async (): Promise<Sample> => {
    gc?.();
    const heapUsedBytes = gc === undefined ? undefined : process.memoryUsage().heapUsed - simulatedFileBytes(storage);
    const snapshotFiles = (await listOrEmpty(files, snapshotsDirOf(dir))).filter((name) => name.endsWith('.snap')).length;
    return {
      lsn: db.lsn,
      snapshotBytes: await directorySizeBytes(files, snapshotsDirOf(dir)),
      snapshotFiles,
      walBytes: await directorySizeBytes(files, walDirOf(dir)),
      archiveBytes: await directorySizeBytes(files, archiveDirOf(dir)),
      segmentCount: (await segmentFirstLsns(files, walDirOf(dir))).length + (await segmentFirstLsns(files, archiveDirOf(dir))).length,
      heapUsedBytes,
    };
  };

  // The WAL bytes one commit costs, measured before any snapshot archives (and compresses) them.
  for (let index = 0; index < EVERY_COMMITS - 1; index++) db.transact((tx) => churn(tx, index));
  await db.flush();
  const walBytesPerCommit = (await directorySizeBytes(files, walDirOf(dir))) / db.lsn;
  expect(db.snapshots).toEqual([]);

  const samples: Sample[] = [];
  let seen = '';
  let largestSnapshotBytes = 0;
  for (let index = EVERY_COMMITS - 1; index < COMMITS; index++) {
    db.transact((tx) => churn(tx, index));
    await new Promise((resolve) => setImmediate(resolve));
    const newest = db.snapshots.at(-1);
    if (newest !== undefined && newest.file !== seen) {
      seen = newest.file;
      largestSnapshotBytes = Math.max(largestSnapshotBytes, newest.sizeBytes);
      samples.push(await sample());
    }
  }
  const lsn = db.lsn;
  await db.close();

  // Automatic snapshots happened all along, and the archive was pruned past LSN 1.
  expect(samples.length, 'snapshots taken').toBeGreaterThanOrEqual(Math.floor(COMMITS / EVERY_COMMITS) - 2);
  expect((await segmentFirstLsns(files, archiveDirOf(dir)))[0], 'the archive was pruned').toBeGreaterThan(1);

  // Bounds from the settings. A sample may catch a snapshot just published, before the oldest one
  // is deleted and the WAL it covers is archived and pruned: hence keep + 1 snapshots, and keep
  // + 2 snapshot intervals of WAL (the oldest kept snapshot's, the newest's, the one in flight).
  const segmentsPerInterval = Math.ceil((2 * EVERY_COMMITS * walBytesPerCommit) / SEGMENT_SIZE_BYTES_MAX);
  const segmentCountBound = ARCHIVE_SEGMENT_COUNT_MAX + (KEEP + 2) * segmentsPerInterval + 2;
  for (const s of samples) {
    const at = `at LSN ${s.lsn}`;
    expect(s.snapshotFiles, `snapshot files ${at}`).toBeLessThanOrEqual(KEEP + 1);
    expect(s.snapshotBytes, `snapshot bytes ${at}`).toBeLessThanOrEqual((KEEP + 1) * largestSnapshotBytes);
    expect(s.segmentCount, `WAL segments, live and archived, ${at}`).toBeLessThanOrEqual(segmentCountBound);
    expect(s.walBytes + s.archiveBytes, `WAL bytes, live and archived, ${at}`).toBeLessThanOrEqual(segmentCountBound * SEGMENT_SIZE_BYTES_MAX);
  }

  // Flat, not growing with the commit count: the second half of the run against the first.
  const total = (s: Sample) => s.snapshotBytes + s.walBytes + s.archiveBytes;
  expect(max(half(samples, 1).map(total)), 'disk bytes, second half vs first').toBeLessThanOrEqual(1.5 * max(half(samples, 0).map(total)) + SEGMENT_SIZE_BYTES_MAX);
  const heap = samples.map((s) => s.heapUsedBytes).filter((n): n is number => n !== undefined);
  if (heap.length === samples.length) {
    expect(median(half(heap, 1)), 'heap used after GC, second half vs first').toBeLessThanOrEqual(1.5 * max(half(heap, 0)) + 16 * 1024 * 1024);
  } else {
    console.log('soak: no way to force a GC in this process (run node with --expose-gc); heap assertion skipped');
  }

  const reopened = await openFixture(fixture, OPTIONS);
  try {
    const model = await modelFinal(churn, COMMITS);
    expect(reopened.lsn).toBe(lsn);
    expect(model.lsn).toBe(lsn);
    expect(reopened.recovery!.snapshot?.file).toBe(reopened.snapshots.at(-1)?.file);
    expect(dumpDatabase(reopened)).toEqual(model.dump);
  } finally {
    await reopened.close();
  }
  const last = samples.at(-1)!;
  const mib = (n: number | undefined) => (n === undefined ? 'n/a' : `${(n / 1024 / 1024).toFixed(1)} MiB`);
  console.log(
    `soak: ${COMMITS} commits, ${samples.length} snapshots; last sample: snapshots ${last.snapshotBytes} B in ${last.snapshotFiles} files, ` +
      `wal ${last.walBytes} B + archive ${last.archiveBytes} B in ${last.segmentCount} segments (bound ${segmentCountBound} segments); ` +
      `heap after GC ${mib(heap[0])} → ${mib(heap.at(-1))}`,
  );
});
