/**
 * Re-encrypting a snapshot file section by section (rekey): each section's stored bytes are
 * opened with the old cipher (or taken as they are, in the clear) and sealed with the new one
 * (or left in the clear); headers keep every field but the stored length, checksum and the
 * encrypted flag. The content (compressed or not) is never decoded, so the image is the same.
 */
import { crc32 } from 'node:zlib';
import { EcsdbError } from '../errors.js';
import {
  SECTION_HEADER_SIZE_BYTES,
  SECTION_KIND,
  SNAPSHOT_HEADER_SIZE_BYTES,
  decodeSectionHeader,
  decodeSnapshotHeader,
  encodeSectionHeader,
  encodeSnapshotHeader,
} from '../snapshot/format.js';
import type { DataCipher } from './cipher.js';
import { SNAPSHOT_FLAG_ENCRYPTED } from './format.js';

export function resealSnapshot(bytes: Uint8Array, from: DataCipher | undefined, to: DataCipher | undefined, path: string): Uint8Array {
  const damaged = (offset: number, what: string) => new EcsdbError('CORRUPT_SNAPSHOT', `snapshot ${path} is damaged at byte offset ${offset}: ${what}; it cannot be re-encrypted`);
  const header = decodeSnapshotHeader(bytes);
  if (typeof header === 'string') throw damaged(0, header);
  if (((header.flags & SNAPSHOT_FLAG_ENCRYPTED) !== 0) !== (from !== undefined)) throw damaged(10, 'its encryption flag does not match the database');
  const flags = (header.flags & ~SNAPSHOT_FLAG_ENCRYPTED) | (to === undefined ? 0 : SNAPSHOT_FLAG_ENCRYPTED);
  const parts: Uint8Array[] = [encodeSnapshotHeader({ ...header, flags })];
  let offset = SNAPSHOT_HEADER_SIZE_BYTES;
  for (let index = 0; index < header.sectionCount; index++) {
    if (bytes.length - offset < SECTION_HEADER_SIZE_BYTES) throw damaged(offset, 'section header runs past the end of the file');
    const section = decodeSectionHeader(bytes, offset);
    const start = offset + SECTION_HEADER_SIZE_BYTES;
    if (section.storedSizeBytes > bytes.length - start) throw damaged(offset, 'section runs past the end of the file');
    let stored = bytes.subarray(start, start + section.storedSizeBytes);
    if (crc32(stored) !== section.crc) throw damaged(offset + 4, 'section checksum mismatch');
    const endLsn = section.kind === SECTION_KIND.end ? header.endLsn : undefined;
    if (from !== undefined) {
      const opened = from.open(stored, from.snapshotSectionAad(header, index, bytes.subarray(offset, start), endLsn));
      if (opened === undefined) throw damaged(start, 'section does not authenticate under the key');
      stored = opened;
    }
    if (to !== undefined) {
      const aad = to.snapshotSectionAad({ ...header, flags }, index, encodeSectionHeader({ ...section, storedSizeBytes: 0, crc: 0 }), endLsn);
      stored = to.seal(stored, aad);
    }
    parts.push(encodeSectionHeader({ ...section, storedSizeBytes: stored.length, crc: crc32(stored) }), stored);
    offset = start + section.storedSizeBytes;
  }
  if (offset !== bytes.length) throw damaged(offset, 'bytes after the end marker');
  return Buffer.concat(parts);
}
