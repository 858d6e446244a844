/**
 * The storage seam: every file operation ecsdb performs goes through this interface, so tests can
 * swap the real file system for a simulated one that crashes, tears writes, fills up or fails.
 *
 * All paths are absolute or relative to the process's working directory, and always joined with
 * node:path by callers. All operations are asynchronous and run off the main thread in the real
 * implementation (libuv's thread pool), which is what keeps the game loop from waiting on disk.
 *
 * Durability contract (what the simulated storage enforces and the real one provides on Linux):
 * - bytes written to a file are durable only after `sync()` on that file returns;
 * - a file's existence, a rename and an unlink are durable only after `syncDirectory()` on the
 *   directory that holds the name returns;
 * - a crash may keep any prefix of the unsynced bytes of a file (a torn write), or none, and any
 *   prefix of a directory's unsynced creations, renames and unlinks, each file and directory
 *   independently of the others (the page cache flushes them in its own order).
 */

/** Errors from storage carry a Node-style `code` (ENOENT, EEXIST, ENOSPC, EIO, ...). */
export interface StorageError extends Error {
  code: string;
}

export interface FileStat {
  readonly sizeBytes: number;
  readonly isDirectory: boolean;
}

export interface StorageFile {
  readonly path: string;
  /**
   * True when every write is durable when it returns (opened with `syncEachWrite` by a storage
   * that honours it). Callers that asked for it still call `sync()` unless this says so, so a
   * storage (or a test wrapper) that ignores the option costs an fsync, never durability.
   */
  readonly syncsEachWrite?: boolean;
  /**
   * Writes all of `data` at `position`. The caller may reuse `data` once the promise settles
   * (the WAL writer and the snapshot writer refill their buffers): an implementation must not
   * keep a reference to it past that.
   */
  write(data: Uint8Array, position: number): Promise<void>;
  /**
   * Optional: writes all of `data` at `position` and makes it durable (as `write` then `sync`),
   * starting at once even if the calling thread never yields to the event loop, and strictly in
   * order with the other queued writes to this file: each starts only after the one queued
   * before it is durable, and after a queued write fails none queued after it is made (each is
   * rejected). So a crash leaves a prefix of the queued writes durable, the last perhaps torn.
   *
   * `data` is copied before this returns. Returns undefined, and does nothing, when the storage
   * cannot take the write now without waiting (the real one: every buffer it writes from is
   * busy, or the write is over 8 MiB); the caller then writes the bytes later or with `write`.
   * Callers must not mix this with `write` on the same file while queued writes are pending,
   * and `close` waits for them.
   *
   * The WAL writer hands full batches over with it, so a loop that commits without yielding
   * still has its log written meanwhile (src/wal/wal-writer.ts).
   */
  queueDurableWrite?(data: Uint8Array, position: number): Promise<void> | undefined;
  /** Reads up to `length` bytes at `position`; shorter at the end of the file. */
  read(position: number, length: number): Promise<Uint8Array>;
  /** Makes the file's written bytes durable (fdatasync). */
  sync(): Promise<void>;
  truncate(sizeBytes: number): Promise<void>;
  sizeBytes(): Promise<number>;
  close(): Promise<void>;
}

export type OpenMode =
  /** Read only; ENOENT if missing. */
  | 'read'
  /** Read and write; ENOENT if missing. */
  | 'readwrite'
  /** Read and write; creates the file (mode 0600), EEXIST if it exists. */
  | 'create';

export interface OpenOptions {
  /**
   * Every write is durable when it returns (O_DSYNC): one system call instead of a write and
   * an fdatasync, which is what a strict commit waits for. `sync()` remains valid and cheap.
   */
  readonly syncEachWrite?: boolean;
  /**
   * The caller will queue durable writes on the file (`queueDurableWrite`): a storage that makes
   * them on another thread gets it ready now rather than at the first one (starting a worker
   * thread holds the calling thread ~5 ms the first time, which a game loop would feel).
   */
  readonly queuedWrites?: boolean;
}

export interface Storage {
  open(path: string, mode: OpenMode, options?: OpenOptions): Promise<StorageFile>;
  /** The whole file; ENOENT if missing. */
  readFile(path: string): Promise<Uint8Array>;
  /** Atomically replaces `to` with `from` (durable after syncDirectory of the parent). */
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Creates a directory (mode 0700) and its missing parents; no error if it exists. */
  mkdir(path: string): Promise<void>;
  /** Makes creations, renames and unlinks of names in the directory durable. */
  syncDirectory(path: string): Promise<void>;
  /** Names (not paths) in a directory, sorted; ENOENT if missing. */
  list(path: string): Promise<string[]>;
  /** undefined when nothing exists at the path. */
  stat(path: string): Promise<FileStat | undefined>;
}
