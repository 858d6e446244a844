/**
 * One worker thread, shared by every real file of the process, that makes queued durable writes
 * (`StorageFile.queueDurableWrite`) one after the other: pwrite, then fdatasync unless the file
 * was opened with O_DSYNC, then the next. The main thread posts a write and goes on at once;
 * the write runs on the other core even while the main thread never yields (a loop committing
 * tick after tick), which libuv's thread pool cannot give: its completions, and so the start of
 * the next write in order, wait for the event loop.
 *
 * Memory: the bytes are copied into one of a few buffers shared with the worker (slabs), which
 * the worker marks free itself once written. So the main thread sees a slab free again without
 * turning the event loop, and a steady stream of writes allocates nothing. (Handing each write
 * its own fresh buffer instead doubled the main thread's time per tick of a setColumns loop:
 * 96 MiB of new buffers a second drove V8 into collections; docs/performance.md.) When no slab
 * is free, the write is refused and the caller keeps its bytes: it is ahead of the disk anyway.
 *
 * Order and failure: the worker takes messages in the order they were posted, so the writes to
 * a file are made, and durable, in queue order. After a write or fdatasync of a file fails, the
 * worker makes no further write to that file (each is answered "skipped"): its state and that of
 * the page cache are unknown, and a later batch landing after a hole would read as a damaged log.
 *
 * The worker holds no file open; it writes through the descriptor number the main thread owns,
 * which stays valid because a file's `close` waits for its queued writes (file-storage.ts).
 *
 * The process may exit while the worker waits: it is referenced only while writes are pending,
 * so a program that awaits a commit's `durable` is kept alive until the answer comes.
 */
import { Worker } from 'node:worker_threads';

/** Writes in flight at once, at most (one slab each). */
const SLAB_COUNT = 4;
/** A slab is at least this large, and grows to the next power of two above a larger write. */
const SLAB_BYTES_MIN = 1 << 20;
/**
 * Larger writes are refused: the copy would hold the main thread ~1 ms per 8 MiB, and the slabs
 * kept for the next writes stay at most SLAB_COUNT times this (the caller writes such a batch
 * itself, from its own buffer).
 */
export const QUEUED_WRITE_BYTES_MAX = 8 << 20;

const SLAB_FREE = 0;
const SLAB_BUSY = 1;

/** The worker's program (CommonJS, evaluated in the worker). */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { writeSync, fdatasyncSync } = require('node:fs');
const slabs = [];
let states;
const failedFiles = new Set();
parentPort.on('message', (message) => {
  if (message.hold !== undefined) {
    Atomics.wait(new Int32Array(message.hold), 0, 0);
    return;
  }
  if (message.slab === undefined) {
    states = new Int32Array(message.states);
    return;
  }
  if (message.buffer !== undefined) slabs[message.slab] = new Uint8Array(message.buffer);
  const bytes = slabs[message.slab].subarray(0, message.length);
  let reply = { id: message.id };
  if (failedFiles.has(message.file)) {
    reply = { id: message.id, skipped: true };
  } else {
    try {
      let written = 0;
      while (written < bytes.length) {
        const count = writeSync(message.fd, bytes, written, bytes.length - written, message.position + written);
        if (count === 0) throw Object.assign(new Error('EIO: write made no progress'), { code: 'EIO', syscall: 'write' });
        written += count;
      }
      if (message.sync) fdatasyncSync(message.fd);
    } catch (error) {
      failedFiles.add(message.file);
      reply = { id: message.id, error: { message: String(error.message), code: error.code, syscall: error.syscall } };
    }
  }
  // The main thread may refill the slab from here on, before it reads the reply.
  Atomics.store(states, message.slab, ${SLAB_FREE});
  parentPort.postMessage(reply);
});
`;

interface WriteRequest {
  readonly id: number;
  /** Which open file (not the descriptor number, which the system reuses after a close). */
  readonly file: number;
  readonly fd: number;
  readonly position: number;
  readonly slab: number;
  /** The slab's new memory, when it was replaced by a larger one (first use included). */
  readonly buffer: SharedArrayBuffer | undefined;
  readonly length: number;
  /** fdatasync after the write (the file has no O_DSYNC). */
  readonly sync: boolean;
}

interface WriteReply {
  readonly id: number;
  readonly skipped?: true;
  readonly error?: { readonly message: string; readonly code?: string; readonly syscall?: string };
}

interface Waiter {
  readonly path: string;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

class WriteThread {
  #worker: Worker | undefined;
  #nextId = 1;
  readonly #waiting = new Map<number, Waiter>();
  /** Per slab: SLAB_BUSY from when it is filled until the worker has written it. */
  #states = new Int32Array(new SharedArrayBuffer(4 * SLAB_COUNT));
  #slabs: (Uint8Array | undefined)[] = new Array(SLAB_COUNT).fill(undefined);

  /** Set when a worker could not be started: every write is refused from then on. */
  #unavailable = false;

  /**
   * Queues a durable write of a copy of `data` to descriptor `fd`; undefined (nothing done) when
   * every slab is still being written, `data` is over QUEUED_WRITE_BYTES_MAX, or there is no
   * worker.
   */
  write(file: number, fd: number, path: string, data: Uint8Array, position: number, sync: boolean): Promise<void> | undefined {
    if (data.length > QUEUED_WRITE_BYTES_MAX) return undefined;
    const worker = this.start();
    if (worker === undefined) return undefined;
    const states = this.#states;
    let slab = 0;
    while (slab < SLAB_COUNT && Atomics.load(states, slab) !== SLAB_FREE) slab++;
    if (slab === SLAB_COUNT) return undefined;
    let memory = this.#slabs[slab];
    let buffer: SharedArrayBuffer | undefined;
    if (memory === undefined || memory.length < data.length) {
      buffer = new SharedArrayBuffer(Math.max(SLAB_BYTES_MIN, 2 ** Math.ceil(Math.log2(data.length))));
      memory = this.#slabs[slab] = new Uint8Array(buffer);
    }
    memory.set(data);
    Atomics.store(states, slab, SLAB_BUSY);
    const id = this.#nextId++;
    const request: WriteRequest = { id, file, fd, position, slab, buffer, length: data.length, sync };
    const promise = new Promise<void>((resolve, reject) => this.#waiting.set(id, { path, resolve, reject }));
    if (this.#waiting.size === 1) worker.ref();
    worker.postMessage(request);
    return promise;
  }

  /**
   * The worker, started now if it is not running; undefined when none can be started (workers
   * unavailable in this process): the callers then write through the thread pool, as before.
   */
  start(): Worker | undefined {
    if (this.#worker !== undefined || this.#unavailable) return this.#worker;
    let worker: Worker;
    try {
      worker = new Worker(WORKER_SOURCE, { eval: true, name: 'ecsdb durable writes' });
    } catch {
      this.#unavailable = true;
      return undefined;
    }
    worker.on('message', (reply: WriteReply) => this.#answer(reply));
    // The worker died (out of memory, terminated): every write it had is of unknown fate. The
    // next write starts a new worker with new slabs (the old ones may still read as busy).
    const failAll = (cause: unknown): void => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      this.#states = new Int32Array(new SharedArrayBuffer(4 * SLAB_COUNT));
      this.#slabs = new Array(SLAB_COUNT).fill(undefined);
      const waiting = [...this.#waiting.values()];
      this.#waiting.clear();
      for (const waiter of waiting) waiter.reject(ioError(`EIO: the write thread stopped (${String(cause)}), '${waiter.path}'`, 'EIO', 'write', waiter.path));
    };
    worker.on('error', failAll);
    worker.on('exit', (code) => failAll(`exit code ${code}`));
    worker.postMessage({ states: this.#states.buffer });
    // After the listeners: adding a 'message' listener references the worker's port again.
    worker.unref();
    this.#worker = worker;
    return worker;
  }

  /**
   * For tests: the thread makes no write queued after this call until the returned function
   * is called (standing in for a disk that does not keep up).
   */
  hold(): () => void {
    const flag = new Int32Array(new SharedArrayBuffer(4));
    this.start()?.postMessage({ hold: flag.buffer });
    return () => {
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
    };
  }

  #answer(reply: WriteReply): void {
    const waiter = this.#waiting.get(reply.id);
    if (waiter === undefined) return;
    this.#waiting.delete(reply.id);
    if (this.#waiting.size === 0) this.#worker?.unref();
    if (reply.skipped === true) {
      waiter.reject(ioError(`EIO: not written, an earlier queued write to '${waiter.path}' failed`, 'EIO', 'write', waiter.path));
    } else if (reply.error !== undefined) {
      waiter.reject(ioError(`${reply.error.message}, '${waiter.path}'`, reply.error.code ?? 'EIO', reply.error.syscall ?? 'write', waiter.path));
    } else {
      waiter.resolve();
    }
  }
}

/** An error shaped like Node's own I/O errors (code, syscall, path). */
export function ioError(message: string, code: string, syscall: string, path: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(message);
  error.code = code;
  error.syscall = syscall;
  error.path = path;
  return error;
}

let shared: WriteThread | undefined;

/** The process's write thread (started on first use). */
export function writeThread(): WriteThread {
  return (shared ??= new WriteThread());
}
