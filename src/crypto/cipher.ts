/**
 * AES-256-GCM sealing of the units described in format.ts, with the nonce scheme and AAD layouts
 * defined there. One `DataCipher` per open database (or CLI run): it owns the data key, the
 * database id every AAD starts with, and the nonce counter.
 */
import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import { assert } from '../assert.js';
import {
  KEY_SIZE_BYTES,
  NONCE_SIZE_BYTES,
  SEAL_OVERHEAD_BYTES,
  TAG_SIZE_BYTES,
  UNIT_ARCHIVE,
  UNIT_META_SCHEMA,
  UNIT_SNAPSHOT_SECTION,
  UNIT_WAL_RECORD,
} from './format.js';

const ALGORITHM = 'aes-256-gcm';
const AAD_PREFIX_SIZE_BYTES = 1 + 16;

export class DataCipher {
  readonly #key: Buffer;
  readonly #databaseId: Uint8Array;
  /** 8 random bytes, then the 4-byte counter (format.ts: why never the LSN). */
  readonly #nonce = Buffer.alloc(NONCE_SIZE_BYTES);
  #counter = 0;
  #walAad: { bytes: Uint8Array; view: DataView } | undefined;

  readonly #fillRandom: (bytes: Buffer) => void;

  /** `fillRandom` fills the nonce prefix (injectable so that a golden-bytes test is deterministic). */
  constructor(dataKey: Uint8Array, databaseId: Uint8Array, fillRandom: (bytes: Buffer) => void = (bytes) => randomFillSync(bytes)) {
    assert(dataKey.length === KEY_SIZE_BYTES, 'data key must be 32 bytes');
    this.#key = Buffer.from(dataKey);
    this.#databaseId = databaseId.slice();
    this.#fillRandom = fillRandom;
    fillRandom(this.#nonce.subarray(0, 8));
  }

  #nextNonce(): Buffer {
    if (this.#counter === 0xffff_ffff) {
      this.#fillRandom(this.#nonce.subarray(0, 8));
      this.#counter = 0;
    }
    this.#nonce.writeUInt32LE(this.#counter++, 8);
    return this.#nonce;
  }

  /**
   * Seals in place: `bytes[at, at + 12)` receives the nonce, `bytes[at + 12, at + 12 + length)`
   * holds the plaintext and becomes ciphertext, and the 16-byte tag goes right after it (the
   * caller has made room). Avoids a copy of the payload on the WAL's commit path.
   */
  sealInPlace(bytes: Uint8Array, at: number, length: number, aad: Uint8Array): void {
    const nonce = this.#nextNonce();
    bytes.set(nonce, at);
    const cipher = createCipheriv(ALGORITHM, this.#key, nonce);
    cipher.setAAD(aad);
    const start = at + NONCE_SIZE_BYTES;
    const encrypted = cipher.update(bytes.subarray(start, start + length));
    bytes.set(encrypted, start);
    cipher.final();
    bytes.set(cipher.getAuthTag(), start + length);
  }

  /** nonce | ciphertext | tag of `plain`. */
  seal(plain: Uint8Array, aad: Uint8Array): Uint8Array {
    const sealed = new Uint8Array(plain.length + SEAL_OVERHEAD_BYTES);
    sealed.set(plain, NONCE_SIZE_BYTES);
    this.sealInPlace(sealed, 0, plain.length, aad);
    return sealed;
  }

  /**
   * `seal` with the plaintext encrypted `stepBytes` at a time and `between()` awaited between
   * steps (AES-GCM is a stream: the result is the same bytes). For units too large for one
   * main-thread step; the nonce is taken at the start, so seals in between get other nonces.
   */
  async sealInSteps(plain: Uint8Array, aad: Uint8Array, stepBytes: number, between: () => Promise<void>): Promise<Uint8Array> {
    const sealed = new Uint8Array(plain.length + SEAL_OVERHEAD_BYTES);
    const nonce = this.#nextNonce();
    sealed.set(nonce, 0);
    const cipher = createCipheriv(ALGORITHM, this.#key, nonce);
    cipher.setAAD(aad);
    for (let from = 0; from < plain.length; from += stepBytes) {
      if (from > 0) await between();
      sealed.set(cipher.update(plain.subarray(from, Math.min(plain.length, from + stepBytes))), NONCE_SIZE_BYTES + from);
    }
    cipher.final();
    sealed.set(cipher.getAuthTag(), NONCE_SIZE_BYTES + plain.length);
    return sealed;
  }

  /** The plaintext of a sealed unit, or undefined when it does not authenticate (damage, tampering, a unit moved from elsewhere, or another key). */
  open(sealed: Uint8Array, aad: Uint8Array): Uint8Array | undefined {
    if (sealed.length < SEAL_OVERHEAD_BYTES) return undefined;
    const textEnd = sealed.length - TAG_SIZE_BYTES;
    try {
      const decipher = createDecipheriv(ALGORITHM, this.#key, sealed.subarray(0, NONCE_SIZE_BYTES));
      decipher.setAAD(aad);
      decipher.setAuthTag(sealed.subarray(textEnd));
      const plain = decipher.update(sealed.subarray(NONCE_SIZE_BYTES, textEnd));
      decipher.final();
      return new Uint8Array(plain.buffer, plain.byteOffset, plain.length);
    } catch {
      return undefined;
    }
  }

  #aad(unit: number, extraBytes: number): { bytes: Uint8Array; view: DataView } {
    const bytes = new Uint8Array(AAD_PREFIX_SIZE_BYTES + extraBytes);
    bytes[0] = unit;
    bytes.set(this.#databaseId, 1);
    return { bytes, view: new DataView(bytes.buffer) };
  }

  /**
   * One buffer, rewritten per record: the commit path seals every record, and setAAD copies the
   * bytes at once, so the buffer may change for the next record. Valid until the next call.
   */
  walRecordAad(lsn: number): Uint8Array {
    const aad = (this.#walAad ??= this.#aad(UNIT_WAL_RECORD, 8));
    aad.view.setUint32(AAD_PREFIX_SIZE_BYTES, lsn % 0x1_0000_0000, true);
    aad.view.setUint32(AAD_PREFIX_SIZE_BYTES + 4, Math.floor(lsn / 0x1_0000_0000), true);
    return aad.bytes;
  }

  /**
   * `sectionHeader` is the section's 32-byte header; bytes 8..31 are bound (the stored length and
   * checksum describe the sealed bytes themselves). `endLsn` only for the end section.
   */
  snapshotSectionAad(file: { startLsn: number; createdAtMs: number; flags: number }, index: number, sectionHeader: Uint8Array, endLsn: number | undefined): Uint8Array {
    const { bytes, view } = this.#aad(UNIT_SNAPSHOT_SECTION, 8 + 8 + 2 + 4 + 24 + (endLsn === undefined ? 0 : 8));
    let at = AAD_PREFIX_SIZE_BYTES;
    view.setBigUint64(at, BigInt(file.startLsn), true);
    view.setBigUint64((at += 8), BigInt(file.createdAtMs), true);
    view.setUint16((at += 8), file.flags, true);
    view.setUint32((at += 2), index, true);
    bytes.set(sectionHeader.subarray(8, 32), (at += 4));
    if (endLsn !== undefined) view.setBigUint64(at + 24, BigInt(endLsn), true);
    return bytes;
  }

  archiveAad(firstLsn: number): Uint8Array {
    const { bytes, view } = this.#aad(UNIT_ARCHIVE, 8);
    view.setBigUint64(AAD_PREFIX_SIZE_BYTES, BigInt(firstLsn), true);
    return bytes;
  }

  metaSchemaAad(createdAtMs: number): Uint8Array {
    const { bytes, view } = this.#aad(UNIT_META_SCHEMA, 8);
    view.setBigUint64(AAD_PREFIX_SIZE_BYTES, BigInt(createdAtMs), true);
    return bytes;
  }
}
