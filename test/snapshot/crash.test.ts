/**
 * Power loss and process crash at every I/O call of a workload that takes snapshots while it
 * commits: snapshot writing (chunks, WAL made durable through E, header, fsync, rename, directory
 * fsync), the manifest replacement, deletion of snapshots beyond `keep`, WAL archival (plain
 * rename or deflate-compressed copy) and pruning of the archive. Two variants: full snapshots
 * with a plain archive (three snapshots, keep 2: the oldest is deleted), and a compressed
 * archive with fullEvery 2 (full, incremental on it, full: recovery loads a two-file chain, and
 * keep 2 must retain the incremental's base).
 *
 * For every call index k after open(), the workload runs with a crash at call k; then each
 * surviving state (the process-crash image, and power-loss images with unsynced bytes dropped,
 * kept, or torn at random) must open, hold every acknowledged commit, equal the in-memory model
 * at exactly the recovered LSN, use a snapshot at least as new as the newest one db.snapshot()
 * had acknowledged, and never report a damaged snapshot or manifest: a crash must not produce
 * damage that recovery then has to work around. The process-crash image also takes a snapshot
 * after recovery, which must leave exactly the manifest's files in snapshots/ (stray temp files
 * and unlisted snapshots removed).
 *
 * Size: ECSDB_CRASH_SNAPSHOT_COMMITS commits per workload (default 150).
 */
import { describe, expect, test } from 'vitest';
import { open, type Database } from '../../src/index.js';
import { SimulatedStorage, type CrashOptions } from '../../src/storage/simulated-storage.js';
import { WORKLOAD_COMPONENTS, dumpDatabase } from '../helpers/workload.js';
import {
  HERMETIC,
  MANUAL_SNAPSHOTS,
  archiveDirOf,
  bulkThenWorkload,
  canonical,
  expectSameDump,
  listOrEmpty,
  modelDumpsOf,
  segmentFirstLsns,
  snapshotsDirOf,
  walDirOf,
} from '../helpers/snapshot-dir.js';
import { reportFamily } from '../helpers/proof-summary.js';

const COMMITS = Number(process.env.ECSDB_CRASH_SNAPSHOT_COMMITS ?? 150);
const SEED = 41;
/** The first transaction creates this many entities: every snapshot spans two chunks of 256 slots. */
const STEP = bulkThenWorkload(SEED, 300);
const DIR = '/data/db';
const WAL = { segmentSizeBytesMax: 4096, flushIntervalMs: 60_000, batchSizeBytesMax: 2048 };
/** Workload indexes at which a snapshot is requested; it runs while the following commits go on. */
const SNAPSHOT_AT = [Math.floor(COMMITS * 0.35), Math.floor(COMMITS * 0.6), Math.floor(COMMITS * 0.85)];

interface Variant {
  readonly name: string;
  /** Archive compression. */
  readonly compress: boolean;
  /** Every fullEvery-th snapshot is full, the others incremental. */
  readonly fullEvery: number;
}

const VARIANTS: Variant[] = [
  { name: 'full snapshots, plain archive', compress: false, fullEvery: 1 },
  { name: 'incremental snapshots, compressed archive', compress: true, fullEvery: 2 },
];

function optionsFor(storage: SimulatedStorage, variant: Variant) {
  return {
    ...HERMETIC,
    dir: DIR,
    storage,
    components: WORKLOAD_COMPONENTS,
    wal: WAL,
    snapshot: { ...MANUAL_SNAPSHOTS, chunkSlots: 256, keep: 2, fullEvery: variant.fullEvery },
    archive: { compress: variant.compress, segmentCountMax: 2 },
  };
}

/** The model's dump after each LSN, and its canonical string (compared per crash state). */
interface Model {
  readonly dumps: unknown[][];
  readonly canonical: string[];
}

interface Outcome {
  /** Highest LSN whose `durable` resolved before the crash. */
  acknowledged: number;
  /** End LSN of the newest snapshot whose db.snapshot() resolved before the crash. */
  published: number;
  /** I/O calls made by open() itself. */
  openCalls: number;
  /** Chunk count and LSN range of every snapshot that completed. */
  snapshots: { chunkCount: number; startLsn: number; endLsn: number; base: string | undefined }[];
}

/** Runs the workload until it ends or the storage crashes. */
async function runWorkload(storage: SimulatedStorage, variant: Variant): Promise<Outcome> {
  const outcome: Outcome = { acknowledged: 0, published: 0, openCalls: -1, snapshots: [] };
  const snapshotErrors: unknown[] = [];
  let db: Database | undefined;
  try {
    db = await open(optionsFor(storage, variant));
    outcome.openCalls = storage.ioCount;
    const snapshots: Promise<void>[] = [];
    for (let index = 0; index < COMMITS; index++) {
      const commit = db.transact((tx) => STEP(tx, index));
      const lsn = commit.lsn;
      commit.durable.then(
        () => (outcome.acknowledged = Math.max(outcome.acknowledged, lsn)),
        () => undefined,
      );
      if (SNAPSHOT_AT.includes(index)) {
        snapshots.push(
          db.snapshot().then(
            (entry) => {
              outcome.published = Math.max(outcome.published, entry.endLsn);
              outcome.snapshots.push({ chunkCount: entry.chunkCount, startLsn: entry.startLsn, endLsn: entry.endLsn, base: entry.base });
            },
            (error: unknown) => void snapshotErrors.push(error),
          ),
        );
      }
      // Give snapshot chunks and WAL flushes turns while commits keep coming.
      if (index % 3 !== 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(snapshots);
    await db.close();
  } catch (error) {
    if (!storage.crashed) throw error;
  }
  if (!storage.crashed && snapshotErrors.length > 0) throw snapshotErrors[0];
  // Let acknowledgements already settled in microtasks land.
  await new Promise((resolve) => setImmediate(resolve));
  return outcome;
}

async function checkSurvivor(
  survivor: SimulatedStorage,
  variant: Variant,
  outcome: Outcome,
  model: Model,
  label: string,
  snapshotAfter = false,
): Promise<void> {
  const db = await open(optionsFor(survivor, variant));
  try {
    const recovered = db.lsn;
    const recovery = db.recovery!;
    expect(recovered, `${label}: acknowledged LSN ${outcome.acknowledged} lost`).toBeGreaterThanOrEqual(outcome.acknowledged);
    expect(recovered, `${label}: recovered past the workload`).toBeLessThan(model.dumps.length);
    expectSameDump(dumpDatabase(db), model.canonical[recovered], model.dumps[recovered], `${label}: world differs from the model at LSN ${recovered}`);
    expect(recovery.skippedSnapshots, `${label}: a crash left a damaged snapshot in the manifest`).toEqual([]);
    expect(recovery.manifestProblem, `${label}: a crash damaged the manifest`).toBeUndefined();
    if (outcome.published > 0) {
      expect(recovery.snapshot?.endLsn ?? 0, `${label}: the acknowledged snapshot at LSN ${outcome.published} was lost`).toBeGreaterThanOrEqual(outcome.published);
    }
    // The recovered database accepts new commits.
    await db.transact((tx) => tx.create(), { durability: 'strict' }).durable;
    if (snapshotAfter) {
      // And snapshots again, which clears whatever the crash left half-done in snapshots/.
      await db.snapshot();
      const names = await survivor.list(snapshotsDirOf(DIR));
      expect(names, `${label}: snapshots/ after the next snapshot`).toEqual(db.snapshots.map((entry) => entry.file));
    }
  } finally {
    await db.close();
  }
}

describe.each(VARIANTS)('crash at every I/O call of a snapshotting workload, $name', (variant) => {
  test(`every crash state of a ${COMMITS}-commit workload with ${SNAPSHOT_AT.length} snapshots opens to an acknowledged prefix`, async () => {
    const dumps = await modelDumpsOf(STEP, COMMITS);
    const model: Model = { dumps, canonical: dumps.map(canonical) };
    const dry = new SimulatedStorage({ seed: SEED });
    const ops = new Map<string, number>();
    dry.onCall = (info) => {
      const kind = `${info.op}:${info.path.split('/').slice(3, 4).join('') || 'dir'}`;
      ops.set(kind, (ops.get(kind) ?? 0) + 1);
    };
    const complete = await runWorkload(dry, variant);
    expect(complete.acknowledged).toBe(dumps.length - 1);
    // The workload must exercise everything this test is about.
    expect(complete.snapshots.length).toBe(SNAPSHOT_AT.length);
    expect(complete.snapshots.every((s) => s.chunkCount >= 2), 'every snapshot spans several chunks').toBe(true);
    expect(complete.snapshots.some((s) => s.endLsn > s.startLsn), 'commits went on during a snapshot').toBe(true);
    const snapshotFiles = (await listOrEmpty(dry, snapshotsDirOf(DIR))).filter((name) => name.endsWith('.snap'));
    if (variant.fullEvery === 1) {
      expect(snapshotFiles.length, 'keep=2 leaves two snapshots').toBe(2);
      expect(ops.get('unlink:snapshots') ?? 0, 'an older snapshot was deleted').toBeGreaterThan(0);
    } else {
      expect(complete.snapshots.map((s) => s.base !== undefined), 'full, incremental, full').toEqual([false, true, false]);
      expect(snapshotFiles.length, 'keep=2 also keeps the base of the incremental one').toBe(3);
    }
    const archived = await listOrEmpty(dry, archiveDirOf(DIR));
    expect(archived.length, 'segments were archived').toBeGreaterThan(0);
    expect(archived.every((name) => name.endsWith('.deflate')), 'archive compression as configured').toBe(variant.compress);
    const firstLsns = await segmentFirstLsns(dry, archiveDirOf(DIR));
    expect(firstLsns[0], 'the archive was pruned: the WAL no longer starts at LSN 1').toBeGreaterThan(1);
    expect(ops.get('unlink:archive') ?? 0, 'archived segments were pruned').toBeGreaterThan(0);
    const liveSegments = (await listOrEmpty(dry, walDirOf(DIR))).length;

    const callCount = dry.ioCount;
    const tears: CrashOptions[] = [{ tear: 'none' }, { tear: 'all' }, { tear: 'random', seed: 1 }, { tear: 'random', seed: 2 }];
    let states = 0;
    let fromSnapshot = 0;
    for (let k = complete.openCalls; k < callCount; k++) {
      const storage = new SimulatedStorage({ seed: SEED });
      storage.crashAt(k);
      const outcome = await runWorkload(storage, variant);
      expect(outcome.openCalls, 'the crash point is after open()').toBe(complete.openCalls);
      // A process crash (SIGKILL) keeps everything the process did, synced or not.
      await checkSurvivor(storage.clone(), variant, outcome, model, `process crash at call ${k}/${callCount}`, true);
      states++;
      for (const tear of tears) {
        const label = `power loss at call ${k}/${callCount}, tear ${tear.tear}${tear.seed ?? ''}`;
        await checkSurvivor(storage.crash(tear), variant, outcome, model, label);
        states++;
      }
      if (outcome.published > 0) fromSnapshot++;
    }
    reportFamily('crash states', { states, 'acknowledged lost': 0, 'partial visible': 0, unopenable: 0 });
    console.log(
      `snapshot crash states (${variant.name}): ${states} over ${callCount - complete.openCalls} I/O calls after open ` +
        `(${fromSnapshot} after a published snapshot), ${snapshotFiles.length} snapshots kept, ${archived.length} archived + ${liveSegments} live segments; ` +
        `acknowledged lost: 0, partial visible: 0, unopenable: 0, damaged: 0`,
    );
  });
});
