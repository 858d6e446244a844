/**
 * Key rotation, offline: `rekey({ dir, components?, from, to })` and `ecsdb rekey`. It also
 * encrypts a database stored in the clear (`from` undefined) or decrypts one (`to` undefined).
 *
 * Steps, and what a crash at each leaves (the commit protocol is in rekey-commit.ts):
 * 1. open() with the old key and take a snapshot, then close: recovery cuts any torn tail,
 *    finishes an earlier committed rotation, and the newest state gets a fresh snapshot, so every
 *    file is complete and verified before it is rewritten. A crash here is a crash of an
 *    ordinary open database.
 * 2. Take the lock, delete an uncommitted staging directory of an earlier attempt (its files are
 *    not referenced by anything).
 * 3. Stage every WAL segment (live and archived, compressed or not), every snapshot file, the
 *    MANIFEST (sizes updated) and lastly the new meta file in `<dir>/rekey/`, each written and
 *    fsynced, the directory fsynced. A crash leaves the old directory whole plus an ignored,
 *    uncommitted staging directory: the old key opens it, the new key is refused (KEY_INVALID).
 * 4. Commit: replace `<dir>/ecsdb.meta` by the staged one (temp → fsync → rename → fsync). A
 *    crash before the directory fsync leaves either meta file, and with it either state.
 * 5. Roll forward (rekey-commit.ts): the staged files replace the old ones by rename. A crash
 *    leaves a committed rotation that the next open() (with the new key) finishes.
 * Nothing is deleted that is not either rewritten under the new key or unreferenced, so no
 * commit is lost whatever step a crash interrupts.
 */
import { join } from 'node:path';
import { assert } from '../assert.js';
import { EcsdbError } from '../errors.js';
import { open } from '../db/database.js';
import type { EncryptionOptions } from '../config/types.js';
import { META_FILE_NAME, encodeMeta, readMeta } from '../meta/meta-file.js';
import { MANIFEST_FILE_NAME, encodeManifest, readManifest } from '../snapshot/manifest.js';
import { parseSnapshotFileName } from '../snapshot/format.js';
import { acquireDirectoryLock } from '../storage/dir-lock.js';
import { replaceFileDurably } from '../storage/atomic-file.js';
import { fileStorage } from '../db/open-persistent.js';
import type { Storage } from '../storage/storage.js';
import { COMPRESSED_SUFFIX, listAllSegments, readSegmentBytes } from '../wal/archive.js';
import { ARCHIVE_DEFLATE_LEVEL, deflateInBackground } from '../encoding/deflate.js';
import { parseSegmentFileName } from '../wal/format.js';
import { componentsOf } from '../schema/evolution.js';
import type { DataCipher } from './cipher.js';
import { createEncryption, type KeySource } from './keys.js';
import { clearMeta, sealMeta, unlockMeta } from './meta-seal.js';
import { REKEY_DIR_NAME, finishPendingRekey, rekeyCommitted, stagedNameOf } from './rekey-commit.js';
import { resealSnapshot } from './snapshot-reseal.js';
import { resealSegment, sealArchive } from './wal-records.js';

export interface RekeyOptions {
  readonly dir: string;
  /** The current key; omit for a database stored in the clear. */
  readonly from?: EncryptionOptions;
  /** The new key; omit to store the database in the clear. */
  readonly to?: EncryptionOptions;
  /** The storage seam (tests); the real file system by default. */
  readonly storage?: Storage;
  readonly now?: () => number;
}

export interface RekeyResult {
  readonly dir: string;
  readonly filesRewritten: number;
  readonly bytesRewritten: number;
  readonly encrypted: boolean;
}

/** A key source from options given in code or by the CLI (one of key, keyFile, passphrase). */
export function keySourceFromOptions(options: EncryptionOptions | undefined, label: string): KeySource | undefined {
  if (options === undefined) return undefined;
  const given = (['key', 'keyFile', 'passphrase'] as const).filter((k) => options[k] !== undefined);
  if (given.length !== 1) throw new EcsdbError('INVALID_ARGUMENT', `${label} needs exactly one of key, keyFile, passphrase; got ${given.length === 0 ? 'none' : given.join(', ')}`);
  const origin = `${label}.${given[0]}`;
  if (options.key !== undefined) return { kind: 'key', text: options.key, origin };
  if (options.keyFile !== undefined) return { kind: 'keyFile', path: options.keyFile, origin };
  return { kind: 'passphrase', text: options.passphrase!, origin, scryptLogN: options.scryptLogN };
}

export async function rekey(options: RekeyOptions): Promise<RekeyResult> {
  const storage = options.storage ?? fileStorage;
  const dir = options.dir;
  const from = keySourceFromOptions(options.from, 'rekey() option from');
  const to = keySourceFromOptions(options.to, 'rekey() option to');
  if (from === undefined && to === undefined) throw new EcsdbError('INVALID_ARGUMENT', 'rekey() needs `to` (a new key), `from` (the current key), or both');
  // Step 1 (fails with KEY_REQUIRED / KEY_INVALID before anything changes).
  const raw = await readMeta(storage, dir);
  if (raw === undefined) throw new EcsdbError('INVALID_ARGUMENT', `${dir} is not an ecsdb directory (no ecsdb.meta)`);
  const { meta: clear } = await unlockMeta(raw, from, dir);
  const db = await open({
    dir,
    storage,
    components: componentsOf(clear.schema),
    durability: 'buffered',
    config: false,
    env: {},
    ...(options.now === undefined ? {} : { now: options.now }),
    ...(options.from === undefined ? {} : { encryption: options.from }),
  });
  try {
    await db.snapshot();
  } finally {
    await db.close();
  }
  const lock = await acquireDirectoryLock(storage, dir);
  try {
    const meta = (await readMeta(storage, dir))!;
    const { cipher: oldCipher } = await unlockMeta(meta, from, dir);
    const target = to === undefined ? undefined : await createEncryption(to, meta.databaseId);
    const rekeyDir = join(dir, REKEY_DIR_NAME);
    await clearStaging(storage, dir, rekeyDir); // step 2
    const staged = await stageFiles(storage, dir, rekeyDir, oldCipher, target?.cipher); // step 3
    const newMeta = target === undefined ? clearMeta(clear) : sealMeta(clear, target.stored, target.cipher);
    const metaBytes = encodeMeta(newMeta);
    await writeDurably(storage, join(rekeyDir, META_FILE_NAME), metaBytes);
    await storage.syncDirectory(rekeyDir);
    await replaceFileDurably(storage, dir, META_FILE_NAME, metaBytes); // step 4: the commit point
    await finishPendingRekey(storage, dir); // step 5
    return { dir, filesRewritten: staged.files + 1, bytesRewritten: staged.bytes + metaBytes.length, encrypted: target !== undefined };
  } finally {
    await lock.release();
  }
}

async function clearStaging(storage: Storage, dir: string, rekeyDir: string): Promise<void> {
  if ((await storage.stat(rekeyDir)) === undefined) {
    await storage.mkdir(rekeyDir);
    await storage.syncDirectory(dir);
    return;
  }
  // open() finished a committed rotation; whatever is left belongs to one that never committed.
  assert(!(await rekeyCommitted(storage, dir)), 'open() finishes a committed rotation before rekey stages a new one');
  const names = await storage.list(rekeyDir);
  for (const name of names) await storage.unlink(join(rekeyDir, name));
  if (names.length > 0) await storage.syncDirectory(rekeyDir);
}

async function stageFiles(storage: Storage, dir: string, rekeyDir: string, from: DataCipher | undefined, to: DataCipher | undefined) {
  let files = 0;
  let bytes = 0;
  const stage = async (name: string, content: Uint8Array) => {
    await writeDurably(storage, join(rekeyDir, name), content);
    files++;
    bytes += content.length;
  };
  for (const segment of await listSegmentFiles(storage, dir)) {
    const plain = await readSegmentBytes(storage, segment, from);
    const sub = segment.archived ? 'archive' : 'wal';
    const fileName = segment.path.slice(segment.path.lastIndexOf('/') + 1);
    let content: Uint8Array;
    if (!segment.compressed) content = resealSegment(plain, from, to, segment.path);
    else if (to === undefined) content = await deflateInBackground(resealSegment(plain, from, undefined, segment.path), ARCHIVE_DEFLATE_LEVEL);
    else content = await sealArchive(to, resealSegment(plain, from, to, segment.path), segment.firstLsn, segment.path);
    await stage(stagedNameOf(sub, fileName), content);
  }
  const sizes = new Map<string, number>();
  const snapshotsDir = join(dir, 'snapshots');
  const snapshotNames = (await storage.stat(snapshotsDir)) === undefined ? [] : (await storage.list(snapshotsDir)).filter((n) => parseSnapshotFileName(n) !== undefined);
  for (const name of snapshotNames) {
    const content = resealSnapshot(await storage.readFile(join(snapshotsDir, name)), from, to, `snapshots/${name}`);
    sizes.set(name, content.length);
    await stage(stagedNameOf('snapshots', name), content);
  }
  const manifest = await readManifest(storage, dir);
  if (manifest !== undefined) {
    const snapshots = manifest.snapshots.map((entry) => ({ ...entry, sizeBytes: sizes.get(entry.file) ?? entry.sizeBytes }));
    await stage(MANIFEST_FILE_NAME, encodeManifest({ snapshots }));
  }
  await storage.syncDirectory(rekeyDir);
  return { files, bytes };
}

/** Every segment file, live and archived, both copies where a crash left two. */
async function listSegmentFiles(storage: Storage, dir: string) {
  const walDir = join(dir, 'wal');
  const archiveDir = join(dir, 'archive');
  const chosen = await listAllSegments(storage, walDir, archiveDir);
  const all = [...chosen];
  if ((await storage.stat(archiveDir)) !== undefined) {
    for (const file of await storage.list(archiveDir)) {
      const compressed = file.endsWith(COMPRESSED_SUFFIX);
      const name = compressed ? file.slice(0, -COMPRESSED_SUFFIX.length) : file;
      const firstLsn = parseSegmentFileName(name);
      const path = join(archiveDir, file);
      if (firstLsn !== undefined && !all.some((s) => s.path === path)) all.push({ name, firstLsn, path, compressed, archived: true });
    }
  }
  return all;
}

async function writeDurably(storage: Storage, path: string, bytes: Uint8Array): Promise<void> {
  if ((await storage.stat(path)) !== undefined) await storage.unlink(path);
  const file = await storage.open(path, 'create');
  try {
    await file.write(bytes, 0);
    await file.sync();
  } finally {
    await file.close();
  }
}
