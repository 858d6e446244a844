/**
 * WAL on-disk format, version 1. The writer and the reader import only this module for layout.
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
 *   8      2    format version (1)
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
 *   16     1    kind (1 = write set, see src/txn/write-set.ts; 2 = sealed write set, the payload
 *               encrypted as src/crypto/format.ts describes)
 *   17     n    payload
 *
 * The length is not covered by the checksum: a damaged length shows up as a record whose
 * checksum fails over the span the length claims, or that runs past the end of the file.
 * Telling a torn tail from corruption is the reader's job (see segment-reader.ts).
 */
import { crc32 } from 'node:zlib';
import { crc32Range } from '../encoding/crc32.js';

export const WAL_FORMAT_VERSION = 1;
export const SEGMENT_MAGIC = new Uint8Array([0x45, 0x43, 0x53, 0x44, 0x42, 0x57, 0x41, 0x4c]); // "ECSDBWAL"
export const DATABASE_ID_SIZE_BYTES = 16;
export const SEGMENT_HEADER_SIZE_BYTES = 8 + 2 + 2 + DATABASE_ID_SIZE_BYTES + 8 + 4;
export const RECORD_HEADER_SIZE_BYTES = 4 + 4 + 8 + 1;
/** Largest payload a record may claim; a larger length is damage, never an allocation. */
export const RECORD_PAYLOAD_SIZE_BYTES_MAX = 256 * 1024 * 1024;

export const RECORD_KIND_WRITE_SET = 1;

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
  view.setUint32(offset + 4, crc32Range(bytes, offset + 8, end), true);
}

export function encodeRecord(lsn: number, kind: number, payload: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(RECORD_HEADER_SIZE_BYTES + payload.length);
  bytes.set(payload, RECORD_HEADER_SIZE_BYTES);
  sealRecord(bytes, new DataView(bytes.buffer), 0, lsn, kind, payload.length);
  return bytes;
}

export interface RecordView {
  readonly lsn: number;
  readonly kind: number;
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
  if (view.getUint32(offset + 4, true) !== crc32Range(bytes, offset + 8, end)) return 'checksum';
  return end;
}

/** The LSN of the record at `offset` (checked by checkRecordAt first). */
export function recordLsnAt(view: DataView, offset: number): number {
  return view.getUint32(offset + 8, true) + view.getUint32(offset + 12, true) * 0x1_0000_0000;
}

/** Reads and verifies the record at `offset`; a string names what is wrong. */
export function readRecordAt(bytes: Uint8Array, view: DataView, offset: number): RecordView | RecordProblem {
  const end = checkRecordAt(bytes, view, offset);
  if (typeof end === 'string') return end;
  return { lsn: recordLsnAt(view, offset), kind: bytes[offset + 16], payload: bytes.subarray(offset + RECORD_HEADER_SIZE_BYTES, end), end };
}
