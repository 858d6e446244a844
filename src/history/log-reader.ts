/**
 * Reading the retained WAL (archive and live segments) for views of the past: replaying a range
 * of commits into a world, and finding the commit time of an LSN or the LSN of a time.
 *
 * Unlike recovery this never changes a file: a torn tail is not cut, and nothing after the last
 * LSN asked for is looked at, so it can read a directory that a writer (in this process or
 * another) keeps appending to, rotating and archiving. A segment that vanishes between listing
 * and reading (archived or pruned meanwhile) is CORRUPT_WAL with detail VANISHED: the caller
 * lists again.
 */
import { EcsdbError } from '../errors.js';
import type { Storage } from '../storage/storage.js';
import { RecordApplier, type SchemaChange } from '../recovery/recover-wal.js';
import { listAllSegments, readSegmentBytes, segmentFile, type SegmentLocation } from '../wal/archive.js';
import { scanLiveSegment, type TimeHandler } from '../wal/segment-reader.js';
import type { World } from '../world/world.js';
import type { DataCipher } from '../crypto/cipher.js';

export interface LogDirs {
  readonly walDir: string;
  readonly archiveDir: string;
  /** The cipher of an encrypted database (its records are sealed); undefined in the clear. */
  readonly cipher?: DataCipher;
}

/** What one pass over the retained log found. */
export interface LogRange {
  /** First LSN the retained log holds (its oldest segment's first LSN); 1 when it is empty. */
  readonly firstLsn: number;
  /** The last LSN read: the target, or the end of the log when it ends before. */
  readonly lastLsn: number;
  /** The recorded commit time of `lastLsn` (undefined for LSN 0 or when no time was read). */
  readonly timeMs: number | undefined;
}

/** The `detail` of a segment that was listed but gone when read: list again. */
export const VANISHED = 'wal-vanished';

function gap(message: string): EcsdbError {
  return new EcsdbError('CORRUPT_WAL', message, { detail: 'wal-gap' });
}

async function readSegment(storage: Storage, segment: SegmentLocation, cipher: DataCipher | undefined): Promise<Uint8Array> {
  try {
    return await readSegmentBytes(storage, segment, cipher);
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'ENOENT') throw error;
    const file = segmentFile(segment);
    throw new EcsdbError('CORRUPT_WAL', `WAL segment ${file} disappeared while it was being read (archived or pruned meanwhile)`, { detail: VANISHED, file });
  }
}

/**
 * Walks the log from the segment holding `fromLsn` through `throughLsn` (or its end), calling
 * `onRecord` for each write set from `fromLsn` on and `onTime` for every time record on the way.
 * A gap before `throughLsn` is `wal-gap`; damage before it is CORRUPT_WAL.
 */
export async function walkLog(
  storage: Storage,
  dirs: LogDirs,
  databaseId: Uint8Array,
  range: { fromLsn: number; throughLsn: number },
  onRecord: (lsn: number, bytes: Uint8Array, payloadStart: number, payloadEnd: number, file: string) => void,
  onTime?: TimeHandler,
  done?: () => boolean,
): Promise<LogRange> {
  const all = await listAllSegments(storage, dirs.walDir, dirs.archiveDir);
  let startIndex = 0;
  while (startIndex + 1 < all.length && all[startIndex + 1].firstLsn <= range.fromLsn) startIndex++;
  const segments = all.slice(startIndex);
  const firstLsn = all.length > 0 ? all[0].firstLsn : 1;
  if (segments.length > 0 && segments[0].firstLsn > range.fromLsn) {
    throw gap(`the WAL needed from LSN ${range.fromLsn} is no longer retained (the oldest segment starts at LSN ${segments[0].firstLsn})`);
  }
  let lastLsn = range.fromLsn - 1;
  let timeMs: number | undefined;
  for (let i = 0; i < segments.length && lastLsn < range.throughLsn && done?.() !== true; i++) {
    const segment = segments[i];
    if (i > 0 && segment.firstLsn !== lastLsn + 1) throw gap(`WAL records ${lastLsn + 1}..${segment.firstLsn - 1} are missing (before segment ${segment.name})`);
    const file = segmentFile(segment);
    const context = {
      name: file,
      firstLsn: segment.firstLsn,
      databaseId,
      isLast: i === segments.length - 1 && !segment.archived,
      stopAfterLsn: range.throughLsn,
    };
    // Views of the past run beside the database: its last segment may be written meanwhile.
    const { scan } = await scanLiveSegment(
      () => readSegment(storage, segment, dirs.cipher),
      context,
      (bytes, lsn, payloadStart, payloadEnd) => {
        if (lsn >= range.fromLsn) onRecord(lsn, bytes, payloadStart, payloadEnd, file);
      },
      (lsn, time) => {
        timeMs = time;
        onTime?.(lsn, time);
      },
    );
    lastLsn = scan.lastLsn;
  }
  if (segments.length === 0 && range.fromLsn > 1) throw gap(`the WAL needed from LSN ${range.fromLsn} is no longer retained (no segments)`);
  return { firstLsn, lastLsn, timeMs: lastLsn === 0 ? undefined : timeMs };
}

/** Replays the write sets `fromLsn`..`throughLsn` into `world` (straight to its primitives). */
export async function replayLog(
  storage: Storage,
  dirs: LogDirs,
  databaseId: Uint8Array,
  worldGiven: World,
  range: { fromLsn: number; throughLsn: number },
  schemaChanges: readonly SchemaChange[] = [],
): Promise<LogRange & { readonly world: World }> {
  const applier = new RecordApplier(worldGiven, schemaChanges, dirs.cipher);
  const walked = await walkLog(storage, dirs, databaseId, range, (lsn, bytes, payloadStart, payloadEnd, file) => applier.apply(lsn, bytes, payloadStart, payloadEnd, file));
  return { ...walked, world: applier.world };
}

/**
 * The recorded commit time of `lsn`, read from the segment that holds it; undefined when that
 * segment is no longer retained (a view built from a snapshot that ends exactly there).
 */
export async function timeOfLsn(storage: Storage, dirs: LogDirs, databaseId: Uint8Array, lsn: number): Promise<number | undefined> {
  try {
    return (await walkLog(storage, dirs, databaseId, { fromLsn: lsn, throughLsn: lsn }, () => undefined)).timeMs;
  } catch (error) {
    if (error instanceof EcsdbError && (error.detail === 'wal-gap' || error.detail === VANISHED)) return undefined;
    throw error;
  }
}

/**
 * The last LSN whose recorded commit time is at or before `timeMs`, from the time records of the
 * retained log: the LSN just before the first time record later than `timeMs`, or the end of the
 * log. 0 (the empty world) when the log still starts at LSN 1 and its first commit is later.
 * Reads segments only until it finds a later time.
 */
export async function lsnAtTime(storage: Storage, dirs: LogDirs, databaseId: Uint8Array, timeMs: number): Promise<number> {
  let found: number | undefined;
  let first: { lsn: number; timeMs: number } | undefined;
  const all = await listAllSegments(storage, dirs.walDir, dirs.archiveDir);
  const fromLsn = all.length > 0 ? all[0].firstLsn : 1;
  const onTime = (lsn: number, time: number) => {
    first ??= { lsn, timeMs: time };
    if (found === undefined && time > timeMs) found = lsn - 1;
  };
  const walked = await walkLog(storage, dirs, databaseId, { fromLsn, throughLsn: Number.MAX_SAFE_INTEGER }, () => undefined, onTime, () => found !== undefined);
  const lsn = found ?? walked.lastLsn;
  // Commits before the oldest retained one have no known time: only the empty world before
  // LSN 1 is known to precede every commit.
  if (lsn < fromLsn && fromLsn > 1) {
    const oldest = first === undefined ? '' : ` (LSN ${first.lsn} at ${new Date(first.timeMs).toISOString()})`;
    throw new EcsdbError(
      'OUT_OF_RETENTION',
      `no retained commit was made at or before ${new Date(timeMs).toISOString()}: the oldest retained commit is later${oldest}; retain more archived WAL (archive.segmentCountMax, archive.sizeBytesMax) to look further back`,
    );
  }
  return lsn;
}
