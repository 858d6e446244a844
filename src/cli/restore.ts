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
 *   2. WAL segments after the one holding T + 1 are moved aside, newest first;
 *   3. the segment holding T + 1 is cut there (the tail copied aside first; an archived one is
 *      rewritten as a live segment with its prefix, then the original moved aside);
 *   4. snapshot files newer than T are moved aside.
 * After an interruption in steps 2–3, open() gives a state between T and the old end of the
 * log; running the same restore again finishes it.
 */
import { join } from 'node:path';
import { EcsdbError } from '../errors.js';
import { fileStorage } from '../db/open-persistent.js';
import { readManifest, writeManifest, type SnapshotEntry } from '../snapshot/manifest.js';
import { SNAPSHOT_DIR_NAME } from '../snapshot/format.js';
import { loadSnapshot } from '../snapshot/snapshot-reader.js';
import { acquireDirectoryLock } from '../storage/dir-lock.js';
import { replaceFileDurably } from '../storage/atomic-file.js';
import { ARCHIVE_DIR_NAME, listAllSegments, readSegmentBytes } from '../wal/archive.js';
import { SEGMENT_HEADER_SIZE_BYTES, checkRecordAt, decodeSegmentHeader, recordLsnAt } from '../wal/format.js';
import { World } from '../world/world.js';
import { componentsOf, finishKeyRotation, requireMeta, type CommonOptions } from './common.js';
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

export async function restoreDirectory(dir: string, target: { from?: string; lsn?: number }, nowMs: number = Date.now(), options: CommonOptions = {}): Promise<RestoreResult> {
  const storage = fileStorage;
  await requireMeta(dir, options); // before the lock: a wrong key gets no LOCK file
  const lock = await acquireDirectoryLock(storage, dir);
  try {
    await finishKeyRotation(dir);
    const meta = await requireMeta(dir, options);
    const entries = (await readManifest(storage, dir))?.snapshots ?? [];
    const components = componentsOf(meta.schema);
    const loads = async (entry: SnapshotEntry) => {
      try {
        loadSnapshot(new World(components), await readChain(dir, entries, entry), meta.databaseId, meta.schema, meta.cipher);
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
    const walDir = join(dir, 'wal');
    const archiveDir = join(dir, ARCHIVE_DIR_NAME);
    const all = await listAllSegments(storage, walDir, archiveDir);
    const fromLsn = base === undefined ? 1 : base.startLsn + 1;
    let startIndex = 0;
    while (startIndex + 1 < all.length && all[startIndex + 1].firstLsn <= fromLsn) startIndex++;
    const segments = all.slice(startIndex);
    if (segments.length === 0 || segments[0].firstLsn > fromLsn) fail(`the WAL needed from LSN ${fromLsn} is missing; cannot restore to LSN ${lsn}`);
    let cut: { index: number; offset: number; bytes: Uint8Array } | undefined;
    let expected = segments[0].firstLsn;
    for (let index = 0; index < segments.length && cut === undefined; index++) {
      const segment = segments[index];
      if (segment.firstLsn !== expected) fail(`WAL records ${expected}..${segment.firstLsn - 1} are missing; cannot restore to LSN ${lsn}`);
      if (segment.firstLsn === lsn + 1) {
        cut = { index, offset: 0, bytes: new Uint8Array(0) };
        break;
      }
      const bytes = await readSegmentBytes(storage, segment, meta.cipher);
      if (typeof decodeSegmentHeader(bytes) === 'string') fail(`WAL segment ${segment.name} has a damaged header; cannot restore to LSN ${lsn}`);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      let offset = SEGMENT_HEADER_SIZE_BYTES;
      while (offset < bytes.length) {
        if (expected === lsn + 1) {
          cut = { index, offset, bytes };
          break;
        }
        const end = checkRecordAt(bytes, view, offset);
        if (typeof end === 'string' || recordLsnAt(view, offset) !== expected) {
          fail(`WAL segment ${segment.name} is damaged at byte offset ${offset} (record ${expected}), before LSN ${lsn}; run ecsdb repair first or restore an earlier state`);
        }
        offset = end;
        expected++;
      }
    }
    if (cut === undefined && expected - 1 < lsn) fail(`the WAL ends at LSN ${expected - 1}; cannot restore to LSN ${lsn}`);

    // Nothing below runs unless everything above checked out.
    const keep = entries.filter((e) => e.endLsn <= lsn);
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
    const moveAside = async (from: string, parent: string, relative: string) => {
      await side();
      await storage.rename(from, join(sideDir, relative.replace('/', '_')));
      await storage.syncDirectory(sideDir);
      await storage.syncDirectory(parent);
      movedAside.push(relative);
    };
    // 1. the MANIFEST names only what the restored state has.
    if (dropped.length > 0) await writeManifest(storage, dir, { snapshots: keep });
    if (cut !== undefined) {
      // 2. later segments aside, newest first (the log stays a prefix of itself).
      const later = all.filter((s) => s.firstLsn > segments[cut!.index].firstLsn).reverse();
      for (const segment of later) {
        await moveAside(segment.path, segment.archived ? archiveDir : walDir, `${segment.archived ? ARCHIVE_DIR_NAME : 'wal'}/${segment.path.slice(segment.path.lastIndexOf('/') + 1)}`);
      }
      // 3. the segment holding lsn + 1.
      const segment = segments[cut.index];
      const relative = `${segment.archived ? ARCHIVE_DIR_NAME : 'wal'}/${segment.path.slice(segment.path.lastIndexOf('/') + 1)}`;
      if (cut.offset === 0) {
        await moveAside(segment.path, segment.archived ? archiveDir : walDir, relative);
      } else if (segment.archived) {
        await replaceFileDurably(storage, walDir, segment.name, cut.bytes.subarray(0, cut.offset));
        await moveAside(segment.path, archiveDir, relative);
      } else {
        await side();
        await replaceFileDurably(storage, sideDir, `${segment.name}.${cut.offset}.cut`, cut.bytes.subarray(cut.offset));
        movedAside.push(`wal/${segment.name} from byte offset ${cut.offset}`);
        const file = await storage.open(segment.path, 'readwrite');
        try {
          await file.truncate(cut.offset);
          await file.sync();
        } finally {
          await file.close();
        }
      }
    }
    // 4. snapshot files of the discarded future.
    for (const entry of dropped) {
      const path = join(dir, SNAPSHOT_DIR_NAME, entry.file);
      if ((await storage.stat(path)) !== undefined) await moveAside(path, join(dir, SNAPSHOT_DIR_NAME), `${SNAPSHOT_DIR_NAME}/${entry.file}`);
    }
    return { dir, lsn, snapshot: base?.file, keptIn: sideMade ? keptIn : undefined, movedAside };
  } finally {
    await lock.release();
  }
}

export function formatRestore(result: RestoreResult): string {
  return `${[
    `restored ${result.dir} to LSN ${result.lsn}${result.snapshot === undefined ? ' (from the WAL)' : ` (from snapshot ${result.snapshot})`}`,
    ...result.movedAside.map((m) => `  moved aside: ${m}`),
    result.keptIn === undefined ? 'nothing was removed' : `removed files and bytes are kept in ${result.keptIn}`,
  ].join('\n')}\n`;
}
