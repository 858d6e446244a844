/**
 * Recovery from the WAL: replays every segment in LSN order into a fresh world and finds a torn
 * tail, which the caller cuts (`cutTornTail`) once it has decided to open: reading and checking
 * change nothing on disk, so a directory that fails to open (corruption, a missing segment, a
 * foreign or newer segment, a schema it may not be opened with) is left exactly as it was.
 *
 * Records are replayed in the schema that wrote them: at the first LSN of each later schema
 * epoch the world is converted (plan.schemaChanges, see recovery/migrate.ts), and the world
 * returned is the converted one.
 *
 * Replay applies write sets straight to the world's physical primitives: no observer or
 * subscription fires, and no transaction journal is involved.
 */
import { join } from 'node:path';
import { EcsdbError } from '../errors.js';
import { ByteReader } from '../encoding/bytes.js';
import type { Storage } from '../storage/storage.js';
import { EncodedWriteSetApplier } from '../txn/apply.js';
import { asCorruptWal } from '../txn/write-set.js';
import { parseSegmentFileName } from '../wal/format.js';
import { listAllSegments, readSegmentBytes, segmentFile, type SegmentLocation } from '../wal/archive.js';
import { RECORD_HEADER_SIZE_BYTES, RECORD_KIND_WRITE_SET, recordKindAt } from '../wal/format.js';
import type { DataCipher } from '../crypto/cipher.js';
import { openRecordPayload } from '../crypto/wal-records.js';
import { scanSegment } from '../wal/segment-reader.js';
import type { WalTail } from '../wal/wal-writer.js';
import type { World } from '../world/world.js';

export interface TornTailReport {
  readonly segment: string;
  readonly offset: number;
  readonly bytesCut: number;
  readonly reason: string;
}

export interface WalRecoveryReport {
  readonly segmentCount: number;
  readonly recordsReplayed: number;
  readonly firstLsn: number;
  readonly lastLsn: number;
  readonly tornTail: TornTailReport | undefined;
  readonly replayMs: number;
}

interface SegmentFile {
  readonly name: string;
  readonly firstLsn: number;
}

export async function listSegments(storage: Storage, walDir: string): Promise<SegmentFile[]> {
  const segments: SegmentFile[] = [];
  for (const name of await storage.list(walDir)) {
    const firstLsn = parseSegmentFileName(name);
    if (firstLsn !== undefined) segments.push({ name, firstLsn });
  }
  return segments.sort((a, b) => a.firstLsn - b.firstLsn);
}

/** A conversion of the world before the first record written in a later schema. */
export interface SchemaChange {
  readonly fromLsn: number;
  convert(world: World): World;
}

export interface ReplayPlan {
  readonly walDir: string;
  readonly archiveDir: string;
  /** The first LSN to apply: 1, or a snapshot's start LSN + 1. Earlier records are skipped. */
  readonly fromLsn: number;
  /** The log must reach at least this LSN (a snapshot's end LSN), else recovery fails. */
  readonly throughLsnMin: number;
  /** The database's cipher when it is encrypted: every record must then be sealed. */
  readonly cipher?: DataCipher;
  /** Conversions of the world before the first record of each later schema, ascending. */
  readonly schemaChanges?: readonly SchemaChange[];
}

/** A torn tail to remove before the log is continued. */
export interface TailCut {
  readonly name: string;
  readonly validEnd: number;
  readonly dropFile: boolean;
}

export async function recoverWal(
  storage: Storage,
  plan: ReplayPlan,
  databaseId: Uint8Array,
  worldGiven: World,
  now: () => number,
): Promise<{ report: WalRecoveryReport; tail: WalTail; world: World; cut: TailCut | undefined }> {
  const startedMs = now();
  const applier = new RecordApplier(worldGiven, plan.schemaChanges ?? [], plan.cipher);
  const all = await listAllSegments(storage, plan.walDir, plan.archiveDir);
  // Start with the last segment that begins at or before the first LSN to apply.
  let startIndex = 0;
  while (startIndex + 1 < all.length && all[startIndex + 1].firstLsn <= plan.fromLsn) startIndex++;
  const segments = all.slice(startIndex);
  let expectedLsn = segments.length > 0 ? Math.min(segments[0].firstLsn, plan.fromLsn) : plan.fromLsn;
  if (segments.length > 0 && segments[0].firstLsn > plan.fromLsn) throw missingRecords(segments[0], plan.fromLsn, undefined);
  let recordsReplayed = 0;
  let tornTail: TornTailReport | undefined;
  let tail: WalTail = { lastLsn: plan.fromLsn - 1, segment: undefined };
  let cut: TailCut | undefined;
  let timeMs: number | undefined;
  // Where the log read so far ends, for an error about records missing after it.
  let logEnd = { file: 'wal', offset: 0 };
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    if (segment.firstLsn !== expectedLsn) throw missingRecords(segment, expectedLsn, segments[i - 1], logEnd);
    const bytes = await readSegmentBytes(storage, segment, plan.cipher);
    const isLast = i === segments.length - 1;
    const file = segmentFile(segment);
    const context = { name: file, firstLsn: segment.firstLsn, databaseId, isLast: isLast && !segment.archived };
    const scan = scanSegment(bytes, context, (lsn, payloadStart, payloadEnd) => {
      if (lsn < plan.fromLsn) return;
      applier.apply(lsn, bytes, payloadStart, payloadEnd, file);
      recordsReplayed++;
    });
    timeMs = scan.lastTimeMs ?? timeMs;
    logEnd = { file, offset: scan.validEnd };
    expectedLsn = scan.lastLsn + 1;
    if (scan.tornBytes > 0 || scan.headerTorn) {
      tornTail = { segment: segment.name, offset: scan.validEnd, bytesCut: scan.tornBytes, reason: scan.tornReason ?? 'torn' };
      cut = { name: segment.name, validEnd: scan.validEnd, dropFile: scan.headerTorn };
    }
    const continues = !segment.archived && !scan.headerTorn;
    tail = { lastLsn: scan.lastLsn, segment: continues ? { firstLsn: segment.firstLsn, sizeBytes: scan.validEnd } : undefined, timeMs };
  }
  if (tail.lastLsn < plan.throughLsnMin) {
    throw new EcsdbError(
      'CORRUPT_WAL',
      `the WAL ends at LSN ${tail.lastLsn} (${logEnd.file}, byte offset ${logEnd.offset}) but the snapshot in use needs it through LSN ${plan.throughLsnMin}; records are missing`,
      { detail: 'wal-gap', ...logEnd },
    );
  }
  // Fsyncing changes nothing on disk, so a refused open() (after this) still leaves the directory
  // as it was; the torn tail itself is cut by open() (cutTornTail).
  const liveRead = segments.filter((segment) => !segment.archived && !(cut?.dropFile === true && cut.name === segment.name));
  await syncReplayedSegments(storage, plan.walDir, liveRead);
  const report: WalRecoveryReport = {
    segmentCount: segments.length,
    recordsReplayed,
    firstLsn: segments.length > 0 ? segments[0].firstLsn : 0,
    lastLsn: tail.lastLsn,
    tornTail,
    replayMs: now() - startedMs,
  };
  return { report, tail, world: applier.world, cut };
}

/**
 * Applies WAL write sets to a world in LSN order, as recovery and read-only views of the past
 * (src/history/) both replay: the world is converted before the first record of each later
 * schema (records are written in the schema of their epoch), a plain record is read in place,
 * a sealed one is opened first (and a record of the wrong kind for the database is refused).
 */
export class RecordApplier {
  #world: World;
  #applier: EncodedWriteSetApplier;
  #changeIndex = 0;
  #reader = new ByteReader(new Uint8Array(0));

  constructor(
    world: World,
    private readonly schemaChanges: readonly SchemaChange[],
    private readonly cipher: DataCipher | undefined,
  ) {
    this.#world = world;
    this.#applier = new EncodedWriteSetApplier(world);
  }

  /** The world replayed into: a new one after a schema change. */
  get world(): World {
    return this.#world;
  }

  /** Applies the write set whose payload is `bytes[payloadStart, payloadEnd)` of segment `file`. */
  apply(lsn: number, bytes: Uint8Array, payloadStart: number, payloadEnd: number, file: string): void {
    const changes = this.schemaChanges;
    while (this.#changeIndex < changes.length && lsn >= changes[this.#changeIndex].fromLsn) {
      this.#world = changes[this.#changeIndex++].convert(this.#world);
      this.#applier = new EncodedWriteSetApplier(this.#world);
    }
    let reader: ByteReader;
    if (this.cipher === undefined && recordKindAt(bytes, payloadStart - RECORD_HEADER_SIZE_BYTES) === RECORD_KIND_WRITE_SET) {
      if (this.#reader.bytes !== bytes) this.#reader = new ByteReader(bytes);
      reader = this.#reader;
      reader.offset = payloadStart;
      reader.end = payloadEnd;
    } else {
      reader = new ByteReader(openRecordPayload(bytes, payloadStart, payloadEnd, lsn, this.cipher, file));
    }
    try {
      this.#applier.apply(reader);
    } catch (error) {
      // The checksum matched, so the bytes are as written: a write set this schema cannot read.
      const typed = asCorruptWal(error);
      if (!(typed instanceof EcsdbError)) throw error;
      const offset = payloadStart - RECORD_HEADER_SIZE_BYTES;
      throw new EcsdbError('CORRUPT_WAL', `WAL segment ${file}, record ${lsn} at byte offset ${offset}: ${typed.message}`, { cause: error, file, offset });
    }
  }
}

/**
 * The segment starts after a gap. The location reported is where the log before it ends (the
 * previous segment, cut short or followed by a lost one), else the segment's own start.
 */
function missingRecords(
  segment: SegmentLocation,
  expectedLsn: number,
  previous: SegmentLocation | undefined,
  previousEnd?: { file: string; offset: number },
): EcsdbError {
  const file = segmentFile(segment);
  return new EcsdbError(
    'CORRUPT_WAL',
    `WAL segment ${file} starts at LSN ${segment.firstLsn} but the log before it ends at LSN ${expectedLsn - 1}` +
      (previous === undefined || previousEnd === undefined
        ? ' (the first segment is missing)'
        : ` (segment ${segmentFile(previous)}, at byte offset ${previousEnd.offset}); records ${expectedLsn}..${segment.firstLsn - 1} are missing`) +
      '; nothing was changed on disk',
    { detail: 'wal-gap', ...(previousEnd ?? { file, offset: 0 }) },
  );
}

/**
 * Makes the replayed log durable before anything builds on it. A process that crashed (SIGKILL)
 * may have left records in the page cache that it never fsynced, and a new segment whose name it
 * never made durable (it died between the header's fsync and the directory's): recovery reads
 * them all the same. Without this, the recovered database would report them durable, append to
 * the segment and acknowledge commits there, and a power loss would then take the unsynced
 * records, or the segment's name with every commit in it. (PostgreSQL fsyncs its whole data
 * directory at startup after a crash for the same reason.) A crash during this changes nothing.
 */
async function syncReplayedSegments(storage: Storage, walDir: string, live: readonly { name: string }[]): Promise<void> {
  for (const segment of live) {
    const file = await storage.open(join(walDir, segment.name), 'read');
    try {
      await file.sync();
    } finally {
      await file.close();
    }
  }
  await storage.syncDirectory(walDir);
}

/**
 * Removes a torn tail so that new records follow the last valid one. A crash during this leaves
 * either the old torn tail (cut again at the next open) or the cut file: both recover the same.
 */
export async function cutTornTail(storage: Storage, walDir: string, cut: TailCut): Promise<void> {
  const path = join(walDir, cut.name);
  if (cut.dropFile) {
    await storage.unlink(path);
    await storage.syncDirectory(walDir);
    return;
  }
  const file = await storage.open(path, 'readwrite');
  try {
    await file.truncate(cut.validEnd);
    await file.sync();
  } finally {
    await file.close();
  }
}
