/**
 * Reads one WAL segment's bytes: verifies the header, walks the records, and decides what a bad
 * record means.
 *
 * Torn tail versus corruption: a crash can leave the last segment ending in an incomplete or
 * garbled write (the one that was in flight). That is a torn tail: recovery cuts it, because no
 * commit in it was ever acknowledged as durable. A write into preallocated space (below) may
 * reach the disk in any order, so a torn write can also be a bad record followed by valid records
 * of the same write. A bad record anywhere else, in a segment that is not the last, or in the
 * last one with a valid record behind it that starts a later write (format.ts: each write is
 * durable before the next starts), means bytes that were once durable have changed: that is
 * corruption, and recovery stops with CORRUPT_WAL naming segment and offset rather than silently
 * dropping acknowledged commits. (What cannot be told apart: damage within the last write of the
 * log, whose later records, if any, are all of that write. Recovery cuts it like a torn write.)
 *
 * To look for "a valid later write behind it" without trusting the damaged length, the reader
 * tries every later offset for a checksummed record with a plausible LSN that starts a write.
 *
 * Preallocated space: the writer fills the last segment ahead of its records with zeros (see
 * wal-writer.ts), so that a durable write overwrites bytes the file already has instead of
 * growing it. In the last segment, zeros from a record boundary to the end of the file are
 * that space: the log ends cleanly there (`unusedBytes`), nothing is torn or cut. A segment that
 * is not the last never has any (the writer truncates a segment to its records, durably, before
 * it starts the next one), so zeros there are damage like any other bytes that are not a record.
 */
import { EcsdbError } from '../errors.js';
import { isZeroFrom } from '../encoding/bytes.js';
import {
  RECORD_KIND_TIME,
  SEGMENT_HEADER_SIZE_BYTES,
  WAL_FORMAT_VERSION,
  RECORD_HEADER_SIZE_BYTES,
  checkRecordAt,
  decodeSegmentHeader,
  isKnownRecordKind,
  isUnusedSpaceAt,
  lsnAfterRecord,
  recordKindAt,
  recordKindProblem,
  recordLsnAt,
  recordStartsWrite,
  recordTimeMsAt,
} from './format.js';

/**
 * Called for each valid record, in order: its payload is `bytes[payloadStart, payloadEnd)` of
 * the segment bytes given to scanSegment. No object is made per record.
 */
export type RecordHandler = (lsn: number, payloadStart: number, payloadEnd: number) => void;

/** Called for each time record: the commit time (ms) of write set `lsn` and those after it. */
export type TimeHandler = (lsn: number, timeMs: number) => void;

export interface SegmentScan {
  /** LSN of the last valid record, or firstLsn - 1 when there is none. */
  readonly lastLsn: number;
  /** Offset just past the last valid record (the header size when there is none). */
  readonly validEnd: number;
  /** Bytes after validEnd that form a torn tail (0 when the segment ends cleanly). */
  readonly tornBytes: number;
  /** Zero bytes after validEnd: space the writer preallocated and has not reached (last segment only). */
  readonly unusedBytes: number;
  /** Why the tail is torn, for the recovery report. */
  readonly tornReason: string | undefined;
  /** True when even the header is torn: the whole file is to be dropped. */
  readonly headerTorn: boolean;
  /** The time of the last time record read (undefined when there was none). */
  readonly lastTimeMs: number | undefined;
}

export interface SegmentContext {
  /** The file relative to the data directory (e.g. `wal/<name>`), for messages and EcsdbError.file. */
  readonly name: string;
  readonly firstLsn: number;
  readonly databaseId: Uint8Array;
  /** Only the last segment may end in a torn tail. */
  readonly isLast: boolean;
  /**
   * Stop after the write set with this LSN, without looking further (a read-only view of the
   * past reads no more than it needs, and a writer may be appending behind it).
   */
  readonly stopAfterLsn?: number;
}

export function scanSegment(bytes: Uint8Array, context: SegmentContext, onRecord: RecordHandler, onTime?: TimeHandler): SegmentScan {
  const header = decodeSegmentHeader(bytes);
  if (typeof header === 'string') {
    // A short header in the last segment is a crash during its creation: the segment holds no
    // acknowledged commit (records are acknowledged only after the header is durable). So is a
    // bad header followed by nothing but zeros: the creation's zero writes reached the disk and
    // its header write did not, or only in part.
    if (context.isLast && (header === 'short' || isZeroFrom(bytes, SEGMENT_HEADER_SIZE_BYTES))) {
      return { lastLsn: context.firstLsn - 1, validEnd: 0, tornBytes: bytes.length, unusedBytes: 0, tornReason: `segment header ${header}`, headerTorn: true, lastTimeMs: undefined };
    }
    throw corrupt(context, 0, `segment header is damaged (${header})`);
  }
  if (header.formatVersion !== WAL_FORMAT_VERSION) {
    throw new EcsdbError(
      'FORMAT_VERSION_UNSUPPORTED',
      `WAL segment ${context.name} has format version ${header.formatVersion}; this ecsdb reads version ${WAL_FORMAT_VERSION} (upgrade ecsdb to open this directory)`,
      { file: context.name, offset: 8 },
    );
  }
  if (!sameBytes(header.databaseId, context.databaseId)) {
    throw new EcsdbError(
      'DATABASE_MISMATCH',
      `WAL segment ${context.name} belongs to another database (id ${hex(header.databaseId)}, this directory is ${hex(context.databaseId)}); remove the foreign file`,
      { file: context.name, offset: 12 },
    );
  }
  if (header.firstLsn !== context.firstLsn) {
    throw corrupt(context, 28, `header says first LSN ${header.firstLsn} but the file name says ${context.firstLsn}`);
  }
  return scanRecords(bytes, context, onRecord, onTime);
}

function scanRecords(bytes: Uint8Array, context: SegmentContext, onRecord: RecordHandler, onTime: TimeHandler | undefined): SegmentScan {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stopAfterLsn = context.stopAfterLsn ?? Number.MAX_SAFE_INTEGER;
  let offset = SEGMENT_HEADER_SIZE_BYTES;
  let expectedLsn = context.firstLsn;
  let lastTimeMs: number | undefined;
  while (offset < bytes.length && expectedLsn <= stopAfterLsn) {
    const end = checkRecordAt(bytes, view, offset);
    if (typeof end === 'string') {
      if (context.isLast && isUnusedSpaceAt(bytes, offset, end)) {
        return { lastLsn: expectedLsn - 1, validEnd: offset, tornBytes: 0, unusedBytes: bytes.length - offset, tornReason: undefined, headerTorn: false, lastTimeMs };
      }
      if (!context.isLast || hasValidWriteAfter(bytes, view, offset, expectedLsn)) {
        const where = context.isLast ? 'and later writes follow it' : 'in a segment that is not the last';
        throw corrupt(context, offset, `record ${expectedLsn} is damaged (${end}) ${where}`);
      }
      const tornReason = `record ${expectedLsn}: ${end}`;
      return { lastLsn: expectedLsn - 1, validEnd: offset, tornBytes: bytes.length - offset, unusedBytes: 0, tornReason, headerTorn: false, lastTimeMs };
    }
    const lsn = recordLsnAt(view, offset);
    if (lsn !== expectedLsn) {
      throw corrupt(context, offset, `record has LSN ${lsn} where ${expectedLsn} was expected`);
    }
    const kindProblem = recordKindProblem(bytes, view, offset);
    if (kindProblem !== undefined) throw corrupt(context, offset, `record ${lsn} ${kindProblem}`);
    if (recordKindAt(bytes, offset) === RECORD_KIND_TIME) {
      lastTimeMs = recordTimeMsAt(view, offset);
      onTime?.(lsn, lastTimeMs);
    } else {
      onRecord(lsn, offset + RECORD_HEADER_SIZE_BYTES, end);
    }
    expectedLsn = lsnAfterRecord(bytes, offset, lsn);
    offset = end;
  }
  return { lastLsn: expectedLsn - 1, validEnd: offset, tornBytes: 0, unusedBytes: 0, tornReason: undefined, headerTorn: false, lastTimeMs };
}

/** Called for each valid record of the bytes it names (those of the latest read). */
export type LiveRecordHandler = (bytes: Uint8Array, lsn: number, payloadStart: number, payloadEnd: number) => void;

/** Reads of the last live segment before its damage is believed (see scanLiveSegment). */
const LIVE_READS_MAX = 5;
/** The bytes at a damaged offset compared between two reads: did the writer move them? */
const LIVE_DAMAGE_WINDOW_BYTES = 4096;

/**
 * scanSegment for a reader that does not hold the directory's lock (validate, inspect, views of
 * the past), on a segment an open database may be writing into meanwhile. A file read is several
 * reads of the kernel's page cache; with preallocated space the writer overwrites zeros inside
 * the file, so one read can see the start of a write as zeros and, a moment later, the write
 * after it: a damaged record followed by a later write, in a log that is fine. So damage found in
 * the last live segment is believed only once a fresh read shows the same bytes there; while they
 * keep changing the file is read again, up to LIVE_READS_MAX times. Records already handed to
 * `onRecord` are not handed again (the writer never changes a record once written), nor are time
 * records before the last one handed to `onTime`.
 */
export async function scanLiveSegment(
  read: () => Promise<Uint8Array>,
  context: SegmentContext,
  onRecord: LiveRecordHandler,
  onTime?: TimeHandler,
): Promise<{ bytes: Uint8Array; scan: SegmentScan }> {
  let bytes = await read();
  let recordsThrough = 0;
  let timesFrom = 0;
  for (let reads = 1; ; reads++) {
    const current = bytes;
    try {
      const scan = scanSegment(
        current,
        context,
        (lsn, payloadStart, payloadEnd) => {
          if (lsn <= recordsThrough) return;
          recordsThrough = lsn;
          onRecord(current, lsn, payloadStart, payloadEnd);
        },
        onTime === undefined
          ? undefined
          : (lsn, timeMs) => {
              if (lsn < timesFrom) return;
              timesFrom = lsn;
              onTime(lsn, timeMs);
            },
      );
      return { bytes: current, scan };
    } catch (error) {
      if (!context.isLast || reads >= LIVE_READS_MAX || !(error instanceof EcsdbError) || error.code !== 'CORRUPT_WAL' || error.offset === undefined) throw error;
      bytes = await read();
      const end = error.offset + LIVE_DAMAGE_WINDOW_BYTES;
      if (sameRange(bytes, current, error.offset, end)) throw error;
    }
  }
}

function sameRange(a: Uint8Array, b: Uint8Array, start: number, end: number): boolean {
  const aEnd = Math.min(end, a.length);
  if (aEnd !== Math.min(end, b.length)) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.length).subarray(start, aEnd).equals(Buffer.from(b.buffer, b.byteOffset, b.length).subarray(start, aEnd));
}

/**
 * Whether a checksummed record with an LSN at or after `damagedLsn` that starts a write begins
 * anywhere after `offset`: proof that the damaged bytes were durable before that write began,
 * so they are not a torn tail. Every offset is tried (the damaged region may be any length); a
 * candidate must carry the flag, a known kind and a plausible LSN before its checksum is
 * computed, which keeps the scan cheap.
 */
function hasValidWriteAfter(bytes: Uint8Array, view: DataView, offset: number, damagedLsn: number): boolean {
  const lsnMax = damagedLsn + Math.floor((bytes.length - offset) / RECORD_HEADER_SIZE_BYTES);
  for (let start = offset + 1; start + RECORD_HEADER_SIZE_BYTES <= bytes.length; start++) {
    if (!recordStartsWrite(bytes, start) || !isKnownRecordKind(recordKindAt(bytes, start))) continue;
    // The damaged entry may be a time record, followed by the write set with the same LSN.
    const lsn = recordLsnAt(view, start);
    if (lsn < damagedLsn || lsn > lsnMax) continue;
    if (typeof checkRecordAt(bytes, view, start) === 'number') return true;
  }
  return false;
}

function corrupt(context: SegmentContext, offset: number, what: string): EcsdbError {
  return new EcsdbError(
    'CORRUPT_WAL',
    `WAL segment ${context.name} is corrupt at byte offset ${offset}: ${what}. Commits after this point cannot be replayed; nothing was changed on disk (keep a copy of the directory before any repair)`,
    { file: context.name, offset },
  );
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}
