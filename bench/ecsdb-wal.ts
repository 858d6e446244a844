/**
 * ecsdb's WAL figures, each in a fresh buffered-mode directory (removed afterwards):
 *
 * - WAL bytes per W1 commit: the world is created and flushed, then `walBytesCommitCount` W1
 *   commits are made and flushed; the growth of the wal/ folder divided by the commits is the
 *   marginal cost of one commit on disk (record header + write set, plus any segment headers).
 * - W4 replay: the world is created, then `replay.commitCount` W1 commits are made in chunks (the
 *   writer flushes in the background between them, as in a game loop), flushed and the database
 *   closed. Each timed `open()` of the directory replays all of it; the figure is the median.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open, type Database } from '../src/index.js';
import { Position, pointRunner, populate } from './ecsdb.js';
import type { Plan } from './plan.js';
import { median, withDeadline } from './stats.js';

/** The WAL folder inside a data directory (docs/wal-format.md). */
const WAL_DIR_NAME = 'wal';

/**
 * Automatic snapshots off for these directories: a snapshot would archive WAL segments (so the
 * wal/ folder would shrink) and let `open()` start from the snapshot instead of replaying every
 * commit, and these figures are about the WAL alone. Spread into `open()`'s options, so an ecsdb
 * without snapshot options (before issue 4) ignores it; one that has them validates it.
 */
const NO_AUTOMATIC_SNAPSHOTS = { snapshot: { everyCommits: 0, everyMs: 0, walBytesMax: 0 } };

async function openBuffered(dir: string): Promise<Database> {
  return open({ components: [Position], durability: 'buffered', dir, ...NO_AUTOMATIC_SNAPSHOTS });
}

export interface EcsdbWalBytes {
  status: 'ok';
  commits: number;
  walBytesGrowth: number;
  bytesPerCommit: number;
}

export interface Replay {
  status: 'ok';
  /** W1 commits in the directory, after the world's creation. */
  commits: number;
  /** Records the world's creation took (each creates up to setupBatchEntityCount entities). */
  setupRecords: number;
  walBytes: number;
  segmentCount: number;
  /** Building the directory: the commits, the final flush and close. */
  buildMs: number;
  opens: number;
  /** db.recovery.wal.recordsReplayed (the same on every open). */
  recordsReplayed: number;
  /** Wall time of `open()`, median over the opens; also the min and max. */
  openMsMedian: number;
  openMsMin: number;
  openMsMax: number;
  /** What `open()` reported for its replay (db.recovery.wal.replayMs), median over the opens. */
  replayMsMedian: number;
  /** recordsReplayed / openMsMedian: commits replayed per second of `open()`. */
  commitsPerSecond: number;
}

export async function measureEcsdbWalBytes(plan: Plan): Promise<EcsdbWalBytes> {
  const commits = plan.walBytesCommitCount;
  const dir = mkdtempSync(join(tmpdir(), 'ecsdb-bench-wal-'));
  try {
    const db = await openBuffered(dir);
    try {
      const entities = await populate(db, plan); // ends with a flush
      const before = walSize(dir).bytes;
      const point = pointRunner(db, entities, plan, 'flush');
      await withDeadline(Promise.resolve(point.run(commits)), plan.measure.runDeadlineMs, `${commits} W1 commits and a flush`);
      point.verify();
      const walBytesGrowth = walSize(dir).bytes - before;
      return { status: 'ok', commits, walBytesGrowth, bytesPerCommit: walBytesGrowth / commits };
    } finally {
      await db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A directory of W1 commits, closed, ready to be reopened; `remove` deletes it. */
export interface ReplayDirectory {
  readonly dir: string;
  readonly commits: number;
  readonly setupRecords: number;
  /** LSN of the last record: what every open must replay. */
  readonly recordsExpected: number;
  readonly buildMs: number;
  /** Checks that a reopened database holds the last commit's write. */
  verify(reopened: Database): void;
  remove(): void;
}

/** Builds W4's directory: the world, then `replay.commitCount` W1 commits in chunks, then close. */
export async function buildReplayDirectory(plan: Plan): Promise<ReplayDirectory> {
  const { commitCount, chunkCommitCount, deadlineMs } = plan.replay;
  const dir = mkdtempSync(join(tmpdir(), 'ecsdb-bench-replay-'));
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    const db = await openBuffered(dir);
    try {
      const entities = await populate(db, plan);
      const setupRecords = db.lsn;
      const point = pointRunner(db, entities, plan, 'none');
      const buildStartNs = process.hrtime.bigint();
      await withDeadline(
        (async () => {
          for (let done = 0; done < commitCount; done += chunkCommitCount) {
            point.run(Math.min(chunkCommitCount, commitCount - done));
            // Let the writer's background flushes run, as they would between a game's frames.
            await new Promise((resolve) => setImmediate(resolve));
          }
          await db.close();
        })(),
        deadlineMs,
        `building a WAL of ${commitCount} W1 commits`,
      );
      const buildMs = Number(process.hrtime.bigint() - buildStartNs) / 1e6;
      return { dir, commits: commitCount, setupRecords, recordsExpected: db.lsn, buildMs, verify: (reopened) => point.verify(reopened), remove };
    } finally {
      await db.close();
    }
  } catch (error) {
    remove();
    throw error;
  }
}

/** One timed `open()` of a replay directory, checked, then closed. */
export async function openReplayDirectory(plan: Plan, built: ReplayDirectory): Promise<{ openMs: number; replayMs: number; recordsReplayed: number }> {
  const startNs = process.hrtime.bigint();
  const reopened = await withDeadline(openBuffered(built.dir), plan.replay.deadlineMs, 'open() of the W4 directory');
  const openMs = Number(process.hrtime.bigint() - startNs) / 1e6;
  try {
    const report = reopened.recovery;
    if (report === undefined) throw new Error('bench self-check failed: a reopened directory has no recovery report');
    if (report.wal.recordsReplayed !== built.recordsExpected || reopened.lsn !== built.recordsExpected) {
      throw new Error(
        `bench self-check failed: open() replayed ${report.wal.recordsReplayed} records up to LSN ${reopened.lsn}, expected ` +
          `${built.recordsExpected} (a snapshot, if open() started from one, would explain fewer)`,
      );
    }
    built.verify(reopened);
    return { openMs, replayMs: report.wal.replayMs, recordsReplayed: report.wal.recordsReplayed };
  } finally {
    await reopened.close();
  }
}

export async function measureReplay(plan: Plan): Promise<Replay> {
  const built = await buildReplayDirectory(plan);
  try {
    const { bytes: walBytes, files: segmentCount } = walSize(built.dir);
    const openMs: number[] = [];
    const replayMs: number[] = [];
    let recordsReplayed = 0;
    for (let i = 0; i < plan.replay.opens; i++) {
      const opened = await openReplayDirectory(plan, built);
      openMs.push(opened.openMs);
      replayMs.push(opened.replayMs);
      recordsReplayed = opened.recordsReplayed;
    }
    const openMsMedian = median(openMs);
    return {
      status: 'ok',
      commits: built.commits,
      setupRecords: built.setupRecords,
      walBytes,
      segmentCount,
      buildMs: built.buildMs,
      opens: plan.replay.opens,
      recordsReplayed,
      openMsMedian,
      openMsMin: Math.min(...openMs),
      openMsMax: Math.max(...openMs),
      replayMsMedian: median(replayMs),
      commitsPerSecond: recordsReplayed / (openMsMedian / 1e3),
    };
  } finally {
    built.remove();
  }
}

/** Total size (and count) of the files in `<dir>/wal/`. */
function walSize(dir: string): { bytes: number; files: number } {
  const walDir = join(dir, WAL_DIR_NAME);
  let bytes = 0;
  let files = 0;
  for (const name of readdirSync(walDir)) {
    const stat = statSync(join(walDir, name));
    if (!stat.isFile()) continue;
    bytes += stat.size;
    files++;
  }
  return { bytes, files };
}
