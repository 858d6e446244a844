/**
 * `ecsdb restore --from <snapshot>` / `--lsn <n>`: puts the directory back to the state it had
 * at one LSN T, so that the next `open()` sees exactly the commits 1..T. `--from` names a
 * published snapshot; its state is that at its end LSN (T = E: the image plus the WAL replayed
 * from S+1 through E). `--lsn` picks the newest loadable snapshot with E <= T (or the WAL from
 * LSN 1) as the base.
 *
 * Everything is checked before anything changes (the base loads; the WAL from the base's start
 * through T is present and clean). Then, under the directory lock, in an order where every
 * interruption leaves a directory that opens to a committed state, and every removed byte is
 * kept in `<dir>/restore/<time>/` (delete it once satisfied):
 *   1. the MANIFEST is replaced atomically, naming only snapshots with E <= T;
 *   2. every file of every WAL segment after the one holding T + 1 (live, archived, and stale
 *      copies) is moved aside, newest first;
 *   3. the segment holding T + 1 is cut there: a live one after its tail is copied aside; an
 *      archived one is rewritten as a live segment holding its prefix (which recovery reads
 *      instead); then every archived copy of it is moved aside;
 *   4. snapshot files newer than T are moved aside (named by the old MANIFEST or not).
 * Each move is a rename followed by fsyncs of both directories. A crash or a second Ctrl-C
 * inside any step, or a first Ctrl-C between two (interrupt.ts), leaves a directory that opens
 * to the state at some LSN between T and the old end of the log (exactly T once step 3 is
 * done); running the same restore again finishes it, with the same result as an uninterrupted
 * run (the removed files of both runs are kept, each run in its own `restore/<time>/`).
 */
import { join } from 'node:path';
import { EcsdbError } from '../errors.js';
import { moveFile } from '../storage/atomic-file.js';
import { fileStorage } from '../db/open-persistent.js';
import { readManifest, writeManifest, type SnapshotEntry } from '../snapshot/manifest.js';
import { SNAPSHOT_DIR_NAME, parseSnapshotFileName } from '../snapshot/format.js';
import { loadSnapshot } from '../snapshot/snapshot-reader.js';
import { schemaAt } from '../meta/meta-file.js';
import { acquireDirectoryLock } from '../storage/dir-lock.js';
import { replaceFileDurably } from '../storage/atomic-file.js';
import { ARCHIVE_DIR_NAME, listAllSegments, readSegmentBytes, type SegmentLocation } from '../wal/archive.js';
import { SEGMENT_HEADER_SIZE_BYTES, checkRecordAt, isUnusedSpaceAt, decodeSegmentHeader, lsnAfterRecord, recordKindProblem, recordLsnAt } from '../wal/format.js';
import { World } from '../world/world.js';
import { WAL_DIR_NAME, componentsOf, finishKeyRotation, indexOfSegmentHolding, listSegmentFiles, requireMeta, type CommonOptions } from './common.js';
import { beforeStep } from './interrupt.js';
import { NO_PROGRESS, type Progress } from './progress.js';
import { readChain } from './validate.js';

export const RESTORE_DIR_NAME = 'restore';

export interface RestoreResult {
  readonly dir: string;
  /** The LSN the directory now ends at. */
  readonly lsn: number;
  /** The snapshot recovery will start from (undefined: the WAL from LSN 1). */
  readonly snapshot: string | undefined;
  /** Where the removed files and bytes were moved, relative to the directory (undefined: nothing removed). */
  readonly keptIn: string | undefined;
  readonly movedAside: readonly string[];
}

function fail(message: string): never {
  throw new EcsdbError('INVALID_ARGUMENT', message);
}

export async function restoreDirectory(
  dir: string,
  target: { from?: string; lsn?: number },
  nowMs: number = Date.now(),
  progress: Progress = NO_PROGRESS,
  options: CommonOptions = {},
): Promise<RestoreResult> {
  const storage = fileStorage;
  await requireMeta(dir, options); // before the lock: a wrong key gets no LOCK file
  const lock = await acquireDirectoryLock(storage, dir);
  try {
    await finishKeyRotation(dir);
    const meta = await requireMeta(dir, options);
    const entries = (await readManifest(storage, dir))?.snapshots ?? [];
      const loads = async (entry: SnapshotEntry) => {
      try {
        loadSnapshot(new World(componentsOf(schemaAt(meta, entry.endLsn))), await readChain(dir, entries, entry), meta.databaseId, schemaAt(meta, entry.endLsn), meta.cipher);
        return true;
      } catch (error) {
        if (target.from !== undefined) throw error;
        return false;
      }
    };
    let base: SnapshotEntry | undefined;
    let lsn: number;
    if (target.from !== undefined) {
      const name = target.from.slice(target.from.lastIndexOf('/') + 1);
      base = entries.find((e) => e.file === name);
      if (base === undefined) fail(`snapshot ${name} is not named by the MANIFEST; published: ${entries.map((e) => e.file).join(', ') || 'none'}`);
      await loads(base);
      lsn = base.endLsn;
    } else {
      lsn = target.lsn!;
      for (const entry of [...entries].filter((e) => e.endLsn <= lsn).sort((a, b) => b.endLsn - a.endLsn)) {
        if (await loads(entry)) {
          base = entry;
          break;
        }
      }
    }

    // The WAL from the base's start through the target must be present and clean.
    const walDir = join(dir, WAL_DIR_NAME);
    const archiveDir = join(dir, ARCHIVE_DIR_NAME);
    const all = await listAllSegments(storage, walDir, archiveDir);
    const fromLsn = base === undefined ? 1 : base.startLsn + 1;
    const segments = all.slice(indexOfSegmentHolding(all, fromLsn));
    if (segments.length === 0 || segments[0].firstLsn > fromLsn) fail(`the WAL needed from LSN ${fromLsn} is missing; cannot restore to LSN ${lsn}`);
    let cut: { index: number; offset: number; bytes: Uint8Array } | undefined;
    let lastRead: Uint8Array | undefined;
    let expected = segments[0].firstLsn;
    const bar = progress('checking WAL', segments.length);
    for (let index = 0; index < segments.length && cut === undefined; index++) {
      bar.tick(index);
      const segment = segments[index];
      if (segment.firstLsn !== expected) fail(`WAL records ${expected}..${segment.firstLsn - 1} are missing; cannot restore to LSN ${lsn}`);
      if (segment.firstLsn === lsn + 1) {
        cut = { index, offset: 0, bytes: new Uint8Array(0) };
        break;
      }
      const bytes = await readSegmentBytes(storage, segment, meta.cipher);
      lastRead = bytes;
      if (typeof decodeSegmentHeader(bytes) === 'string') fail(`WAL segment ${segment.name} has a damaged header; cannot restore to LSN ${lsn}`);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      let offset = SEGMENT_HEADER_SIZE_BYTES;
      // The log may end in preallocated zeros (segment-reader.ts): only the last live segment.
      const mayEndInZeros = index === segments.length - 1 && !segment.archived;
      while (offset < bytes.length) {
        const end = checkRecordAt(bytes, view, offset);
        if (mayEndInZeros && isUnusedSpaceAt(bytes, offset, end)) break;
        if (expected === lsn + 1) {
          cut = { index, offset, bytes };
          break;
        }
        if (typeof end === 'string' || recordLsnAt(view, offset) !== expected || recordKindProblem(bytes, view, offset) !== undefined) {
          fail(`WAL segment ${segment.name} is damaged at byte offset ${offset} (record ${expected}), before LSN ${lsn}; run ecsdb repair first or restore an earlier state`);
        }
        // A time record carries the LSN of the write set after it; the cut above goes before it.
        expected = lsnAfterRecord(bytes, offset, expected);
        offset = end;
      }
    }
    if (cut === undefined && expected - 1 < lsn) fail(`the WAL ends at LSN ${expected - 1}; cannot restore to LSN ${lsn}`);

    // Nothing below runs unless everything above checked out.
    bar.end();
    // The segment holding T + 1 (cut there), or, when the log ends exactly at T, the last one
    // (nothing to cut in it; only stale copies of it go).
    const holder = cut ?? { index: segments.length - 1, offset: lastRead!.length, bytes: lastRead! };
    const { keptIn, movedAside } = await removeFuture(dir, lsn, entries, segments[holder.index], holder, nowMs);
    return { dir, lsn, snapshot: base?.file, keptIn, movedAside };
  } finally {
    await lock.release();
  }
}

/**
 * Steps 1–4 of the header, after every check passed: moves the state after LSN `lsn` aside.
 * `held` is the segment holding lsn + 1 (or the last one when the log ends at lsn), `holder.offset`
 * where lsn + 1 starts in its bytes.
 */
async function removeFuture(
  dir: string,
  lsn: number,
  entries: readonly SnapshotEntry[],
  held: SegmentLocation,
  holder: { offset: number; bytes: Uint8Array },
  nowMs: number,
): Promise<{ keptIn: string | undefined; movedAside: string[] }> {
  const storage = fileStorage;
  const walDir = join(dir, WAL_DIR_NAME);
  const files = await listSegmentFiles(dir);
  const dropped = entries.filter((e) => e.endLsn > lsn);
  const keptIn = `${RESTORE_DIR_NAME}/${nowMs}`;
  const sideDir = join(dir, keptIn);
  const movedAside: string[] = [];
  let sideMade = false;
  const side = async () => {
    if (sideMade) return;
    await storage.mkdir(sideDir);
    await storage.syncDirectory(join(dir, RESTORE_DIR_NAME));
    await storage.syncDirectory(dir);
    sideMade = true;
  };
  // A crash before the fsyncs leaves the file under one name, the other, or both (moveFile drops
  // a source name left beside the moved one).
  const moveAside = async (file: { path: string; parent: string; relative: string }) => {
    await beforeStep(`move ${file.relative} to ${keptIn}/`);
    await side();
    await moveFile(storage, file.path, join(sideDir, file.relative.replace('/', '_')));
    await storage.syncDirectory(sideDir);
    await storage.syncDirectory(file.parent);
    movedAside.push(file.relative);
  };
  // 1. the MANIFEST names only what the restored state has (atomic: old or new, both whole).
  if (dropped.length > 0) {
    await beforeStep(`replace the MANIFEST to name only snapshots through LSN ${lsn}`);
    await writeManifest(storage, dir, { snapshots: entries.filter((e) => e.endLsn <= lsn) });
  }
  // 2. every copy of every later segment aside, newest first: the log stays a prefix of itself.
  for (const file of files.filter((f) => f.firstLsn > held.firstLsn)) await moveAside(file);
  // 3. the segment holding T + 1.
  const heldCopies = files.filter((f) => f.firstLsn === held.firstLsn);
  if (holder.offset === 0) {
    // It starts at T + 1: all of it goes, the copy recovery reads last.
    for (const file of heldCopies.filter((f) => f.path !== held.path)) await moveAside(file);
    await moveAside(heldCopies.find((f) => f.path === held.path)!);
  } else {
    const tail = holder.offset < holder.bytes.length;
    if (tail && held.archived) {
      await beforeStep(`write wal/${held.name} holding its records through LSN ${lsn}`);
      // Atomic (temp → fsync → rename → fsync): a crash leaves no live copy, or the whole
      // prefix, which recovery then reads instead of the archived original.
      await replaceFileDurably(storage, walDir, held.name, holder.bytes.subarray(0, holder.offset));
    } else if (tail) {
      await beforeStep(`copy wal/${held.name} from byte offset ${holder.offset} to ${keptIn}/`);
      await side();
      await replaceFileDurably(storage, sideDir, `${held.name}.${holder.offset}.cut`, holder.bytes.subarray(holder.offset));
      movedAside.push(`wal/${held.name} from byte offset ${holder.offset}`);
      await beforeStep(`truncate wal/${held.name} at byte offset ${holder.offset}`);
      // The tail is durable aside: a crash leaves the segment whole or cut at T.
      const file = await storage.open(held.path, 'readwrite');
      try {
        await file.truncate(holder.offset);
        await file.sync();
      } finally {
        await file.close();
      }
    }
    // The live copy now ends at T; an archived copy of the same segment holds records past T
    // (the original of a rewritten one, kept by an interrupted earlier restore, or one an
    // interrupted archival left). Left in place, it could be read once the live copy is
    // archived again, with another copy of those LSNs.
    if (tail || !held.archived) {
      for (const file of heldCopies.filter((f) => f.archived)) await moveAside(file);
    }
  }
  // 4. snapshot files of the discarded future (newer than T), named by the old MANIFEST or
  //    left unnamed by an interrupted earlier restore.
  const snapshotsDir = join(dir, SNAPSHOT_DIR_NAME);
  if ((await storage.stat(snapshotsDir)) !== undefined) {
    for (const name of (await storage.list(snapshotsDir)).sort().reverse()) {
      const endLsn = parseSnapshotFileName(name);
      if (endLsn !== undefined && endLsn > lsn) await moveAside({ path: join(snapshotsDir, name), parent: snapshotsDir, relative: `${SNAPSHOT_DIR_NAME}/${name}` });
    }
  }
  return { keptIn: sideMade ? keptIn : undefined, movedAside };
}

export function formatRestore(result: RestoreResult): string {
  return `${[
    `restored ${result.dir} to LSN ${result.lsn}${result.snapshot === undefined ? ' (from the WAL)' : ` (from snapshot ${result.snapshot})`}`,
    ...result.movedAside.map((m) => `  moved aside: ${m}`),
    result.keptIn === undefined ? 'nothing was removed' : `removed files and bytes are kept in ${result.keptIn}`,
  ].join('\n')}\n`;
}
