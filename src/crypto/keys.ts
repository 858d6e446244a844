/**
 * Key sources and key checking. A database is encrypted from a master key, which is either 32
 * bytes given directly (`key`: 64 hex digits or base64, from the environment or `open()`; or
 * `keyFile`: a file holding that text or the 32 raw bytes) or derived from a `passphrase` with
 * scrypt (node:crypto) over a random salt stored in the meta file.
 *
 * The master key never touches disk. HKDF-SHA256 (salt = database id) turns it into two values:
 * the data key that seals everything, and a 16-byte key check value stored in the meta file, so
 * a wrong key is refused (KEY_INVALID) before any file is read further or changed, rather than
 * being mistaken for damage.
 */
import { hkdfSync, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { assert } from '../assert.js';
import { EcsdbError } from '../errors.js';
import { DataCipher } from './cipher.js';
import { CIPHER_NAME, HKDF_INFO_DATA_KEY, HKDF_INFO_KEY_CHECK, KEY_CHECK_SIZE_BYTES, KEY_SIZE_BYTES } from './format.js';

/** Where the key comes from; `origin` names the setting for messages (never the secret). */
export type KeySource =
  | { readonly kind: 'key'; readonly text: string; readonly origin: string }
  | { readonly kind: 'keyFile'; readonly path: string; readonly origin: string }
  | { readonly kind: 'passphrase'; readonly text: string; readonly origin: string; readonly scryptLogN?: number };

/** The encryption parameters in ecsdb.meta (plaintext): no secret, only what unlocking needs. */
export interface StoredEncryption {
  readonly cipher: string;
  /** 'raw': the master key is given; 'scrypt': it is derived from a passphrase. */
  readonly kdf: 'raw' | 'scrypt';
  readonly scrypt?: { readonly salt: Uint8Array; readonly logN: number; readonly r: number; readonly p: number };
  readonly keyCheck: Uint8Array;
}

export const SCRYPT_LOG_N_DEFAULT = 15;
const SCRYPT_R = 8;
const SCRYPT_P = 1;

function keyError(code: 'KEY_INVALID' | 'KEY_REQUIRED', message: string, detail: string): EcsdbError {
  return new EcsdbError(code, message, { detail });
}

/** 64 hex digits, base64 of 32 bytes, or (from a file) the 32 raw bytes. */
function parseKeyText(text: string | Uint8Array, origin: string): Uint8Array {
  if (typeof text !== 'string' && text.length === KEY_SIZE_BYTES) return text;
  const trimmed = (typeof text === 'string' ? text : Buffer.from(text).toString('latin1')).trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return new Uint8Array(Buffer.from(trimmed, 'hex'));
  if (/^[A-Za-z0-9+/]{43}=$/.test(trimmed)) return new Uint8Array(Buffer.from(trimmed, 'base64'));
  throw keyError(
    'KEY_INVALID',
    `the key from ${origin} is not 32 bytes written as 64 hex digits or base64 (make one with: openssl rand -hex 32)`,
    'format',
  );
}

async function masterKeyOf(source: KeySource, stored: StoredEncryption | undefined): Promise<Uint8Array> {
  if (source.kind === 'key') return parseKeyText(source.text, source.origin);
  if (source.kind === 'keyFile') {
    let content: Buffer;
    try {
      content = await readFile(source.path);
    } catch (error) {
      throw keyError('KEY_INVALID', `cannot read the key file ${source.path} (${source.origin}): ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, 'unreadable');
    }
    return parseKeyText(content.length === KEY_SIZE_BYTES ? new Uint8Array(content) : content.toString('latin1'), `key file ${source.path}`);
  }
  const params = stored?.scrypt;
  assert(params !== undefined, 'a passphrase needs the stored scrypt parameters');
  return scryptKey(source.text, params);
}

function scryptKey(passphrase: string, params: NonNullable<StoredEncryption['scrypt']>): Promise<Uint8Array> {
  const N = 2 ** params.logN;
  const options = { N, r: params.r, p: params.p, maxmem: 256 * N * params.r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(passphrase.normalize('NFC'), params.salt, KEY_SIZE_BYTES, options, (error, key) => (error === null ? resolve(new Uint8Array(key)) : reject(error)));
  });
}

function derive(master: Uint8Array, databaseId: Uint8Array, info: string, length: number): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', master, databaseId, info, length));
}

/** New encryption parameters for a database (creation, or the target of a rekey) and its cipher. */
export async function createEncryption(source: KeySource, databaseId: Uint8Array): Promise<{ stored: StoredEncryption; cipher: DataCipher }> {
  let stored: Omit<StoredEncryption, 'keyCheck'>;
  if (source.kind === 'passphrase') {
    if (source.text === '') throw keyError('KEY_INVALID', `the passphrase from ${source.origin} is empty`, 'format');
    const logN = source.scryptLogN ?? SCRYPT_LOG_N_DEFAULT;
    stored = { cipher: CIPHER_NAME, kdf: 'scrypt', scrypt: { salt: new Uint8Array(randomBytes(16)), logN, r: SCRYPT_R, p: SCRYPT_P } };
  } else {
    stored = { cipher: CIPHER_NAME, kdf: 'raw' };
  }
  const master = await masterKeyOf(source, stored as StoredEncryption);
  const keyCheck = derive(master, databaseId, HKDF_INFO_KEY_CHECK, KEY_CHECK_SIZE_BYTES);
  return { stored: { ...stored, keyCheck }, cipher: new DataCipher(derive(master, databaseId, HKDF_INFO_DATA_KEY, KEY_SIZE_BYTES), databaseId) };
}

/**
 * The cipher of an encrypted database, after checking the key against the stored key check value.
 * Fails with KEY_REQUIRED without a source, KEY_INVALID for the wrong kind of source or the wrong
 * key. Reads nothing but the key file, changes nothing.
 */
export async function unlock(stored: StoredEncryption, source: KeySource | undefined, databaseId: Uint8Array, where: string): Promise<DataCipher> {
  if (stored.cipher !== CIPHER_NAME) {
    throw new EcsdbError('FORMAT_VERSION_UNSUPPORTED', `${where} is encrypted with ${stored.cipher}; this ecsdb knows ${CIPHER_NAME}`);
  }
  const wants = stored.kdf === 'scrypt' ? 'a passphrase (ECSDB_ENCRYPTION_PASSPHRASE or open({ encryption: { passphrase } }))' : 'a key (ECSDB_ENCRYPTION_KEY, [encryption] key_file, or --key-file)';
  if (source === undefined) throw keyError('KEY_REQUIRED', `${where} is encrypted; give ${wants}. Nothing was read or changed`, 'missing');
  if ((stored.kdf === 'scrypt') !== (source.kind === 'passphrase')) {
    throw keyError('KEY_INVALID', `${where} was encrypted with ${wants}, but ${source.origin} gives ${source.kind === 'passphrase' ? 'a passphrase' : 'a key'}; nothing was changed`, 'kind');
  }
  const master = await masterKeyOf(source, stored);
  const check = derive(master, databaseId, HKDF_INFO_KEY_CHECK, KEY_CHECK_SIZE_BYTES);
  if (stored.keyCheck.length !== check.length || !timingSafeEqual(stored.keyCheck, check)) {
    throw keyError('KEY_INVALID', `the ${source.kind === 'passphrase' ? 'passphrase' : 'key'} from ${source.origin} is not the key of ${where} (key check value differs); nothing was changed`, 'wrong');
  }
  return new DataCipher(derive(master, databaseId, HKDF_INFO_DATA_KEY, KEY_SIZE_BYTES), databaseId);
}

/** Whether a decoded meta field is well-formed encryption parameters. */
export function isStoredEncryption(value: unknown): value is StoredEncryption {
  const e = value as Partial<StoredEncryption> | null;
  if (e === null || typeof e !== 'object' || typeof e.cipher !== 'string' || !(e.keyCheck instanceof Uint8Array)) return false;
  if (e.kdf === 'raw') return true;
  const s = e.scrypt;
  return e.kdf === 'scrypt' && s !== undefined && s.salt instanceof Uint8Array && [s.logN, s.r, s.p].every((n) => Number.isInteger(n) && n >= 1 && n <= 30);
}
