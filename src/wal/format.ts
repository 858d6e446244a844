/**
 * WAL on-disk format, version 4. The writer and the reader import only this module for layout.
 * Mirrored for users in docs/wal-format.md.
 *
 * A WAL is a sequence of segment files in `<dir>/wal/`, each named by the LSN of its first
 * record as 20 decimal digits and `.wal` (e.g. `00000000000000000001.wal`), so that names sort
 * in LSN order. Records never span segments; LSNs increase by exactly one from record to record
 * across segments.
 *
 * Segment header (SEGMENT_HEADER_SIZE_BYTES = 40), little-endian:
 *
 *   offset size field
 *   0      8    magic "ECSDBWAL"
 *   8      2    format version (2)
 *   10     2    flags (0, reserved)
 *   12     16   database id (random at creation; a segment of another database is rejected)
 *   28     8    first LSN (must match the file name)
 *   36     4    CRC-32 (zlib.crc32) of bytes 0..35
 *
 * Record (RECORD_HEADER_SIZE_BYTES = 17 + payload):
 *
 *   offset size field
 *   0      4    payload length in bytes (1 .. RECORD_PAYLOAD_SIZE_BYTES_MAX)
 *   4      4    CRC-32 of bytes 8 .. end of payload (LSN, kind and payload)
 *   8      8    LSN
 *   16     1    kind in the low 7 bits (1 = write set, see src/txn/write-set.ts; 2 = time;
 *               3 = sealed write set, the payload encrypted as src/crypto/format.ts describes);
 *               bit 7 (RECORD_FLAG_STARTS_WRITE) set on the first record of each write
 *   17     n    payload
 *
 * The length is not covered by the checksum: a damaged length shows up as a record whose
 * checksum fails over the span the length claims, or that runs past the end of the file.
 * Telling a torn tail from corruption is the reader's job (see segment-reader.ts).
 *
 * LSNs: a write set's LSN is its commit's, previous write set's + 1 (also across segments). A
 * time record (kind 2, TIME_RECORD_SIZE_BYTES = 25) takes no LSN of its own: it carries the LSN
 * of the write set that follows it, and its payload is a u64 wall-clock time in ms since the
 * epoch: the commit time of that write set and of every later one up to the next time record.
 * The writer adds one in front of a commit whenever the clock (in whole ms) has moved past the
 * last one it wrote, at the start of every segment, and before its first commit after open, and
 * keeps the times non-decreasing (a clock that steps back repeats the last time). So the
 * recorded time of commit L is the largest clock reading at any commit up to L, and each
 * segment can be read for times on its own. Several time records in a row (a torn tail cut
 * after one) are allowed: the last one counts.
 *
 * Version 2 added time records (version 1 had only write sets). A version-1 reader fails on a
 * version-2 segment with FORMAT_VERSION_UNSUPPORTED rather than calling the unknown kind
 * corruption; no version-1 data was ever released, so this reader reads version 2 only.
 *
 * Version 3 changed the write-set payload (write-set format 2: an upsert's slots may be written
 * as runs of consecutive slots, see txn/write-set.ts); the framing is unchanged. A version-2
 * reader would misread such payloads, so the version says it.
 *
 * Version 4 added the starts-a-write flag and preallocated space. The writer writes each batch
 * of records with one write, made durable before the next one starts, and flags the batch's
 * first record. Writes may go into zeros the writer preallocated ahead of its records (see
 * wal-writer.ts), where power loss can leave any part of the write in flight on disk and any
 * other part still zero: unlike an append, whose new length publishes it, such a write has no
 * single point at which it appears. So a damaged record followed by valid records is a torn
 * write when none of those records starts a write (they all belong to the write in flight), and
 * corruption once one does (the write it starts began only after everything before it was
 * durable). Zeros from a record boundary to the end of the last segment are unused space. No
 * version-3 data was released either, so this reader reads version 4 only.
 */
import { crc32 } from 'node:zlib';
import { crc32Range } from '../encoding/crc32.js';
import { isZeroFrom } from '../encoding/bytes.js';

export const WAL_FORMAT_VERSION = 4;
export const SEGMENT_MAGIC = new Uint8Array([0x45, 0x43, 0x53, 0x44, 0x42, 0x57, 0x41, 0x4c]); // "ECSDBWAL"
export const DATABASE_ID_SIZE_BYTES = 16;
export const SEGMENT_HEADER_SIZE_BYTES = 8 + 2 + 2 + DATABASE_ID_SIZE_BYTES + 8 + 4;
export const RECORD_HEADER_SIZE_BYTES = 4 + 4 + 8 + 1;
/** Largest payload a record may claim; a larger length is damage, never an allocation. */
export const RECORD_PAYLOAD_SIZE_BYTES_MAX = 256 * 1024 * 1024;

export const RECORD_KIND_WRITE_SET = 1;
export const RECORD_KIND_TIME = 2;
/** A write set whose payload is sealed (AES-256-GCM, src/crypto/format.ts). */
export const RECORD_KIND_SEALED_WRITE_SET = 3;
/** Set in the kind byte of the first record of each write (version 4). */
export const RECORD_FLAG_STARTS_WRITE = 0x80;
const RECORD_KIND_MASK = 0x7f;
export const TIME_PAYLOAD_SIZE_BYTES = 8;
export const TIME_RECORD_SIZE_BYTES = RECORD_HEADER_SIZE_BYTES + TIME_PAYLOAD_SIZE_BYTES;

export const SEGMENT_SUFFIX = '.wal';
const SEGMENT_NAME_PATTERN = /^(\d{20})\.wal$/;

export function segmentFileName(firstLsn: number): string {
  return `${String(firstLsn).padStart(20, '0')}${SEGMENT_SUFFIX}`;
}

/** The first LSN a segment file name encodes, or undefined for names that are not segments. */
export function parseSegmentFileName(name: string): number | undefined {
  const match = SEGMENT_NAME_PATTERN.exec(name);
  if (match === null) return undefined;
  const lsn = Number(match[1]);
  return Number.isSafeInteger(lsn) && lsn >= 1 ? lsn : undefined;
}

export interface SegmentHeader {
  readonly formatVersion: number;
  readonly databaseId: Uint8Array;
  readonly firstLsn: number;
}

export function encodeSegmentHeader(databaseId: Uint8Array, firstLsn: number): Uint8Array {
  const bytes = new Uint8Array(SEGMENT_HEADER_SIZE_BYTES);
  const view = new DataView(bytes.buffer);
  bytes.set(SEGMENT_MAGIC, 0);
  view.setUint16(8, WAL_FORMAT_VERSION, true);
  view.setUint16(10, 0, true);
  bytes.set(databaseId, 12);
  view.setBigUint64(28, BigInt(firstLsn), true);
  view.setUint32(36, crc32(bytes.subarray(0, 36)), true);
  return bytes;
}

export type HeaderProblem = 'short' | 'magic' | 'checksum';

/** Decodes a segment header; a string names what is wrong with it. */
export function decodeSegmentHeader(bytes: Uint8Array): SegmentHeader | HeaderProblem {
  if (bytes.length < SEGMENT_HEADER_SIZE_BYTES) return 'short';
  for (let i = 0; i < SEGMENT_MAGIC.length; i++) if (bytes[i] !== SEGMENT_MAGIC[i]) return 'magic';
  const view = new DataView(bytes.buffer, bytes.byteOffset, SEGMENT_HEADER_SIZE_BYTES);
  if (view.getUint32(36, true) !== crc32(bytes.subarray(0, 36))) return 'checksum';
  return {
    formatVersion: view.getUint16(8, true),
    databaseId: bytes.slice(12, 12 + DATABASE_ID_SIZE_BYTES),
    firstLsn: Number(view.getBigUint64(28, true)),
  };
}

/**
 * Writes a record header in place in front of a payload that is already at
 * `bytes[offset + RECORD_HEADER_SIZE_BYTES ..]`, so the payload is encoded once and never copied.
 */
export function sealRecord(bytes: Uint8Array, view: DataView, offset: number, lsn: number, kind: number, payloadSizeBytes: number): void {
  view.setUint32(offset, payloadSizeBytes, true);
  view.setUint32(offset + 8, lsn % 0x1_0000_0000, true);
  view.setUint32(offset + 12, Math.floor(lsn / 0x1_0000_0000), true);
  bytes[offset + 16] = kind;
  const end = offset + RECORD_HEADER_SIZE_BYTES + payloadSizeBytes;
  view.setUint32(offset + 4, crc32Range(bytes, offset + 8, end, view), true);
}

/**
 * Writes a whole time record at `offset` (TIME_RECORD_SIZE_BYTES must be free there); `flags`
 * is RECORD_FLAG_STARTS_WRITE or 0.
 */
export function sealTimeRecord(bytes: Uint8Array, view: DataView, offset: number, lsn: number, timeMs: number, flags = 0): void {
  const payload = offset + RECORD_HEADER_SIZE_BYTES;
  view.setUint32(payload, timeMs % 0x1_0000_0000, true);
  view.setUint32(payload + 4, Math.floor(timeMs / 0x1_0000_0000), true);
  sealRecord(bytes, view, offset, lsn, RECORD_KIND_TIME | flags, TIME_PAYLOAD_SIZE_BYTES);
}

export function encodeTimeRecord(lsn: number, timeMs: number, flags = 0): Uint8Array {
  const bytes = new Uint8Array(TIME_RECORD_SIZE_BYTES);
  sealTimeRecord(bytes, new DataView(bytes.buffer), 0, lsn, timeMs, flags);
  return bytes;
}

/** The kind of the record at `offset`, without its flags. */
export function recordKindAt(bytes: Uint8Array, offset: number): number {
  return bytes[offset + 16] & RECORD_KIND_MASK;
}

/** Whether the record at `offset` is the first of a write (checked by checkRecordAt first). */
export function recordStartsWrite(bytes: Uint8Array, offset: number): boolean {
  return (bytes[offset + 16] & RECORD_FLAG_STARTS_WRITE) !== 0;
}

/** The time (ms) a time record at `offset` holds (checked by checkRecordAt and recordKindProblem first). */
export function recordTimeMsAt(view: DataView, offset: number): number {
  const payload = offset + RECORD_HEADER_SIZE_BYTES;
  return view.getUint32(payload, true) + view.getUint32(payload + 4, true) * 0x1_0000_0000;
}

/**
 * What is wrong with the kind or payload size of a record whose checksum matched, or undefined.
 * The bytes are as written, so a problem here is a writer of another kind: corruption, never a
 * torn tail.
 */
export function recordKindProblem(bytes: Uint8Array, view: DataView, offset: number): string | undefined {
  const kind = recordKindAt(bytes, offset);
  if (!isKnownRecordKind(kind)) return `has unknown kind ${kind}`;
  if (kind !== RECORD_KIND_TIME) return undefined;
  const length = view.getUint32(offset, true);
  if (length !== TIME_PAYLOAD_SIZE_BYTES) return `is a time record with a ${length}-byte payload (expected ${TIME_PAYLOAD_SIZE_BYTES})`;
  return recordTimeMsAt(view, offset) > Number.MAX_SAFE_INTEGER ? 'is a time record with an impossible time' : undefined;
}

/** Every record kind this version writes: plain and sealed write sets, time records. */
export function isKnownRecordKind(kind: number): boolean {
  return kind === RECORD_KIND_WRITE_SET || kind === RECORD_KIND_SEALED_WRITE_SET || kind === RECORD_KIND_TIME;
}

/** The LSN the next write set carries after the record at `offset`: time records take none. */
export function lsnAfterRecord(bytes: Uint8Array, offset: number, lsn: number): number {
  return recordKindAt(bytes, offset) === RECORD_KIND_TIME ? lsn : lsn + 1;
}

export function encodeRecord(lsn: number, kind: number, payload: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(RECORD_HEADER_SIZE_BYTES + payload.length);
  bytes.set(payload, RECORD_HEADER_SIZE_BYTES);
  sealRecord(bytes, new DataView(bytes.buffer), 0, lsn, kind, payload.length);
  return bytes;
}

export interface RecordView {
  readonly lsn: number;
  /** Without flags. */
  readonly kind: number;
  readonly startsWrite: boolean;
  /** Subarray of the segment bytes; valid while they are. */
  readonly payload: Uint8Array;
  /** Offset just past the record. */
  readonly end: number;
}

export type RecordProblem = 'short-header' | 'bad-length' | 'past-end' | 'checksum';

/**
 * Verifies the record at `offset` (length and checksum) and returns the offset just past it, or
 * a string naming what is wrong. Allocates nothing: replay calls it once per record.
 */
export function checkRecordAt(bytes: Uint8Array, view: DataView, offset: number): number | RecordProblem {
  if (bytes.length - offset < RECORD_HEADER_SIZE_BYTES) return 'short-header';
  const length = view.getUint32(offset, true);
  if (length === 0 || length > RECORD_PAYLOAD_SIZE_BYTES_MAX) return 'bad-length';
  const end = offset + RECORD_HEADER_SIZE_BYTES + length;
  if (end > bytes.length) return 'past-end';
  if (view.getUint32(offset + 4, true) !== crc32Range(bytes, offset + 8, end, view)) return 'checksum';
  return end;
}

/**
 * Whether the log ends in unused preallocated space at `offset`, where checkRecordAt found no
 * record (`checked` is its answer): zeros from there to the end. Only the last segment of a log
 * may end so; the caller knows which segment it reads.
 */
export function isUnusedSpaceAt(bytes: Uint8Array, offset: number, checked: number | RecordProblem): boolean {
  return typeof checked === 'string' && isZeroFrom(bytes, offset);
}

/** The LSN of the record at `offset` (checked by checkRecordAt first). */
export function recordLsnAt(view: DataView, offset: number): number {
  return view.getUint32(offset + 8, true) + view.getUint32(offset + 12, true) * 0x1_0000_0000;
}

/** Reads and verifies the record at `offset`; a string names what is wrong. */
export function readRecordAt(bytes: Uint8Array, view: DataView, offset: number): RecordView | RecordProblem {
  const end = checkRecordAt(bytes, view, offset);
  if (typeof end === 'string') return end;
  return {
    lsn: recordLsnAt(view, offset),
    kind: recordKindAt(bytes, offset),
    startsWrite: recordStartsWrite(bytes, offset),
    payload: bytes.subarray(offset + RECORD_HEADER_SIZE_BYTES, end),
    end,
  };
}
