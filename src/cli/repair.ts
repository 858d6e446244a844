/**
 * `ecsdb repair`: cuts a damaged live WAL at its first bad record, keeping every cut byte.
 *
 * Under the directory lock (refused with DB_LOCKED while the database is open anywhere):
 *   1. find the first bad spot in the live segments, in LSN order: a damaged header, a record
 *      that fails its checks, an LSN out of sequence, or a gap between segments;
 *   2. copy the bytes from there to the segment's end to `<dir>/repair/<segment>.<offset>.cut`
 *      (temp → fsync → rename → directory fsync);
 *   3. move every later segment aside to `<dir>/repair/<segment>.0.cut` (rename, then fsync of
 *      both directories);
 *   4. only then truncate the damaged segment (fsync), or move it aside whole when not even its
 *      header survives.
 * An interruption at any step leaves every byte either in place or in `repair/`; running repair
 * again finishes the job (its side file is rewritten with the same bytes). A Ctrl-C stops it
 * between two steps (interrupt.ts).
 */
import { join } from 'node:path';
import { fileStorage } from '../db/open-persistent.js';
import { acquireDirectoryLock } from '../storage/dir-lock.js';
import { moveFile, replaceFileDurably } from '../storage/atomic-file.js';
import { ARCHIVE_DIR_NAME, listAllSegments, readSegmentBytes, segmentFile } from '../wal/archive.js';
import {
  SEGMENT_HEADER_SIZE_BYTES,
  WAL_FORMAT_VERSION,
  checkRecordAt,
  isUnusedSpaceAt,
  decodeSegmentHeader,
  lsnAfterRecord,
  recordKindProblem,
  recordLsnAt,
} from '../wal/format.js';
import { EcsdbError } from '../errors.js';
import type { Storage } from '../storage/storage.js';
import { WAL_DIR_NAME, finishKeyRotation, indexOfSegmentHolding, requireMeta, type CommonOptions } from './common.js';
import { beforeStep } from './interrupt.js';
import { NO_PROGRESS, type Progress } from './progress.js';
import { newestLoadableSnapshot } from './validate.js';

export const REPAIR_DIR_NAME = 'repair';

export interface Cut {
  /** The damaged segment (in wal/). */
  readonly segment: string;
  /** Where it was cut: the first bad byte; the segment keeps the bytes before it. */
  readonly offset: number;
  readonly bytesCut: number;
  readonly reason: string;
  /** Where the cut bytes are kept, relative to the data directory. */
  readonly sideFile: string;
  /** Later segments moved aside whole, and where to. */
  readonly movedSegments: readonly { segment: string; sideFile: string; sizeBytes: number }[];
  /** The last LSN the WAL keeps. */
  readonly lastLsnKept: number;
}

export interface RepairResult {
  readonly dir: string;
  /** The cut where the WAL now ends; undefined when the log needed no such cut. */
  readonly cut: Cut | undefined;
  /**
   * Garbage cut from the end of segments the next segment continues (its first LSN is the one
   * the garbage would have held): no record is lost, later segments stay. Kept aside as well.
   */
  readonly trimmed: readonly Cut[];
}

interface Damage {
  readonly index: number;
  readonly offset: number;
  readonly reason: string;
  readonly lastLsnKept: number;
  /** Bytes after a segment's last record while the next segment starts at the next LSN. */
  readonly garbageOnly: boolean;
}

interface LiveSegment {
  readonly name: string;
  /** Relative to the data directory (EcsdbError.file). */
  readonly file: string;
  readonly firstLsn: number;
  readonly bytes: Uint8Array;
  readonly archived: boolean;
}

/** The first bad spot of the segments recovery reads, or undefined when they are clean. */
function findDamage(
  segments: readonly LiveSegment[],
  databaseId: Uint8Array,
  lastLsnBefore: number | undefined,
): Damage | undefined {
  let previous = lastLsnBefore;
  for (let index = 0; index < segments.length; index++) {
    const { firstLsn, bytes } = segments[index];
    if (previous !== undefined && previous + 1 !== firstLsn) {
      return { index, offset: 0, reason: `starts at LSN ${firstLsn} but the log before it ends at ${previous}`, lastLsnKept: previous, garbageOnly: false };
    }
    const kept = firstLsn - 1;
    const header = decodeSegmentHeader(bytes);
    if (typeof header === 'string') return { index, offset: 0, reason: `segment header is damaged (${header})`, lastLsnKept: kept, garbageOnly: false };
    if (header.formatVersion !== WAL_FORMAT_VERSION || header.firstLsn !== firstLsn || !header.databaseId.every((b, i) => b === databaseId[i])) {
      return { index, offset: 0, reason: 'segment header does not match its name, version or database', lastLsnKept: kept, garbageOnly: false };
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let offset = SEGMENT_HEADER_SIZE_BYTES;
    let expected = firstLsn;
    while (offset < bytes.length) {
      // When the next segment starts at the LSN expected here, whatever follows is not log.
      const garbageOnly = index + 1 < segments.length && segments[index + 1].firstLsn === expected;
      const bad = (reason: string): Damage => ({ index, offset, reason: garbageOnly ? `${reason}, after the segment's last record` : reason, lastLsnKept: expected - 1, garbageOnly });
      const end = checkRecordAt(bytes, view, offset);
      // Preallocated zeros end the last live segment cleanly (segment-reader.ts).
      if (index === segments.length - 1 && !segments[index].archived && isUnusedSpaceAt(bytes, offset, end)) break;
      if (typeof end === 'string') return bad(`record ${expected} is damaged (${end})`);
      const lsn = recordLsnAt(view, offset);
      if (lsn !== expected) return bad(`record has LSN ${lsn} where ${expected} was expected`);
      const kindProblem = recordKindProblem(bytes, view, offset);
      if (kindProblem !== undefined) return bad(`record ${lsn} ${kindProblem}`);
      expected = lsnAfterRecord(bytes, offset, expected);
      offset = end;
    }
    previous = expected - 1;
  }
  return undefined;
}

export async function repairDirectory(dir: string, progress: Progress = NO_PROGRESS, options: CommonOptions = {}): Promise<RepairResult> {
  const storage = fileStorage;
  await requireMeta(dir, options); // before the lock: a directory that is not a database (or a wrong key) gets no LOCK file
  const lock = await acquireDirectoryLock(storage, dir);
  try {
    await finishKeyRotation(dir);
    const meta = await requireMeta(dir, options);
    const walDir = join(dir, WAL_DIR_NAME);
    if ((await storage.stat(walDir)) === undefined) return { dir, cut: undefined, trimmed: [] };
    const all = await listAllSegments(storage, walDir, join(dir, ARCHIVE_DIR_NAME));
    // Only the segments recovery reads matter: from the one holding the first LSN to replay
    // after the snapshot it would load (recovery never reads the ones before).
    const snapshot = await newestLoadableSnapshot(dir, meta);
    const fromLsn = snapshot === undefined ? 1 : snapshot.startLsn + 1;
    const needed = all.slice(indexOfSegmentHolding(all, fromLsn));
    if (needed.length > 0 && needed[0].firstLsn > fromLsn) {
      // Nothing to cut would help: the records before the WAL's first segment are gone, and no
      // snapshot that loads covers them (the snapshots are damaged, or so is ecsdb's MANIFEST).
      throw new EcsdbError(
        'CORRUPT_SNAPSHOT',
        `the WAL starts at LSN ${needed[0].firstLsn} and ${snapshot === undefined ? 'no snapshot loads' : `snapshot ${snapshot.file} needs it from LSN ${fromLsn}`}; repair cuts only the WAL and cannot rebuild the state before it (run \`ecsdb validate\`; restore the damaged snapshot files from a copy); nothing was changed`,
        { file: segmentFile(needed[0]), offset: 0 },
      );
    }
    const live: LiveSegment[] = [];
    const bar = progress('reading WAL', needed.length);
    for (const segment of needed) {
      const bytes = segment.archived ? await readSegmentBytes(storage, segment, meta.cipher) : await storage.readFile(segment.path);
      live.push({ name: segment.name, file: segmentFile(segment), firstLsn: segment.firstLsn, bytes, archived: segment.archived });
      bar.tick(live.length);
    }
    bar.end();
    // Garbage after a segment's last record, with the log going on in the next segment, is
    // trimmed without losing anything; look on for damage that ends the log.
    const garbage: { damage: Damage; bytes: Uint8Array }[] = [];
    let damage = findDamage(live, meta.databaseId, undefined);
    while (damage?.garbageOnly) {
      const segment = live[damage.index];
      refuseArchived(segment, damage);
      garbage.push({ damage, bytes: segment.bytes });
      live[damage.index] = { ...segment, bytes: segment.bytes.subarray(0, damage.offset) };
      damage = findDamage(live, meta.databaseId, undefined);
    }
    // Archived segments precede the live ones, so only the damaged one itself can be archived.
    if (damage !== undefined) refuseArchived(live[damage.index], damage);
    if (damage !== undefined && snapshot !== undefined && damage.lastLsnKept < snapshot.endLsn) {
      throw new EcsdbError(
        'CORRUPT_WAL',
        `the damage (${live[damage.index].name} at byte offset ${damage.offset}: ${damage.reason}) lies in WAL that snapshot ${snapshot.file} needs (through LSN ${snapshot.endLsn}); cutting there would make recovery fall back to an older state, so nothing was changed`,
        { file: live[damage.index].file, offset: damage.offset },
      );
    }

    if (damage === undefined && garbage.length === 0) return { dir, cut: undefined, trimmed: [] };
    const repairDir = join(dir, REPAIR_DIR_NAME);
    let repairDirMade = false;
    const makeRepairDir = async () => {
      if (repairDirMade) return;
      await storage.mkdir(repairDir);
      await storage.syncDirectory(dir);
      repairDirMade = true;
    };
    // Every step below is preceded by beforeStep (a Ctrl-C stops there). A side file is written
    // (temp → fsync → rename → directory fsync; a crash leaves at most a stray temp file, which
    // the rerun replaces) before the bytes it keeps leave the WAL.
    const trimmed: Cut[] = [];
    for (const { damage: trim, bytes } of garbage) {
      const segment = live[trim.index];
      const sideName = `${segment.name}.${trim.offset}.cut`;
      await beforeStep(`copy the garbage after byte offset ${trim.offset} of wal/${segment.name} to ${REPAIR_DIR_NAME}/${sideName}`);
      await makeRepairDir();
      await replaceFileDurably(storage, repairDir, sideName, bytes.subarray(trim.offset));
      await beforeStep(`truncate wal/${segment.name} at byte offset ${trim.offset}`);
      // The garbage is durable aside: a crash leaves the segment whole or trimmed.
      await truncateDurably(storage, join(walDir, segment.name), trim.offset);
      trimmed.push({ segment: segment.name, offset: trim.offset, bytesCut: bytes.length - trim.offset, reason: trim.reason, sideFile: `${REPAIR_DIR_NAME}/${sideName}`, movedSegments: [], lastLsnKept: trim.lastLsnKept });
    }
    if (damage === undefined) return { dir, cut: undefined, trimmed };
    const damaged = live[damage.index];
    // A segment without even a valid header (or an out-of-sequence one) goes aside whole.
    const whole = damage.offset < SEGMENT_HEADER_SIZE_BYTES;
    const sideName = `${damaged.name}.${damage.offset}.cut`;
    if (!whole) {
      await beforeStep(`copy the bytes from offset ${damage.offset} of wal/${damaged.name} to ${REPAIR_DIR_NAME}/${sideName}`);
      await makeRepairDir();
      await replaceFileDurably(storage, repairDir, sideName, damaged.bytes.subarray(damage.offset));
    }
    const moved: { segment: string; sideFile: string; sizeBytes: number }[] = [];
    // Newest first: an interruption leaves the log a prefix of what it was.
    for (let i = live.length - 1; i > damage.index; i--) {
      const later = live[i];
      const name = `${later.name}.0.cut`;
      await beforeStep(`move wal/${later.name} to ${REPAIR_DIR_NAME}/${name}`);
      await makeRepairDir();
      // A crash before the fsyncs leaves the file under one name, the other, or both (a rerun's
      // moveFile then drops the wal/ name, which a plain rename between two links would not).
      await moveFile(storage, join(walDir, later.name), join(repairDir, name));
      await storage.syncDirectory(repairDir);
      await storage.syncDirectory(walDir);
      moved.unshift({ segment: later.name, sideFile: `${REPAIR_DIR_NAME}/${name}`, sizeBytes: later.bytes.length });
    }
    await beforeStep(whole ? `move wal/${damaged.name} to ${REPAIR_DIR_NAME}/${sideName}` : `truncate wal/${damaged.name} at byte offset ${damage.offset}`);
    if (whole) {
      await makeRepairDir();
      await moveFile(storage, join(walDir, damaged.name), join(repairDir, sideName));
      await storage.syncDirectory(repairDir);
      await storage.syncDirectory(walDir);
    } else {
      // Its cut bytes are durable in repair/ already: a crash before the fsync leaves the segment
      // whole or cut, and a rerun finds the same damage or none.
      await truncateDurably(storage, join(walDir, damaged.name), damage.offset);
    }
    return {
      dir,
      trimmed,
      cut: {
        segment: damaged.name,
        offset: damage.offset,
        bytesCut: damaged.bytes.length - damage.offset,
        reason: damage.reason,
        sideFile: `${REPAIR_DIR_NAME}/${sideName}`,
        movedSegments: moved,
        lastLsnKept: damage.lastLsnKept,
      },
    };
  } finally {
    await lock.release();
  }
}

function refuseArchived(segment: LiveSegment, damage: Damage): void {
  if (!segment.archived) return;
  throw new EcsdbError(
    'CORRUPT_WAL',
    `the damage (${segment.name}: ${damage.reason}) is in archived WAL that recovery needs; repair cuts only the live WAL; nothing was changed`,
    { file: segment.file, offset: damage.offset },
  );
}

async function truncateDurably(storage: Storage, path: string, sizeBytes: number): Promise<void> {
  const file = await storage.open(path, 'readwrite');
  try {
    await file.truncate(sizeBytes);
    await file.sync();
  } finally {
    await file.close();
  }
}

export function formatRepair(result: RepairResult): string {
  const cut = result.cut;
  const trims = result.trimmed.map((t) => `trimmed ${t.segment} at byte offset ${t.offset} (${t.reason}; the next segment goes on): ${t.bytesCut} bytes kept in ${t.sideFile}`);
  if (cut === undefined) return trims.length === 0 ? `${result.dir}: the WAL is clean; nothing was cut\n` : `${trims.join('\n')}\n`;
  const lines = [
    ...trims,
    `cut ${cut.segment} at byte offset ${cut.offset}: ${cut.reason}`,
    `  ${cut.bytesCut} bytes kept in ${cut.sideFile}`,
    ...cut.movedSegments.map((m) => `  later segment ${m.segment} (${m.sizeBytes} bytes) moved to ${m.sideFile}`),
    `the WAL now ends at LSN ${cut.lastLsnKept}`,
  ];
  return `${lines.join('\n')}\n`;
}
