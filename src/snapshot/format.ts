/**
 * Snapshot on-disk format, version 1. The writer and the reader import only this module for
 * layout. Mirrored for users in docs/snapshot-format.md.
 *
 * A snapshot is a whole-world image taken while commits go on ("fuzzy"): its chunks were copied
 * at different moments between two LSNs, `startLsn` (S) and `endLsn` (E). Every chunk reflects
 * at least the state at S, and the WAL records S+1 .. E were durable before the snapshot was
 * published. Because WAL records are physical after-images, replaying S+1 .. (end of log) over
 * the image yields exactly the world at the end of the log. A snapshot is therefore usable only
 * together with the WAL from S+1 through at least E.
 *
 * File `<dir>/snapshots/<E as 20 digits>.snap`, little-endian:
 *
 *   header (SNAPSHOT_HEADER_SIZE_BYTES = 64)
 *   offset size field
 *   0      8    magic "ECSDBSNP"
 *   8      2    format version (1)
 *   10     2    flags: bit 0 = incremental (only changed chunks; see `base` in the schema)
 *   12     16   database id
 *   28     8    start LSN S (replay from S + 1)
 *   36     8    end LSN E (the WAL must reach at least E)
 *   44     8    created at, ms since the epoch
 *   52     4    section count, the end section included
 *   56     4    reserved (0)
 *   60     4    CRC-32 of bytes 0..59
 *
 *   then `section count` sections, each a 32-byte header and `stored length` bytes:
 *   0      4    stored length
 *   4      4    CRC-32 of the stored bytes
 *   8      4    raw length (after decompression)
 *   12     1    kind (SECTION_KIND below)
 *   13     1    compression: 0 none, 1 deflate (fflate)
 *   14     2    reserved (0)
 *   16     4    component index (column and present sections)
 *   20     4    field index (column sections)
 *   24     4    first slot of the chunk
 *   28     4    slot count of the chunk
 *
 * Section kinds and raw payloads:
 *   1 schema     MessagePack { schema: [{ name, fields: [{ name, kind, element?, length? }] }],
 *                highWater, chunkSlots, base } — the image describes itself; `base` is null for
 *                a full snapshot, else the file name of the snapshot an incremental builds on
 *
 * A full snapshot covers every slot of every array exactly once. An incremental one holds only
 * the chunks (registry: generations + alive; per component: present + every field) that changed
 * since they were last copied; it is loaded over its base chain, which ends in a full snapshot.
 *   2 generations  u32 per slot (entity registry)
 *   3 alive        u8 per slot, 1 = live entity
 *   4 present      u8 per slot, 1 = the slot's entity has the component
 *   5 column       the field's stored values for the chunk's slots: the typed-array bytes
 *                  (array fields `length` values per slot; bools 0/1; entity ids f64, -1 null)
 *   6 strings      MessagePack array of the chunk's string values
 *   255 end        empty; its presence proves the file is complete
 */
import { crc32 } from 'node:zlib';
import { DATABASE_ID_SIZE_BYTES } from '../wal/format.js';

export const SNAPSHOT_FORMAT_VERSION = 1;
export const SNAPSHOT_MAGIC = new Uint8Array([0x45, 0x43, 0x53, 0x44, 0x42, 0x53, 0x4e, 0x50]); // "ECSDBSNP"
export const SNAPSHOT_HEADER_SIZE_BYTES = 64;
export const SECTION_HEADER_SIZE_BYTES = 32;
/** Largest raw section a reader accepts; a larger length is damage, never an allocation. */
export const SECTION_RAW_SIZE_BYTES_MAX = 1024 * 1024 * 1024;

export const SECTION_KIND = {
  schema: 1,
  generations: 2,
  alive: 3,
  present: 4,
  column: 5,
  strings: 6,
  end: 255,
} as const;
export type SectionKind = (typeof SECTION_KIND)[keyof typeof SECTION_KIND];

export const COMPRESSION_NONE = 0;
export const COMPRESSION_DEFLATE = 1;

export const SNAPSHOT_DIR_NAME = 'snapshots';
export const SNAPSHOT_SUFFIX = '.snap';
const SNAPSHOT_NAME_PATTERN = /^(\d{20})\.snap$/;

export function snapshotFileName(endLsn: number): string {
  return `${String(endLsn).padStart(20, '0')}${SNAPSHOT_SUFFIX}`;
}

export function parseSnapshotFileName(name: string): number | undefined {
  const match = SNAPSHOT_NAME_PATTERN.exec(name);
  if (match === null) return undefined;
  const lsn = Number(match[1]);
  return Number.isSafeInteger(lsn) ? lsn : undefined;
}

/** The temp file a snapshot is written to before its rename: `<E>.snap.<createdAtMs>.tmp`. */
export function snapshotTempFileName(endLsn: number, createdAtMs: number): string {
  return `${snapshotFileName(endLsn)}.${createdAtMs}.tmp`;
}

/** A snapshot temp file (a stray once no snapshot is being written). */
export function isSnapshotTempFileName(name: string): boolean {
  return name.endsWith('.tmp') && name.includes(SNAPSHOT_SUFFIX);
}

export const SNAPSHOT_FLAG_INCREMENTAL = 1;

export interface SnapshotHeader {
  readonly formatVersion: number;
  readonly flags: number;
  readonly databaseId: Uint8Array;
  readonly startLsn: number;
  readonly endLsn: number;
  readonly createdAtMs: number;
  readonly sectionCount: number;
}

export function encodeSnapshotHeader(header: Omit<SnapshotHeader, 'formatVersion' | 'flags'> & { flags?: number }): Uint8Array {
  const bytes = new Uint8Array(SNAPSHOT_HEADER_SIZE_BYTES);
  const view = new DataView(bytes.buffer);
  bytes.set(SNAPSHOT_MAGIC, 0);
  view.setUint16(8, SNAPSHOT_FORMAT_VERSION, true);
  view.setUint16(10, header.flags ?? 0, true);
  bytes.set(header.databaseId, 12);
  view.setBigUint64(28, BigInt(header.startLsn), true);
  view.setBigUint64(36, BigInt(header.endLsn), true);
  view.setBigUint64(44, BigInt(header.createdAtMs), true);
  view.setUint32(52, header.sectionCount, true);
  view.setUint32(56, 0, true);
  view.setUint32(60, crc32(bytes.subarray(0, 60)), true);
  return bytes;
}

/** Decodes a snapshot header; a string says what is wrong with it. */
export function decodeSnapshotHeader(bytes: Uint8Array): SnapshotHeader | string {
  if (bytes.length < SNAPSHOT_HEADER_SIZE_BYTES) return `file is ${bytes.length} bytes, shorter than the header`;
  for (let i = 0; i < SNAPSHOT_MAGIC.length; i++) if (bytes[i] !== SNAPSHOT_MAGIC[i]) return 'not an ecsdb snapshot (wrong magic)';
  const view = new DataView(bytes.buffer, bytes.byteOffset, SNAPSHOT_HEADER_SIZE_BYTES);
  if (view.getUint32(60, true) !== crc32(bytes.subarray(0, 60))) return 'header checksum mismatch';
  const u64 = (offset: number) => Number(view.getBigUint64(offset, true));
  return {
    formatVersion: view.getUint16(8, true),
    flags: view.getUint16(10, true),
    databaseId: bytes.slice(12, 12 + DATABASE_ID_SIZE_BYTES),
    startLsn: u64(28),
    endLsn: u64(36),
    createdAtMs: u64(44),
    sectionCount: view.getUint32(52, true),
  };
}

export interface SectionHeader {
  readonly storedSizeBytes: number;
  readonly crc: number;
  readonly rawSizeBytes: number;
  readonly kind: number;
  readonly compression: number;
  readonly componentIndex: number;
  readonly fieldIndex: number;
  readonly firstSlot: number;
  readonly slotCount: number;
}

export function encodeSectionHeader(section: SectionHeader): Uint8Array {
  const bytes = new Uint8Array(SECTION_HEADER_SIZE_BYTES);
  writeSectionHeader(new DataView(bytes.buffer), 0, section);
  return bytes;
}

/**
 * Writes a section header at `offset` of `view`. The snapshot writer writes headers straight
 * into its chunk buffer: an array and a DataView per section (a DataView of a small array moves
 * its bytes into an ArrayBuffer of their own) were most of what a snapshot allocated per chunk.
 */
export function writeSectionHeader(view: DataView, offset: number, section: SectionHeader): void {
  view.setUint32(offset, section.storedSizeBytes, true);
  view.setUint32(offset + 4, section.crc, true);
  view.setUint32(offset + 8, section.rawSizeBytes, true);
  view.setUint8(offset + 12, section.kind);
  view.setUint8(offset + 13, section.compression);
  view.setUint16(offset + 14, 0, true);
  view.setUint32(offset + 16, section.componentIndex, true);
  view.setUint32(offset + 20, section.fieldIndex, true);
  view.setUint32(offset + 24, section.firstSlot, true);
  view.setUint32(offset + 28, section.slotCount, true);
}

export function decodeSectionHeader(bytes: Uint8Array, offset: number): SectionHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, SECTION_HEADER_SIZE_BYTES);
  return {
    storedSizeBytes: view.getUint32(0, true),
    crc: view.getUint32(4, true),
    rawSizeBytes: view.getUint32(8, true),
    kind: bytes[offset + 12],
    compression: bytes[offset + 13],
    componentIndex: view.getUint32(16, true),
    fieldIndex: view.getUint32(20, true),
    firstSlot: view.getUint32(24, true),
    slotCount: view.getUint32(28, true),
  };
}
