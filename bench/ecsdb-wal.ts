/**
 * ecsdb's WAL figures, each in a fresh directory (removed afterwards) with automatic snapshots
 * off (these figures are about the WAL alone):
 *
 * - WAL bytes per W1 commit (buffered): the world is created and the database closed, then
 *   reopened for `walBytesCommitCount` W1 commits and closed again; the growth of the wal/ folder
 *   divided by the commits is the marginal cost of one commit on disk (record header + write
 *   set, plus any segment headers and the time record the reopen adds). Sizes are taken closed:
 *   an open database keeps preallocated zeros after its records (docs/wal-format.md), which
 *   close() trims.
 * - W4 replay, in buffered or strict mode: the world is created, then `replay.commitCount` W1
 *   commits are made in chunks of `chunkCommitCount`, and the database closed. Buffered: the
 *   writer flushes in the background between chunks, as in a game loop. Strict: each chunk's
 *   commits are issued together, then the last one's `durable` is awaited, so a chunk shares a few
 *   writes and fsyncs (group commit); awaiting each commit alone would take 1,000,000 fsyncs. Each
 *   timed `open()` of the directory, in the same mode, replays all of it; the figure is the median.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Commit, Database } from '../src/index.js';
import { Position, betweenBatches, openDirectory, pointRunner, populate } from './ecsdb.js';
import type { Mode, Plan } from './plan.js';
import { median, withDeadline } from './stats.js';

/** The WAL folder inside a data directory (docs/wal-format.md). */
const WAL_DIR_NAME = 'wal';

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

/** `buffered` is the bench's buffered mode: W1 commits that end with a flush. */
export async function measureEcsdbWalBytes(plan: Plan, buffered: Mode): Promise<EcsdbWalBytes> {
  const commits = plan.walBytesCommitCount;
  const dir = mkdtempSync(join(tmpdir(), 'ecsdb-bench-wal-'));
  try {
    const created = await openDirectory([Position], buffered, dir);
    let entities;
    try {
      entities = await populate(created, plan);
    } finally {
      await created.close();
    }
    const before = walSize(dir).bytes;
    const db = await openDirectory([Position], buffered, dir);
    try {
      const point = pointRunner(db, entities, plan, 'flush');
      await withDeadline(Promise.resolve(point.run(commits)), plan.measure.runDeadlineMs, `${commits} W1 commits and a flush`);
      point.verify();
    } finally {
      await db.close();
    }
    const walBytesGrowth = walSize(dir).bytes - before;
    return { status: 'ok', commits, walBytesGrowth, bytesPerCommit: walBytesGrowth / commits };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A directory of W1 commits, closed, ready to be reopened (in `mode`); `remove` deletes it. */
export interface ReplayDirectory {
  readonly dir: string;
  readonly mode: Mode;
  readonly commits: number;
  readonly setupRecords: number;
  /** LSN of the last record: what every open must replay. */
  readonly recordsExpected: number;
  readonly buildMs: number;
  /** Checks that a reopened database holds the last commit's write. */
  verify(reopened: Database): void;
  remove(): void;
}

/** Builds W4's directory in `mode`: the world, then `replay.commitCount` W1 commits in chunks, then close. */
export async function buildReplayDirectory(plan: Plan, mode: Mode): Promise<ReplayDirectory> {
  const { commitCount, chunkCommitCount, deadlineMs } = plan.replay;
  const dir = mkdtempSync(join(tmpdir(), 'ecsdb-bench-replay-'));
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    const db = await openDirectory([Position], mode, dir);
    try {
      const entities = await populate(db, plan);
      const setupRecords = db.lsn;
      const point = pointRunner(db, entities, plan, 'none');
      const buildStartNs = process.hrtime.bigint();
      await withDeadline(
        (async () => {
          for (let done = 0; done < commitCount; done += chunkCommitCount) {
            let last: Commit<void> | undefined;
            for (let i = Math.min(chunkCommitCount, commitCount - done); i > 0; i--) last = point.commitOne();
            await betweenBatches(mode, last!);
          }
          await db.close();
        })(),
        deadlineMs,
        `building a WAL of ${commitCount} W1 commits`,
      );
      const buildMs = Number(process.hrtime.bigint() - buildStartNs) / 1e6;
      return { dir, mode, commits: commitCount, setupRecords, recordsExpected: db.lsn, buildMs, verify: (reopened) => point.verify(reopened), remove };
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
  const reopened = await withDeadline(openDirectory([Position], built.mode, built.dir), plan.replay.deadlineMs, 'open() of the W4 directory');
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

export async function measureReplay(plan: Plan, mode: Mode): Promise<Replay> {
  const built = await buildReplayDirectory(plan, mode);
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
