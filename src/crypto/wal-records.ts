/**
 * Sealed WAL records and encrypted compressed archives (layouts in format.ts).
 *
 * A sealed record is an ordinary record (src/wal/format.ts) of kind 2 whose payload is
 * nonce | ciphertext | tag, with AAD = database id + LSN. The record CRC covers the sealed
 * bytes, so the reader's torn-tail and corruption logic is unchanged; authentication is checked
 * when the payload is opened, and a record whose CRC matches but whose tag does not was altered
 * on purpose (or by something that also fixed the CRC): CORRUPT_WAL, never a torn tail.
 */
import { inflateSync } from 'fflate';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { ARCHIVE_DEFLATE_LEVEL, deflateInBackground } from '../encoding/deflate.js';
import { EcsdbError } from '../errors.js';
import { ByteWriter } from '../encoding/bytes.js';
import {
  RECORD_FLAG_STARTS_WRITE,
  RECORD_HEADER_SIZE_BYTES,
  RECORD_KIND_TIME,
  RECORD_KIND_WRITE_SET,
  SEGMENT_HEADER_SIZE_BYTES,
  checkRecordAt,
  recordKindAt,
  recordLsnAt,
  recordStartsWrite,
  sealRecord,
} from '../wal/format.js';
import type { DataCipher } from './cipher.js';
import {
  ARCHIVE_FORMAT_VERSION,
  ARCHIVE_HEADER_SIZE_BYTES,
  ARCHIVE_MAGIC,
  NONCE_SIZE_BYTES,
  RECORD_KIND_SEALED_WRITE_SET,
  SEAL_OVERHEAD_BYTES,
  TAG_SIZE_BYTES,
} from './format.js';

/** Bytes the writer reserves between the record header and the payload for the nonce. */
export function payloadPrefixBytes(cipher: DataCipher | undefined): number {
  return cipher === undefined ? 0 : NONCE_SIZE_BYTES;
}

/**
 * Seals the payload the writer just encoded at `pending[start + header + nonce ..]`, in place,
 * and appends the tag. Returns the record kind to seal the record header with.
 */
export function sealPendingPayload(cipher: DataCipher | undefined, pending: ByteWriter, start: number, lsn: number): number {
  if (cipher === undefined) return RECORD_KIND_WRITE_SET;
  const at = start + RECORD_HEADER_SIZE_BYTES;
  const plainLength = pending.length - at - NONCE_SIZE_BYTES;
  pending.ensure(TAG_SIZE_BYTES);
  cipher.sealInPlace(pending.bytes, at, plainLength, cipher.walRecordAad(lsn));
  pending.length += TAG_SIZE_BYTES;
  return RECORD_KIND_SEALED_WRITE_SET;
}

/**
 * The plaintext payload of the record whose payload is `bytes[payloadStart, payloadEnd)`. A plain
 * record in an encrypted database (or the reverse) is refused: accepting it would let anyone
 * who can write the directory inject commits without the key.
 */
export function openRecordPayload(bytes: Uint8Array, payloadStart: number, payloadEnd: number, lsn: number, cipher: DataCipher | undefined, segment: string): Uint8Array {
  const offset = payloadStart - RECORD_HEADER_SIZE_BYTES;
  const kind = recordKindAt(bytes, offset);
  if (kind === RECORD_KIND_WRITE_SET) {
    if (cipher !== undefined) throw corrupt(segment, offset, lsn, 'is not sealed, but the database is encrypted');
    return bytes.subarray(payloadStart, payloadEnd);
  }
  if (cipher === undefined) throw corrupt(segment, offset, lsn, 'is sealed, but the database is not encrypted');
  const plain = cipher.open(bytes.subarray(payloadStart, payloadEnd), cipher.walRecordAad(lsn));
  if (plain === undefined) throw corrupt(segment, offset, lsn, 'does not authenticate under the key (its checksum matches, so it was altered on purpose or moved from elsewhere)');
  return plain;
}

function corrupt(segment: string, offset: number, lsn: number, what: string): EcsdbError {
  return new EcsdbError('CORRUPT_WAL', `WAL segment ${segment} is corrupt at byte offset ${offset}: record ${lsn} ${what}; nothing was changed on disk`, { file: segment, offset });
}

/**
 * Rewrites every record of a complete segment's bytes: opened with `from` (or taken as is when
 * plain) and sealed with `to` (or left plain). Used to build compressed archives, to read them
 * back, and by rekey. A damaged record is CORRUPT_WAL: only segments that end cleanly are
 * rewritten.
 */
export function resealSegment(bytes: Uint8Array, from: DataCipher | undefined, to: DataCipher | undefined, name: string): Uint8Array {
  const out = resealedHeader(bytes);
  resealRecords(bytes, out, SEGMENT_HEADER_SIZE_BYTES, bytes.length, from, to, name);
  return out.toBytes();
}

/**
 * `resealSegment` in main-thread steps of about `stepBytes` of records, with an event-loop turn
 * between them: for archival, which runs beside the game loop (AES-GCM takes ~1 ms per MiB
 * here; a whole segment at once held the loop for tens of milliseconds).
 */
export async function resealSegmentInSteps(
  bytes: Uint8Array,
  from: DataCipher | undefined,
  to: DataCipher | undefined,
  name: string,
  stepBytes: number = BACKGROUND_STEP_BYTES,
): Promise<Uint8Array> {
  const out = resealedHeader(bytes);
  let offset = SEGMENT_HEADER_SIZE_BYTES;
  while (offset < bytes.length) {
    if (offset > SEGMENT_HEADER_SIZE_BYTES) await nextTurn();
    offset = resealRecords(bytes, out, offset, offset + stepBytes, from, to, name);
  }
  return out.toBytes();
}

/** Main-thread work per step of background archival: about a millisecond of AES-GCM. */
const BACKGROUND_STEP_BYTES = 1024 * 1024;

function resealedHeader(bytes: Uint8Array): ByteWriter {
  const out = new ByteWriter(bytes.length + 1024);
  out.ensure(SEGMENT_HEADER_SIZE_BYTES);
  out.bytes.set(bytes.subarray(0, SEGMENT_HEADER_SIZE_BYTES), 0);
  out.length = SEGMENT_HEADER_SIZE_BYTES;
  return out;
}

/**
 * Reseals the records that start in [offset, until) into `out`; returns where the next record
 * starts (the segment's length after its last).
 */
function resealRecords(bytes: Uint8Array, out: ByteWriter, offset: number, until: number, from: DataCipher | undefined, to: DataCipher | undefined, name: string): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  while (offset < bytes.length && offset < until) {
    const end = checkRecordAt(bytes, view, offset);
    if (typeof end === 'string') throw new EcsdbError('CORRUPT_WAL', `WAL segment ${name} is corrupt at byte offset ${offset} (${end}); it cannot be re-encrypted`, { file: name, offset });
    const lsn = recordLsnAt(view, offset);
    if (recordKindAt(bytes, offset) === RECORD_KIND_TIME) {
      // A commit time is not sealed (docs/guarantees.md): copied as it is, checksum and all.
      out.ensure(end - offset);
      out.bytes.set(bytes.subarray(offset, end), out.length);
      out.length += end - offset;
      offset = end;
      continue;
    }
    const plain = openRecordPayload(bytes, offset + RECORD_HEADER_SIZE_BYTES, end, lsn, from, name);
    const start = out.length;
    const prefix = payloadPrefixBytes(to);
    out.ensure(RECORD_HEADER_SIZE_BYTES + prefix + plain.length);
    out.bytes.set(plain, start + RECORD_HEADER_SIZE_BYTES + prefix);
    out.length += RECORD_HEADER_SIZE_BYTES + prefix + plain.length;
    const kind = sealPendingPayload(to, out, start, lsn);
    const flags = recordStartsWrite(bytes, offset) ? RECORD_FLAG_STARTS_WRITE : 0;
    sealRecord(out.bytes, out.view, start, lsn, kind | flags, out.length - start - RECORD_HEADER_SIZE_BYTES);
    offset = end;
  }
  return offset;
}

/**
 * A compressed archive of an encrypted database: the segment with plain records, deflated, sealed.
 * It runs beside the game loop: records are opened and the archive sealed in main-thread steps
 * of about a millisecond, and deflate runs in libuv's thread pool.
 */
export async function sealArchive(cipher: DataCipher, segmentBytes: Uint8Array, firstLsn: number, name: string): Promise<Uint8Array> {
  const deflated = await deflateInBackground(await resealSegmentInSteps(segmentBytes, cipher, undefined, name), ARCHIVE_DEFLATE_LEVEL);
  const sealed = await cipher.sealInSteps(deflated, cipher.archiveAad(firstLsn), BACKGROUND_STEP_BYTES, nextTurn);
  const bytes = new Uint8Array(ARCHIVE_HEADER_SIZE_BYTES + sealed.length);
  bytes.set(Buffer.from(ARCHIVE_MAGIC, 'latin1'), 0);
  new DataView(bytes.buffer).setUint16(8, ARCHIVE_FORMAT_VERSION, true);
  bytes.set(sealed, ARCHIVE_HEADER_SIZE_BYTES);
  return bytes;
}

export function isSealedArchive(bytes: Uint8Array): boolean {
  return bytes.length >= ARCHIVE_HEADER_SIZE_BYTES && Buffer.from(ARCHIVE_MAGIC, 'latin1').equals(bytes.subarray(0, 8));
}

/**
 * The segment bytes of a sealed compressed archive, with its records sealed again under fresh
 * nonces, so every reader sees encrypted segments in one form and nothing plain reaches disk when
 * a command writes them back (restore).
 */
export function openArchive(cipher: DataCipher | undefined, bytes: Uint8Array, firstLsn: number, path: string): Uint8Array {
  if (cipher === undefined) throw new EcsdbError('CORRUPT_WAL', `archived WAL segment ${path} is encrypted, but the database is not`, { file: path, offset: 0 });
  const version = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint16(8, true);
  if (version !== ARCHIVE_FORMAT_VERSION) {
    throw new EcsdbError('FORMAT_VERSION_UNSUPPORTED', `archived WAL segment ${path} has version ${version}; this ecsdb reads ${ARCHIVE_FORMAT_VERSION}`, { file: path, offset: 8 });
  }
  const deflated = bytes.length < ARCHIVE_HEADER_SIZE_BYTES + SEAL_OVERHEAD_BYTES ? undefined : cipher.open(bytes.subarray(ARCHIVE_HEADER_SIZE_BYTES), cipher.archiveAad(firstLsn));
  if (deflated === undefined) {
    throw new EcsdbError('CORRUPT_WAL', `archived WAL segment ${path} is corrupt at byte offset ${ARCHIVE_HEADER_SIZE_BYTES}: it does not authenticate under the key (damaged or tampered)`, {
      file: path,
      offset: ARCHIVE_HEADER_SIZE_BYTES,
    });
  }
  let plain: Uint8Array;
  try {
    plain = inflateSync(deflated);
  } catch (error) {
    throw new EcsdbError('CORRUPT_WAL', `archived WAL segment ${path} cannot be inflated after decryption (${(error as Error).message})`, { file: path, offset: ARCHIVE_HEADER_SIZE_BYTES });
  }
  return resealSegment(plain, undefined, cipher, path);
}
