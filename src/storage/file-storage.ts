/**
 * The real storage: node:fs/promises, whose calls run on libuv's thread pool so the game loop
 * never waits on disk. Errors are Node's own (with `code`, `syscall`, `path`); the layers above
 * turn them into typed EcsdbErrors, because only they know what the file was for.
 */
import { constants as fsConstants } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { FileStat, OpenMode, Storage, StorageFile, OpenOptions } from './storage.js';
import { ioError, writeThread } from './write-thread.js';

/** Data files are private to the user running the database. */
export const FILE_MODE = 0o600;
/** Directories too: listing a data directory reveals the schema and history. */
export const DIRECTORY_MODE = 0o700;

const OPEN_FLAGS: Record<OpenMode, string> = {
  read: 'r',
  readwrite: 'r+',
  // 'x' makes creation exclusive, so two writers can never both believe they own a new file.
  create: 'wx+',
};

// O_DIRECTORY makes syncDirectory fail with ENOTDIR on a file instead of silently fsyncing it.
/** The numeric form of OPEN_FLAGS, to combine with O_DSYNC. */
function numericFlags(mode: OpenMode): number {
  const { O_RDONLY, O_RDWR, O_CREAT, O_EXCL } = fsConstants;
  return mode === 'read' ? O_RDONLY : mode === 'readwrite' ? O_RDWR : O_RDWR | O_CREAT | O_EXCL;
}

const DIRECTORY_OPEN_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_DIRECTORY ?? 0);

export class FileStorage implements Storage {
  async open(path: string, mode: OpenMode, options?: OpenOptions): Promise<StorageFile> {
    const syncEachWrite = options?.syncEachWrite === true;
    // Where the platform has no O_DSYNC (Windows), each write is followed by an fdatasync
    // instead, so "durable when write returns" holds either way.
    const dsync = fsConstants.O_DSYNC as number | undefined;
    const flags = syncEachWrite && dsync !== undefined ? numericFlags(mode) | dsync : OPEN_FLAGS[mode];
    const handle = await open(path, flags, FILE_MODE);
    if (options?.queuedWrites === true) writeThread().start();
    return new FileStorageFile(path, handle, syncEachWrite, syncEachWrite && dsync === undefined);
  }

  async readFile(path: string): Promise<Uint8Array> {
    const buffer = await readFile(path);
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }

  async rename(from: string, to: string): Promise<void> {
    await rename(from, to);
  }

  async unlink(path: string): Promise<void> {
    await unlink(path);
  }

  async mkdir(path: string): Promise<void> {
    // Node applies `mode` to every directory a recursive mkdir creates, parents included (the
    // process umask can only remove bits from it). The tests check the parents' modes.
    await mkdir(path, { recursive: true, mode: DIRECTORY_MODE });
  }

  async syncDirectory(path: string): Promise<void> {
    const handle = await open(path, DIRECTORY_OPEN_FLAGS);
    try {
      // fsync (not fdatasync): the directory's entries are exactly the metadata we need durable.
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async list(path: string): Promise<string[]> {
    const names = await readdir(path);
    return names.sort();
  }

  async stat(path: string): Promise<FileStat | undefined> {
    try {
      const stats = await stat(path);
      return { sizeBytes: stats.size, isDirectory: stats.isDirectory() };
    } catch (error) {
      // ENOTDIR: a parent is a file, so nothing can exist at the path either.
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw error;
    }
  }
}

/** Names each open file for the write thread (a descriptor number is reused after a close). */
let nextFileNumber = 1;

class FileStorageFile implements StorageFile {
  readonly #number = nextFileNumber++;
  /** The last queued durable write, settled (the writes settle in order); close waits for it. */
  #queued: Promise<unknown> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    readonly syncsEachWrite: boolean,
    private readonly syncAfterWrite: boolean,
  ) {}

  queueDurableWrite(data: Uint8Array, position: number): Promise<void> | undefined {
    const written = writeThread().write(this.#number, this.handle.fd, this.path, data, position, !this.syncsEachWrite || this.syncAfterWrite);
    if (written !== undefined) this.#queued = written.catch(() => undefined);
    return written;
  }

  async write(data: Uint8Array, position: number): Promise<void> {
    // pwrite may write fewer bytes than asked (e.g. just before ENOSPC); keep going so the
    // caller's "writes all of data" contract holds or the error surfaces.
    let writtenBytes = 0;
    while (writtenBytes < data.length) {
      const { bytesWritten } = await this.handle.write(
        data,
        writtenBytes,
        data.length - writtenBytes,
        position + writtenBytes,
      );
      if (bytesWritten === 0) throw ioError(`EIO: write made no progress, '${this.path}'`, 'EIO', 'write', this.path);
      writtenBytes += bytesWritten;
    }
    if (this.syncAfterWrite) await this.handle.datasync();
  }

  async read(position: number, length: number): Promise<Uint8Array> {
    const buffer = new Uint8Array(length);
    let readBytes = 0;
    while (readBytes < length) {
      const { bytesRead } = await this.handle.read(
        buffer,
        readBytes,
        length - readBytes,
        position + readBytes,
      );
      if (bytesRead === 0) break; // End of file.
      readBytes += bytesRead;
    }
    return readBytes === length ? buffer : buffer.subarray(0, readBytes);
  }

  async sync(): Promise<void> {
    await this.handle.datasync();
  }

  async truncate(sizeBytes: number): Promise<void> {
    await this.handle.truncate(sizeBytes);
  }

  async sizeBytes(): Promise<number> {
    return (await this.handle.stat()).size;
  }

  async close(): Promise<void> {
    // The write thread writes through this descriptor's number: closing it first could send a
    // pending write into whatever file the number names next.
    await this.#queued;
    await this.handle.close();
  }
}
