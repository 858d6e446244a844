/**
 * Power loss and process crash at every I/O call of a workload that takes snapshots while it
 * commits: snapshot writing (chunks, WAL made durable through E, header, fsync, rename, directory
 * fsync), the manifest replacement, deletion of snapshots beyond `keep`, WAL archival (plain
 * rename or deflate-compressed copy) and pruning of the archive. Two variants: full snapshots
 * with a plain archive (three snapshots, keep 2: the oldest is deleted), and a compressed
 * archive with fullEvery 2 (full, incremental on it, full: recovery loads a two-file chain, and
 * keep 2 must retain the incremental's base).
 *
 * Every distinct crash state (see test/helpers/crash-harness.ts) must open, hold every
 * acknowledged commit, equal the in-memory model at exactly the recovered LSN, use a snapshot at
 * least as new as the newest one db.snapshot() had acknowledged, never report a damaged
 * snapshot or manifest (a crash must not produce damage that recovery then has to work around),
 * and continue the workload. The process-crash image also takes a snapshot after recovery, which
 * must leave exactly the manifest's files in snapshots/ (stray temp files and unlisted snapshots
 * removed).
 *
 * Size: ECSDB_CRASH_SNAPSHOT_COMMITS commits per workload (default 150).
 */
import { describe, expect, test } from 'vitest';
import { SimulatedStorage } from '../../src/storage/simulated-storage.js';
import { MANUAL_SNAPSHOTS, archiveDirOf, bulkThenWorkload, segmentFirstLsns } from '../helpers/snapshot-dir.js';
import { CRASH_DIR, checkEveryCrashState, namesIn, runWorkload, workloadModel, lastLsnOf, type CrashWorkload, type RunRecord } from '../helpers/crash-harness.js';

const COMMITS = Number(process.env.ECSDB_CRASH_SNAPSHOT_COMMITS ?? 150);
const SEED = 41;
const WAL = { syncMethod: 'fdatasync' as const, segmentSizeBytesMax: 4096, flushIntervalMs: 60_000, batchSizeBytesMax: 2048 };

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

function snapshotWorkload(variant: Variant): CrashWorkload {
  return {
    id: `snapshot-${variant.compress ? 'compressed' : 'plain'}-full${variant.fullEvery}-s${SEED}`,
    commits: COMMITS,
    // The first transaction creates 300 entities: every snapshot spans two chunks of 256 slots.
    step: bulkThenWorkload(SEED, 300),
    options: {
      wal: WAL,
      snapshot: { ...MANUAL_SNAPSHOTS, chunkSlots: 256, keep: 2, fullEvery: variant.fullEvery },
      archive: { compress: variant.compress, segmentCountMax: 2 },
    },
    strict: () => false,
    snapshotAt: [Math.floor(COMMITS * 0.35), Math.floor(COMMITS * 0.6), Math.floor(COMMITS * 0.85)],
    // Give snapshot chunks and WAL flushes turns while commits keep coming.
    yieldAfter: (index) => index % 3 !== 0,
  };
}

describe.each(VARIANTS)('crash at every I/O call of a snapshotting workload, $name', (variant) => {
  test(`every crash state of a ${COMMITS}-commit workload with 3 snapshots opens to an acknowledged prefix`, async () => {
    const workload = snapshotWorkload(variant);
    const model = await workloadModel(workload);
    const dry = new SimulatedStorage({ seed: SEED });
    const ops = new Map<string, number>();
    dry.onCall = (info) => {
      const kind = `${info.op}:${info.path.split('/').slice(3, 4).join('') || 'dir'}`;
      ops.set(kind, (ops.get(kind) ?? 0) + 1);
    };
    const record: RunRecord = { snapshots: [] };
    const progress = { acknowledged: 0, published: 0 };
    await runWorkload(workload, dry, progress, record);
    expect(progress.acknowledged).toBe(lastLsnOf(model, COMMITS));
    // The workload must exercise everything this test is about.
    expect(record.snapshots.length).toBe(workload.snapshotAt!.length);
    expect(record.snapshots.every((s) => s.chunkCount >= 2), 'every snapshot spans several chunks').toBe(true);
    expect(record.snapshots.some((s) => s.endLsn > s.startLsn), 'commits went on during a snapshot').toBe(true);
    const snapshotFiles = (await namesIn(dry, 'snapshots')).filter((name) => name.endsWith('.snap'));
    if (variant.fullEvery === 1) {
      expect(snapshotFiles.length, 'keep=2 leaves two snapshots').toBe(2);
      expect(ops.get('unlink:snapshots') ?? 0, 'an older snapshot was deleted').toBeGreaterThan(0);
    } else {
      expect(record.snapshots.map((s) => s.base !== undefined), 'full, incremental, full').toEqual([false, true, false]);
      expect(snapshotFiles.length, 'keep=2 also keeps the base of the incremental one').toBe(3);
    }
    const archived = await namesIn(dry, 'archive');
    expect(archived.length, 'segments were archived').toBeGreaterThan(0);
    expect(archived.every((name) => name.endsWith('.deflate')), 'archive compression as configured').toBe(variant.compress);
    const firstLsns = await segmentFirstLsns(dry, archiveDirOf(CRASH_DIR));
    expect(firstLsns[0], 'the archive was pruned: the WAL no longer starts at LSN 1').toBeGreaterThan(1);
    expect(ops.get('unlink:archive') ?? 0, 'archived segments were pruned').toBeGreaterThan(0);
    const liveSegments = (await namesIn(dry, 'wal')).length;

    const { tally, callCount } = await checkEveryCrashState(workload, model, { snapshotAfter: true });
    console.log(
      `snapshot crash states (${variant.name}): ${tally.states} distinct over ${callCount} I/O calls, ` +
        `${snapshotFiles.length} snapshots kept, ${archived.length} archived + ${liveSegments} live segments`,
    );
    tally.report('crash states');
  });
});
