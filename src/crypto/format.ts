/**
 * Encryption at rest, on-disk layouts (version 1). Mirrored for users in docs/wal-format.md and
 * docs/snapshot-format.md. AES-256-GCM from node:crypto; every sealed unit is
 *
 *   offset size field
 *   0      12   nonce
 *   12     n    ciphertext (as long as the plaintext)
 *   12+n   16   GCM authentication tag
 *
 * so SEAL_OVERHEAD_BYTES = 28. Where sealing happens:
 * - WAL record: the record's payload is sealed and the record's kind is 2 (sealed write set);
 *   the record header (length, CRC-32 over LSN + kind + sealed payload, LSN) stays in the clear,
 *   so torn tails and corruption are told apart exactly as for plain records, and restore/repair
 *   still cut at record boundaries.
 * - Snapshot: flag bit 1 in the file header; every section's stored bytes (after compression)
 *   are sealed; section headers (lengths, indexes, slot ranges) stay in the clear.
 * - Compressed archived segment: magic "ECSDBARC", u16 version, then one sealed unit holding the
 *   deflated segment with plain (kind 1) records. A plain archive move keeps the sealed records.
 * - ecsdb.meta: the schema is sealed (`sealedSchema`), `schema` is stored empty; identity,
 *   creation time and the encryption parameters (`encryption`) stay in the clear.
 *
 * Additional authenticated data (AAD) binds each sealed unit to its place, so units cannot be
 * swapped between records, files or databases:
 *
 *   0   1    unit kind: 1 WAL record, 2 snapshot section, 3 compressed archive, 4 meta schema
 *   1   16   database id
 *   17  ...  per kind:
 *            WAL record:       u64 LSN
 *            snapshot section: u64 start LSN, u64 created-at ms, u16 file flags, u32 section
 *                              index, the section header's bytes 8..31 (raw length, kind,
 *                              compression, component, field, first slot, slot count) and, for
 *                              the end section only, u64 end LSN (this binds the header's end
 *                              LSN and section count to the key)
 *            archive:          u64 first LSN of the segment
 *            meta schema:      u64 created-at ms
 *
 * Nonces: 8 random bytes chosen per cipher instance (each open(), each CLI run, each rekey) and
 * a 4-byte counter; a new random prefix is drawn when the counter wraps. A nonce therefore never
 * depends on the LSN: after a torn tail is cut, the LSN that is written again gets a fresh nonce
 * from the new process's prefix. Two instances collide only if their 64-bit random prefixes do
 * (about n²/2⁶⁵ for n opens under one key).
 */

export const NONCE_SIZE_BYTES = 12;
export const TAG_SIZE_BYTES = 16;
export const SEAL_OVERHEAD_BYTES = NONCE_SIZE_BYTES + TAG_SIZE_BYTES;
export const KEY_SIZE_BYTES = 32;
export const KEY_CHECK_SIZE_BYTES = 16;

export const UNIT_WAL_RECORD = 1;
export const UNIT_SNAPSHOT_SECTION = 2;
export const UNIT_ARCHIVE = 3;
export const UNIT_META_SCHEMA = 4;

/** Kind of a WAL record whose payload is sealed (kind 3; src/wal/format.ts lists every kind). */
export { RECORD_KIND_SEALED_WRITE_SET } from '../wal/format.js';

/** Snapshot header flag: sections are sealed. */
export const SNAPSHOT_FLAG_ENCRYPTED = 2;

export const ARCHIVE_MAGIC = 'ECSDBARC';
export const ARCHIVE_FORMAT_VERSION = 1;
export const ARCHIVE_HEADER_SIZE_BYTES = 8 + 2;

/** Cipher name stored in the meta file. */
export const CIPHER_NAME = 'aes-256-gcm';

/** HKDF `info` strings: one master key gives the data key and the key check value. */
export const HKDF_INFO_DATA_KEY = 'ecsdb data key v1';
export const HKDF_INFO_KEY_CHECK = 'ecsdb key check v1';
