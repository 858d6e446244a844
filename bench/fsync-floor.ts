/**
 * The fsync floor: what one small append made durable costs on this machine's temp directory,
 * with no database involved. A loop appends `appendSizeBytes` to a fresh file in the directory
 * the WAL goes to and calls fdatasync after each append (what the WAL writer's flush does), each
 * pair timed alone. node:fs's synchronous API keeps thread-pool hand-offs out of the figure: it is
 * the physical floor a strict commit, which must wait for one such append, cannot beat.
 *
 * A second loop does the same through node:fs/promises (a FileHandle's write, then datasync, each
 * awaited), which is how ecsdb's FileStorage reaches the disk with `wal.syncMethod = "fdatasync"`:
 * the difference is what two libuv thread-pool round trips add, before any ecsdb code. A third
 * writes to a file opened with O_DSYNC, one awaited write per append, which is how it reaches
 * the disk with the default `"dsync"`: one round trip. A fourth does that into space already
 * written (zeros, made durable first), as ecsdb's WAL writer does into the zeros it preallocates
 * ahead of its records: that is exactly the disk operation of a strict commit made one at a
 * time, before any ecsdb code, so its ratio to the floor is the least such a commit can cost
 * while the fsync stays off the main thread (the spec's design) and the main thread sleeps until
 * it completes (the default; `wal.pollStrictWrites` keeps it polling instead).
 *
 * The disk's latency drifts while other work shares the machine, so the bench samples the floor
 * in passes (before and after the strict figures it is compared with) and pools them.
 */
import { closeSync, constants, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FsyncFloorSettings } from './plan.js';
import { median } from './stats.js';

/** The timings of one pass, in ns per append + fdatasync. */
export interface FsyncFloorPass {
  syncNs: number[];
  asyncNs: number[];
  asyncDsyncNs: number[];
  asyncDsyncOverwriteNs: number[];
}

export interface FsyncFloor {
  status: 'ok';
  appendSizeBytes: number;
  /** Timed appends (each followed by fdatasync), over all passes. */
  appends: number;
  /** Median of all passes' samples; also the extremes and the 90th percentile. */
  medianNs: number;
  /**
   * Mean of all passes' samples: the floor the strict figures are compared with. Every engine's
   * figure is a run's time divided by its operations, a mean that includes the disk's slow
   * appends (p90 ~1.3x the median here, the slowest ~10x), so the floor is taken the same way.
   */
  meanNs: number;
  minNs: number;
  /** 90th percentile: the floor is noisy when other work shares the disk. */
  p90Ns: number;
  maxNs: number;
  /** Appends + fdatasync per second at the mean. */
  perSecond: number;
  /** The median of each pass alone, in order: how far the floor drifted during the run. */
  passMediansNs: number[];
  /** The same through node:fs/promises (write and datasync awaited): median and 90th percentile. */
  asyncMedianNs: number;
  asyncP90Ns: number;
  /** Through node:fs/promises on an O_DSYNC file (one awaited write): median and 90th percentile. */
  asyncDsyncMedianNs: number;
  asyncDsyncP90Ns: number;
  /**
   * The same into preallocated space (zeros already durable), as ecsdb's default WAL writes: the
   * off-main-thread primitive of one strict commit. Median and 90th percentile.
   */
  asyncDsyncOverwriteMedianNs: number;
  asyncDsyncOverwriteP90Ns: number;
  /** Its mean, compared with the floor's mean (the limit of W1 strict: see targets.ts). */
  asyncDsyncOverwriteMeanNs: number;
}

/** One pass: `appends` synchronous appends + fdatasync, then as many through node:fs/promises, both ways. */
export async function sampleFsyncFloor(settings: FsyncFloorSettings): Promise<FsyncFloorPass> {
  const dir = mkdtempSync(join(tmpdir(), 'ecsdb-bench-fsync-'));
  // The same content every time: the figure must not depend on the bytes.
  const chunk = new Uint8Array(settings.appendSizeBytes).fill(0x5a);
  const syncNs: number[] = [];
  try {
    // Positioned writes at the end of the file, as the WAL writer does (pwrite), not 'a'.
    const fd = openSync(join(dir, 'floor.bin'), 'w', 0o600);
    try {
      let position = 0;
      const appendOne = (): number => {
        const start = process.hrtime.bigint();
        writeSync(fd, chunk, 0, chunk.length, position);
        fdatasyncSync(fd);
        const elapsedNs = Number(process.hrtime.bigint() - start);
        position += chunk.length;
        return elapsedNs;
      };
      for (let i = 0; i < settings.warmupAppends; i++) appendOne();
      const deadlineNs = deadlineAfter(settings.durationMsMax);
      while (!enoughSamples(syncNs, settings.appends, deadlineNs)) syncNs.push(appendOne());
    } finally {
      closeSync(fd);
    }
    const asyncNs = await timeAsyncAppends(join(dir, 'floor-async.bin'), 'w', chunk, settings, syncNs.length, async (handle, position) => {
      await handle.write(chunk, 0, chunk.length, position);
      await handle.datasync();
    });
    const dsyncFlags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_DSYNC;
    const asyncDsyncNs = await timeAsyncAppends(join(dir, 'floor-dsync.bin'), dsyncFlags, chunk, settings, syncNs.length, async (handle, position) => {
      await handle.write(chunk, 0, chunk.length, position);
    });
    // Preallocated as the WAL writer does: zeros written and made durable before the timed
    // writes, which then overwrite them in order (no file growth, so no metadata to commit).
    const overwritePath = join(dir, 'floor-dsync-preallocated.bin');
    const preallocatedBytes = (settings.warmupAppends + syncNs.length) * chunk.length;
    const zerosFd = openSync(overwritePath, dsyncFlags, 0o600);
    try {
      writeSync(zerosFd, new Uint8Array(preallocatedBytes), 0, preallocatedBytes, 0);
    } finally {
      closeSync(zerosFd);
    }
    const asyncDsyncOverwriteNs = await timeAsyncAppends(overwritePath, constants.O_WRONLY | constants.O_DSYNC, chunk, settings, syncNs.length, async (handle, position) => {
      await handle.write(chunk, 0, chunk.length, position);
    });
    return { syncNs, asyncNs, asyncDsyncNs, asyncDsyncOverwriteNs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `count` appends through node:fs/promises (after the warm-up ones), each timed alone. */
async function timeAsyncAppends(
  path: string,
  flags: string | number,
  chunk: Uint8Array,
  settings: FsyncFloorSettings,
  count: number,
  appendAt: (handle: FileHandle, position: number) => Promise<void>,
): Promise<number[]> {
  const samples: number[] = [];
  const handle = await open(path, flags, 0o600);
  try {
    let position = 0;
    const appendOne = async (): Promise<number> => {
      const start = process.hrtime.bigint();
      await appendAt(handle, position);
      const elapsedNs = Number(process.hrtime.bigint() - start);
      position += chunk.length;
      return elapsedNs;
    };
    for (let i = 0; i < settings.warmupAppends; i++) await appendOne();
    const deadlineNs = deadlineAfter(settings.durationMsMax);
    while (!enoughSamples(samples, count, deadlineNs)) samples.push(await appendOne());
  } finally {
    await handle.close();
  }
  return samples;
}

function enoughSamples(samples: readonly number[], count: number, deadlineNs: bigint): boolean {
  return samples.length >= count || (samples.length >= 10 && process.hrtime.bigint() >= deadlineNs);
}

/** The floor over every pass's samples. */
export function fsyncFloorOf(settings: FsyncFloorSettings, passes: readonly FsyncFloorPass[]): FsyncFloor {
  if (passes.length === 0) throw new RangeError('the fsync floor needs at least one pass');
  const sorted = passes.flatMap((pass) => pass.syncNs).sort((a, b) => a - b);
  const asyncSorted = passes.flatMap((pass) => pass.asyncNs).sort((a, b) => a - b);
  const asyncDsyncSorted = passes.flatMap((pass) => pass.asyncDsyncNs).sort((a, b) => a - b);
  const overwriteSorted = passes.flatMap((pass) => pass.asyncDsyncOverwriteNs).sort((a, b) => a - b);
  const medianNs = median(sorted);
  const meanNs = mean(sorted);
  return {
    status: 'ok',
    appendSizeBytes: settings.appendSizeBytes,
    appends: sorted.length,
    medianNs,
    meanNs,
    minNs: sorted[0],
    p90Ns: percentile(sorted, 0.9),
    maxNs: sorted[sorted.length - 1],
    perSecond: 1e9 / meanNs,
    passMediansNs: passes.map((pass) => median(pass.syncNs)),
    asyncMedianNs: median(asyncSorted),
    asyncP90Ns: percentile(asyncSorted, 0.9),
    asyncDsyncMedianNs: median(asyncDsyncSorted),
    asyncDsyncP90Ns: percentile(asyncDsyncSorted, 0.9),
    asyncDsyncOverwriteMedianNs: median(overwriteSorted),
    asyncDsyncOverwriteP90Ns: percentile(overwriteSorted, 0.9),
    asyncDsyncOverwriteMeanNs: mean(overwriteSorted),
  };
}

function deadlineAfter(ms: number): bigint {
  return process.hrtime.bigint() + BigInt(ms) * 1_000_000n;
}

function mean(values: readonly number[]): number {
  let sum = 0;
  for (const value of values) sum += value;
  return sum / values.length;
}

function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))];
}
