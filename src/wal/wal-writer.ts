/**
 * The WAL writer. Commits append records to an in-memory batch on the main thread (encoding
 * only, no I/O); a single asynchronous flush loop hands each batch to storage (libuv's thread
 * pool does the write and fdatasync), then publishes the new durable LSN and resolves the
 * batch's `durable` promise. The game loop never waits for the disk.
 *
 * When a batch is flushed depends on the commits in it:
 * - strict: as soon as the current flush (if any) ends. Every commit that arrived meanwhile
 *   rides the same write and fsync: group commit.
 * - buffered: after `flushIntervalMs`, or once the batch holds `batchSizeBytesMax` bytes.
 * A flush is always write + fsync, so a strict commit makes every earlier commit durable too.
 *
 * After any failed write or fsync the writer refuses all further work (IO_FAILED): the state of
 * the file, and of the kernel's page cache for it, is unknown, so an fsync is never retried.
 *
 * Preallocation: a durable write that grows a file must also commit the file's new size (a
 * journal commit on ext4), one that overwrites bytes the file already has need not: on the
 * development machine an O_DSYNC 60-byte write costs ~160 µs into existing space and ~230 µs
 * appended (docs/performance.md). So the writer keeps up to `preallocateBytes` of zeros ahead
 * of its records in the current segment, made durable before any record is written there, and
 * extends them in the background once less than half is left (after batches under 64 KiB: see
 * PREALLOCATE_BATCH_SIZE_BYTES_MAX). Readers take zeros from a record boundary to the end of the
 * last segment for the end of the log (segment-reader.ts).
 * The writer truncates a segment to its records, durably, before starting the next one and on
 * close, so only the last segment can ever end in zeros and a closed log has none.
 */
import { join } from 'node:path';
import { EcsdbError } from '../errors.js';
import { ByteWriter } from '../encoding/bytes.js';
import type { Storage, StorageFile } from '../storage/storage.js';
import type { DataCipher } from '../crypto/cipher.js';
import { payloadPrefixBytes, sealPendingPayload } from '../crypto/wal-records.js';
import {
  RECORD_FLAG_STARTS_WRITE,
  RECORD_HEADER_SIZE_BYTES,
  RECORD_KIND_TIME,
  RECORD_KIND_WRITE_SET,
  SEGMENT_HEADER_SIZE_BYTES,
  TIME_RECORD_SIZE_BYTES,
  encodeSegmentHeader,
  recordKindAt,
  sealRecord,
  sealTimeRecord,
  segmentFileName,
} from './format.js';

export interface WalWriterOptions {
  readonly storage: Storage;
  readonly walDir: string;
  readonly databaseId: Uint8Array;
  /** Rotate to a new segment before a batch would make the current one larger than this. */
  readonly segmentSizeBytesMax: number;
  /** Rotate once the current segment is this old (and holds records). */
  readonly segmentAgeMsMax: number;
  /** Buffered commits become durable at most this long after they commit. */
  readonly flushIntervalMs: number;
  /** A buffered batch this large is flushed without waiting for the interval. */
  readonly batchSizeBytesMax: number;
  /** Zeros kept ahead of the records in the current segment (0: none, every write appends). */
  readonly preallocateBytes: number;
  /**
   * While a batch someone waits for (a strict commit, flush()) is being written, keep the event
   * loop turning instead of letting the thread sleep until the write completes.
   */
  readonly pollStrictWrites: boolean;
  readonly now: () => number;
  /**
   * Open segments with O_DSYNC so that each batch is one durable write (one trip to the thread
   * pool) rather than a write and an fdatasync. Default false here; `open()` sets it from
   * `wal.syncMethod`, whose default is "dsync" (true).
   */
  readonly syncEachWrite?: boolean;
  /** Seals every record's payload (src/crypto/wal-records.ts); undefined: records in the clear. */
  readonly cipher?: DataCipher;
}

/** The limits `setLimits` may change on an open writer (db.configure). */
export type WalLimits = Pick<
  WalWriterOptions,
  'segmentSizeBytesMax' | 'segmentAgeMsMax' | 'flushIntervalMs' | 'batchSizeBytesMax' | 'preallocateBytes' | 'pollStrictWrites'
>;

/** Where the log ends on disk when the writer opens. */
export interface WalTail {
  /** LSN of the last durable record (0 for an empty log). */
  readonly lastLsn: number;
  /** The segment to keep appending to, or undefined to start a new one at lastLsn + 1. */
  readonly segment: { readonly firstLsn: number; readonly sizeBytes: number } | undefined;
  /** The last commit time the log records (ms): new times never go below it. */
  readonly timeMs?: number;
}

interface Batch {
  readonly promise: Promise<void>;
  resolve: () => void;
  reject: (error: Error) => void;
  readonly firstLsn: number;
  lastLsn: number;
  /** Flush as soon as possible (a strict commit, the interval passed, or close). */
  due: boolean;
  /** A strict commit or flush() waits for it (the interval passing does not count). */
  waitedOn: boolean;
  /** The recorded commit time of its first write set (repeated at the start of a new segment). */
  readonly timeMs: number;
}

interface OpenSegment {
  readonly file: StorageFile;
  readonly firstLsn: number;
  /** End of the last record written: where the next batch goes. */
  sizeBytes: number;
  /** The file's length: zeros from sizeBytes to here are durable preallocated space. */
  allocatedBytes: number;
  readonly openedAtMs: number;
  /** The zero fill running in the background, if any; it never rejects (see `failure`). */
  extending: Promise<void> | undefined;
  /** Why a zero fill failed: the writer fails with it at its next write. */
  extensionFailure: unknown;
}

export class WalWriter {
  #segment: OpenSegment | undefined;
  #pending = new ByteWriter(64 * 1024);
  #spare = new ByteWriter(64 * 1024);
  #batch: Batch | undefined;
  /** The batch the flush loop is writing and fsyncing right now. */
  #inFlight: Batch | undefined;
  /**
   * Batches handed to the segment's `queueDurableWrite` by `append` (see #handOver), oldest
   * first, until each is durable. The flush loop's #inFlight batch may be queued before them or
   * after them (#writeBatch).
   */
  #handedOver: Batch[] = [];
  /** Settles when the last handed-over batch does (they settle in order). */
  #handedOverSettled: Promise<unknown> = Promise.resolve();
  /**
   * The flush loop is writing a batch with `write` (or rotating, or waiting for the batches
   * handed over before it does): `append` must not hand one over.
   */
  #flushLoopWriting = false;
  /** LSN of the last record handed to storage (written, being written or queued). */
  #writtenLsn: number;
  #lastLsn: number;
  #durableLsn: number;
  #flushing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #failure: EcsdbError | undefined;
  #closed = false;
  #bytesAppended = 0;
  /** The time of the last time record appended; -1 before the first (one always comes first). */
  #timeMs = -1;
  /** Times never go below the last one the log recorded before this writer opened. */
  readonly #timeFloorMs: number;
  /** The options' limits as changed at run time; read from here, never from `options`. */
  #limits: WalLimits;

  private constructor(
    private readonly options: WalWriterOptions,
    tail: WalTail,
    segment: OpenSegment | undefined,
  ) {
    const { segmentSizeBytesMax, segmentAgeMsMax, flushIntervalMs, batchSizeBytesMax, preallocateBytes, pollStrictWrites } = options;
    this.#limits = { segmentSizeBytesMax, segmentAgeMsMax, flushIntervalMs, batchSizeBytesMax, preallocateBytes, pollStrictWrites };
    this.#lastLsn = tail.lastLsn;
    this.#durableLsn = tail.lastLsn;
    this.#writtenLsn = tail.lastLsn;
    this.#timeFloorMs = tail.timeMs ?? 0;
    this.#segment = segment;
  }

  static async open(options: WalWriterOptions, tail: WalTail): Promise<WalWriter> {
    let segment: OpenSegment | undefined;
    if (tail.segment !== undefined) {
      const file = await options.storage.open(join(options.walDir, segmentFileName(tail.segment.firstLsn)), 'readwrite', {
        syncEachWrite: options.syncEachWrite ?? false,
        queuedWrites: true,
      });
      // Recovery ended the log at sizeBytes; anything after it is zeros it left in place (it cuts
      // any other tail before the writer opens), so the writer goes on writing into them.
      const allocatedBytes = Math.max(tail.segment.sizeBytes, await file.sizeBytes());
      segment = { file, firstLsn: tail.segment.firstLsn, sizeBytes: tail.segment.sizeBytes, allocatedBytes, openedAtMs: options.now(), extending: undefined, extensionFailure: undefined };
    }
    return new WalWriter(options, tail, segment);
  }

  /** LSN of the last appended record. */
  get lastLsn(): number {
    return this.#lastLsn;
  }

  /** Every record up to this LSN is on disk and fsynced. Only ever increases. */
  get durableLsn(): number {
    return this.#durableLsn;
  }

  /** Bytes of records appended since the writer opened (the snapshot policy's size trigger). */
  get bytesAppended(): number {
    return this.#bytesAppended;
  }

  /** The error that stopped the writer, if any. */
  get failure(): EcsdbError | undefined {
    return this.#failure;
  }

  /** Throws IO_FAILED or DB_CLOSED when no record may be appended. */
  checkWritable(): void {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#closed) throw new EcsdbError('DB_CLOSED', 'the database is closed');
  }

  /**
   * Appends one record whose payload `encodePayload` writes into the batch buffer, and returns
   * the promise that resolves when it is durable. The caller has checked `checkWritable`.
   */
  append(encodePayload: (writer: ByteWriter) => void, strict: boolean): { lsn: number; durable: Promise<void> } {
    const pending = this.#pending;
    const start = pending.length;
    const lsn = this.#lastLsn + 1;
    const timeBefore = this.#timeMs;
    this.#stampTime(lsn);
    const recordStart = pending.length;
    const cipher = this.options.cipher;
    const headerBytes = RECORD_HEADER_SIZE_BYTES + payloadPrefixBytes(cipher);
    pending.ensure(headerBytes);
    pending.length += headerBytes;
    try {
      encodePayload(pending);
    } catch (error) {
      pending.length = start;
      this.#timeMs = timeBefore;
      throw error;
    }
    const kind = cipher === undefined ? RECORD_KIND_WRITE_SET : sealPendingPayload(cipher, pending, recordStart, lsn);
    // The batch is written with one write: its first record says so (format.ts).
    const flags = recordStart === 0 ? RECORD_FLAG_STARTS_WRITE : 0;
    sealRecord(pending.bytes, pending.view, recordStart, lsn, kind | flags, pending.length - recordStart - RECORD_HEADER_SIZE_BYTES);
    this.#lastLsn = lsn;
    this.#bytesAppended += pending.length - start;
    const batch = this.#batch ?? (this.#batch = newBatch(lsn, this.#timeMs));
    batch.lastLsn = lsn;
    if (pending.length >= this.#limits.batchSizeBytesMax && this.#handOver()) {
      // Being written already, strict or not.
    } else if (strict) {
      batch.due = true;
      batch.waitedOn = true;
      this.#kick();
    } else if (pending.length >= this.#limits.batchSizeBytesMax) {
      this.#kick();
    } else if (this.#timer === undefined) {
      this.#armTimer();
    }
    return { lsn, durable: batch.promise };
  }

  /**
   * Hands the current batch, which is full, to the segment's queued durable writes (a copy), so
   * it is written while the caller goes on, even in a loop that commits without ever yielding
   * (the flush loop only runs when the event loop turns: such a loop would otherwise keep its
   * whole log in memory and write it all at the end; docs/performance.md). Only when nothing
   * else is under way that the write must wait for: the flush loop writing with `write` or
   * rotating, a zero fill of the space it needs, a rotation due, a storage without queued writes
   * or refusing this one. Returns whether it did.
   *
   * Crash while it is queued or being written: the segment ends in this batch's records, torn
   * or whole, after every batch before it (writes to a file are queued in order, each durable
   * before the next starts); none of its commits was acknowledged.
   */
  #handOver(): boolean {
    const segment = this.#segment;
    if (this.#flushLoopWriting || this.#closed || segment === undefined) return false;
    const pending = this.#pending;
    const batch = this.#batch!;
    const queued = this.#queueAtEnd(segment, pending.bytes.subarray(0, pending.length), batch);
    if (queued === undefined) return false;
    this.#batch = undefined;
    pending.reset();
    this.#handedOver.push(batch);
    this.#handedOverSettled = queued.then(
      () => {
        // From here every record of the batch survives a crash.
        const index = this.#handedOver.indexOf(batch);
        if (index !== -1) this.#handedOver.splice(index, 1);
        this.#durableLsn = Math.max(this.#durableLsn, batch.lastLsn);
        batch.resolve();
      },
      (error: unknown) => this.#fail(error, batch),
    );
    return true;
  }

  /**
   * Puts a time record in front of write set `lsn` when the clock (whole ms) has moved past the
   * last recorded time: one record per millisecond with commits, so the bytes per commit stay
   * near zero under load and the recorded time of each commit is exact to the millisecond.
   */
  #stampTime(lsn: number): void {
    const nowMs = this.options.now();
    if (nowMs <= this.#timeMs) return;
    this.#timeMs = Math.max(nowMs, this.#timeFloorMs);
    const pending = this.#pending;
    pending.ensure(TIME_RECORD_SIZE_BYTES);
    sealTimeRecord(pending.bytes, pending.view, pending.length, lsn, this.#timeMs, pending.length === 0 ? RECORD_FLAG_STARTS_WRITE : 0);
    pending.length += TIME_RECORD_SIZE_BYTES;
  }

  /** The current limits (those given to open, as changed by setLimits since). */
  get limits(): WalLimits {
    return { ...this.#limits };
  }

  /**
   * Changes limits on the open writer. Rotation limits apply from the next flush. A new flush
   * interval re-arms a waiting batch's timer from now, so a commit already waiting becomes
   * durable at most the new interval after the change; a smaller batch size flushes a batch
   * that already exceeds it.
   */
  setLimits(limits: Partial<WalLimits>): void {
    const intervalChanged = limits.flushIntervalMs !== undefined && limits.flushIntervalMs !== this.#limits.flushIntervalMs;
    this.#limits = { ...this.#limits, ...limits };
    if (this.#closed || this.#failure !== undefined) return;
    if (intervalChanged && this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#armTimer();
    }
    if (this.#batch !== undefined && this.#pending.length >= this.#limits.batchSizeBytesMax) this.#kick();
  }

  #armTimer(): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#kick(true);
    }, this.#limits.flushIntervalMs);
    // Not unref'd: a process awaiting a buffered commit's `durable` must not exit first.
  }

  /**
   * Resolves once every record up to `lsn` is durable (at once if it is already); with `strict`,
   * also makes that happen as soon as possible.
   */
  whenDurable(lsn: number, strict: boolean): Promise<void> {
    if (this.#failure !== undefined) return rejected(this.#failure);
    if (lsn <= this.#durableLsn) return RESOLVED;
    // The first batch under way that holds it (the flush loop's may be older or newer than
    // those handed over).
    let holder = this.#inFlight !== undefined && lsn <= this.#inFlight.lastLsn ? this.#inFlight : undefined;
    for (const batch of this.#handedOver) {
      if (lsn <= batch.lastLsn && (holder === undefined || batch.lastLsn < holder.lastLsn)) holder = batch;
    }
    if (holder !== undefined) return holder.promise;
    const batch = this.#batch!;
    if (strict) {
      batch.due = true;
      batch.waitedOn = true;
      this.#kick();
    }
    return batch.promise;
  }

  /** Flushes and fsyncs everything appended so far; resolves when it is durable. */
  async flush(): Promise<void> {
    // Wait for what was appended up to now, not for commits that keep arriving meanwhile:
    // under a steady stream of commits the flush loop never goes idle.
    await this.whenDurable(this.#lastLsn, true);
  }

  /**
   * Flushes everything, then closes the segment. Further appends fail with DB_CLOSED. Rejects
   * with IO_FAILED when a write failed, including one that only prepared space or trimmed it.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    let trimFailure: unknown;
    try {
      await this.flush();
      while (this.#flushing !== undefined || this.#handedOver.length > 0) await (this.#flushing ?? this.#handedOverSettled);
      if (this.#failure !== undefined) throw this.#failure;
    } finally {
      this.#closed = true;
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = undefined;
      const segment = this.#segment;
      this.#segment = undefined;
      if (segment !== undefined) {
        // A closed log ends at its last record. Should this fail, the zeros stay, which readers
        // take for the end of the log just the same: every commit is durable already.
        if (this.#failure === undefined) await this.#trimToRecords(segment).catch((error: unknown) => (trimFailure = error));
        // A zero fill still running (the writer failed) must end before the database can be
        // opened again: it would land on records the next writer puts where it is zeroing.
        if (segment.extending !== undefined) await segment.extending;
        await segment.file.close().catch(() => undefined);
      }
    }
    if (trimFailure !== undefined) {
      throw new EcsdbError(
        'IO_FAILED',
        `preparing or trimming the WAL segment's preallocated space failed (${describeCause(trimFailure)}); every commit through LSN ${this.#durableLsn} is durable, the segment may still end in unused zeros`,
        { cause: trimFailure },
      );
    }
  }

  /** Starts the flush loop unless it runs already (it then picks the new batch up itself). */
  #kick(force = false): void {
    if (force && this.#batch !== undefined) this.#batch.due = true;
    if (this.#flushing !== undefined || this.#batch === undefined) return;
    this.#flushing = this.#flushLoop().finally(() => {
      this.#flushing = undefined;
      // A commit made while the loop was finishing found it still running and did not start
      // it; start it again for that commit's batch if it is due.
      if (this.#batch?.due === true) this.#kick();
    });
  }

  async #flushLoop(): Promise<void> {
    // Let the commits of the current synchronous run join the batch before it is taken.
    await Promise.resolve();
    while (this.#batch !== undefined && this.#failure === undefined) {
      const batch = this.#batch;
      if (!batch.due && this.#pending.length < this.#limits.batchSizeBytesMax) return; // waits for its timer
      this.#batch = undefined;
      this.#inFlight = batch;
      const bytes = this.#takePending();
      const polling = batch.waitedOn && this.#limits.pollStrictWrites ? keepEventLoopTurning() : undefined;
      try {
        await this.#writeBatch(bytes, batch);
      } catch (error) {
        this.#fail(error, batch);
        return;
      } finally {
        polling?.stop();
        this.#inFlight = undefined;
      }
      this.#durableLsn = Math.max(this.#durableLsn, batch.lastLsn);
      batch.resolve();
    }
  }

  #takePending(): Uint8Array {
    const pending = this.#pending;
    this.#pending = this.#spare;
    this.#pending.reset();
    this.#spare = pending;
    return pending.bytes.subarray(0, pending.length);
  }

  /**
   * Writes the batch durably. Behind batches handed over, it joins the segment's queued durable
   * writes (those `append` hands over after it stay in order behind it) when no rotation is due
   * and it does not need space a zero fill is preparing. Otherwise, or when the storage refuses,
   * the batches handed over are awaited, and nothing is handed over until this batch is written
   * with `write` (and `sync`) through libuv's thread pool, after a rotation if due. (The thread
   * pool, not the queue, when nothing is handed over: its round trip is shorter, and a batch
   * waited for alone, as a strict commit's, pays it in full. Through the write thread, W1 strict
   * took 10–20% longer; `/tmp/mb/w1ab.mjs`, docs/performance.md.)
   */
  async #writeBatch(bytes: Uint8Array, batch: Batch): Promise<void> {
    const current = this.#segment;
    // Crash before it is durable: as below; the batches handed over after it come after it.
    const queued = this.#handedOver.length > 0 && current !== undefined ? this.#queueAtEnd(current, bytes, batch) : undefined;
    if (queued !== undefined) {
      await queued;
      // From here every record of the batch survives a crash.
      if (bytes.length < PREALLOCATE_BATCH_SIZE_BYTES_MAX) this.#preallocate(current!);
      return;
    }
    this.#flushLoopWriting = true;
    try {
      if (this.#handedOver.length > 0) await this.#handedOverSettled;
      // A handed-over batch failed: so does this one (#fail rejected the others already).
      if (this.#failure !== undefined) throw this.#failure;
      let segment = this.#segment;
      if (segment === undefined || this.#shouldRotate(segment, bytes.length)) {
        // Every segment starts with a time record, so that it tells its commits' times alone.
        segment = await this.#rotate(batch.firstLsn, recordKindAt(bytes, 0) === RECORD_KIND_TIME ? undefined : batch.timeMs);
      }
      // A batch that does not fit in the space prepared so far waits for the fill under way (a
      // record is never written into space being zeroed); if it still does not fit, it appends.
      if (segment.extending !== undefined && segment.sizeBytes + bytes.length > segment.allocatedBytes) await segment.extending;
      if (segment.extensionFailure !== undefined) throw segment.extensionFailure;
      // Crash during the write or before the fsync: the segment may end in a torn record (followed
      // by zeros when it was written into preallocated space), which recovery cuts; none of this
      // batch was acknowledged yet.
      await segment.file.write(bytes, segment.sizeBytes);
      this.#advance(segment, bytes.length, batch);
      // With O_DSYNC (syncEachWrite) the write above was already durable when it returned.
      if (segment.file.syncsEachWrite !== true) await segment.file.sync();
      // From here every record of the batch survives a crash.
      if (bytes.length < PREALLOCATE_BATCH_SIZE_BYTES_MAX) this.#preallocate(segment);
    } finally {
      this.#flushLoopWriting = false;
    }
  }

  /**
   * Queues `bytes` (the batch's records) after the segment's records, and records that they go
   * there; undefined, with nothing done, when they may not join the queue now: the storage has
   * none or refuses (it copies the bytes when it takes them), a rotation is due, or they would
   * reach into space a zero fill is preparing.
   */
  #queueAtEnd(segment: OpenSegment, bytes: Uint8Array, batch: Batch): Promise<void> | undefined {
    const file = segment.file;
    if (file.queueDurableWrite === undefined || segment.extensionFailure !== undefined) return undefined;
    if (segment.extending !== undefined && segment.sizeBytes + bytes.length > segment.allocatedBytes) return undefined;
    if (this.#shouldRotate(segment, bytes.length)) return undefined;
    const queued = file.queueDurableWrite(bytes, segment.sizeBytes);
    if (queued !== undefined) this.#advance(segment, bytes.length, batch);
    return queued;
  }

  /** Records that the batch's bytes go (or went) to the segment's end. */
  #advance(segment: OpenSegment, byteCount: number, batch: Batch): void {
    segment.sizeBytes += byteCount;
    segment.allocatedBytes = Math.max(segment.allocatedBytes, segment.sizeBytes);
    this.#writtenLsn = batch.lastLsn;
  }

  /**
   * Starts zero-filling the space after the segment's records, up to `preallocateBytes` past
   * them (never past segmentSizeBytesMax), once less than half of that is left. Runs beside the
   * next batches' writes, which stay below the space it fills.
   */
  #preallocate(segment: OpenSegment): void {
    const { preallocateBytes, segmentSizeBytesMax } = this.#limits;
    if (segment.extending !== undefined || segment.extensionFailure !== undefined) return;
    if (segment.allocatedBytes - segment.sizeBytes >= preallocateBytes / 2) return;
    const start = segment.allocatedBytes;
    const end = Math.min(segment.sizeBytes + preallocateBytes, segmentSizeBytesMax);
    if (end <= start) return;
    const { storage, syncEachWrite } = this.options;
    segment.extending = fillWithZeros(storage, segment.file.path, syncEachWrite ?? false, start, end).then(
      () => {
        segment.allocatedBytes = end;
        segment.extending = undefined;
      },
      (error: unknown) => {
        segment.extensionFailure = error;
        segment.extending = undefined;
      },
    );
  }

  /**
   * Cuts the segment's preallocated zeros off, durably: only the last segment may end in zeros.
   * Crash before the fsync: the zeros may still be there, in what is then still the last segment.
   */
  async #trimToRecords(segment: OpenSegment): Promise<void> {
    if (segment.extending !== undefined) await segment.extending;
    if (segment.extensionFailure !== undefined) throw segment.extensionFailure;
    if (segment.allocatedBytes === segment.sizeBytes) return;
    await segment.file.truncate(segment.sizeBytes);
    await segment.file.sync();
    segment.allocatedBytes = segment.sizeBytes;
  }

  #shouldRotate(segment: OpenSegment, batchSizeBytes: number): boolean {
    // Never leave a segment without a write set behind: the next one would have the same name.
    if (this.#writtenLsn < segment.firstLsn) return false;
    const { segmentSizeBytesMax, segmentAgeMsMax } = this.#limits;
    const now = this.options.now;
    return segment.sizeBytes + batchSizeBytes > segmentSizeBytesMax || now() - segment.openedAtMs >= segmentAgeMsMax;
  }

  /**
   * Starts a new segment. The previous one was fsynced by its last flush, so only the last
   * segment can ever end in a torn record.
   */
  async #rotate(firstLsn: number, timeMs: number | undefined): Promise<OpenSegment> {
    const { storage, walDir, databaseId, now } = this.options;
    const previous = this.#segment;
    this.#segment = undefined;
    if (previous !== undefined) {
      try {
        // Before the next segment exists (see #trimToRecords).
        await this.#trimToRecords(previous);
      } finally {
        await previous.file.close();
      }
    }
    const syncEachWrite = this.options.syncEachWrite ?? false;
    const file = await storage.open(join(walDir, segmentFileName(firstLsn)), 'create', { syncEachWrite, queuedWrites: true });
    // The header and, unless the batch starts with one, a time record for its first commit; then
    // the preallocated space, written from the shared zero buffer. (Not one buffer holding the
    // header and the first zeros: a fresh 4 MiB array per segment cost the main thread 1–2 ms
    // of zeroing, once glibc serves such blocks from its heap, and pressed V8 into collections;
    // a W5 gap of 4 ms, docs/performance.md. The price is one more small write per segment,
    // durable on its own under O_DSYNC.)
    const recordsStart = SEGMENT_HEADER_SIZE_BYTES + (timeMs === undefined ? 0 : TIME_RECORD_SIZE_BYTES);
    const { preallocateBytes, segmentSizeBytesMax } = this.#limits;
    const allocatedBytes = Math.max(recordsStart, Math.min(recordsStart + preallocateBytes, segmentSizeBytesMax));
    const start = new Uint8Array(recordsStart);
    start.set(encodeSegmentHeader(databaseId, firstLsn), 0);
    if (timeMs !== undefined) sealTimeRecord(start, new DataView(start.buffer), SEGMENT_HEADER_SIZE_BYTES, firstLsn, timeMs, RECORD_FLAG_STARTS_WRITE);
    const segment: OpenSegment = { file, firstLsn, sizeBytes: recordsStart, allocatedBytes, openedAtMs: now(), extending: undefined, extensionFailure: undefined };
    this.#segment = segment;
    // Crash before the fsync (the header write, then the zeros in more writes, any of them
    // lost): no header, a short one, or a bad one followed by zeros drops the file at recovery;
    // a torn time record is cut as a torn tail; zeros, all or some, are unused space; no record
    // of the batch was acknowledged.
    await file.write(start, 0);
    await writeZeros(file, recordsStart, allocatedBytes);
    if (file.syncsEachWrite !== true) await file.sync();
    // Crash before the directory fsync: the new name may vanish with everything in it; its
    // first batch is acknowledged only after this fsync, so nothing acknowledged is lost.
    await storage.syncDirectory(walDir);
    return segment;
  }

  /** Stops the writer with IO_FAILED and rejects every batch not durable yet (`batch` first). */
  #fail(error: unknown, batch: Batch): void {
    this.#failure ??= new EcsdbError(
      'IO_FAILED',
      `writing the WAL failed (${describeCause(error)}); commits after LSN ${this.#durableLsn} are not durable and the database refuses writes until it is reopened`,
      { cause: error },
    );
    batch.reject(this.#failure);
    for (const handedOver of this.#handedOver) handedOver.reject(this.#failure);
    this.#handedOver = [];
    if (this.#batch !== undefined) this.#batch.reject(this.#failure);
    this.#batch = undefined;
  }
}

/**
 * A batch this large starts no zero fill: zeroing costs about 1.1 µs of disk time per KiB here,
 * about what overwriting instead of appending saves per write (70–130 µs), so for batches this
 * size the fill's bytes cost as much as they save, and a big fill competing with the batches'
 * writes made them slower (W2 strict ticks of 120 kB in a game loop: 0.69–0.94 ms without
 * preallocation, 1.0–1.3 ms with; docs/performance.md). Such batches append once the space
 * already prepared is used up.
 */
const PREALLOCATE_BATCH_SIZE_BYTES_MAX = 64 * 1024;

/**
 * Writes zeros over [start, end) of the file at `path`, durably. Crash before it is durable: the
 * file ends in some of these zeros or in none, after the last record either way; the log ends
 * at that record, and no record is written into the range before this resolves.
 *
 * Through its own file descriptor: the kernel reports a writeback error to the next fsync of
 * every open file description, once each, so an error this fill's fsync consumes is still
 * reported to the batch writes' descriptor, which runs fsyncs (or O_DSYNC writes) meanwhile.
 */
async function fillWithZeros(storage: Storage, path: string, syncEachWrite: boolean, start: number, end: number): Promise<void> {
  const file = await storage.open(path, 'readwrite', { syncEachWrite });
  try {
    await writeZeros(file, start, end);
    if (file.syncsEachWrite !== true) await file.sync();
  } finally {
    await file.close();
  }
}

/** Writes zeros over [start, end) of the file, FILL_CHUNK_BYTES at a time (not synced here). */
async function writeZeros(file: StorageFile, start: number, end: number): Promise<void> {
  for (let position = start; position < end; position += FILL_CHUNK_BYTES) {
    zeroChunk ??= new Uint8Array(FILL_CHUNK_BYTES);
    await file.write(zeroChunk.subarray(0, Math.min(FILL_CHUNK_BYTES, end - position)), position);
  }
}

/**
 * Zeros are written at most this many at a time (the default preallocateBytes: one write), so no
 * buffer is as large as a big preallocateBytes.
 */
const FILL_CHUNK_BYTES = 4 * 1024 * 1024;
/** Read by fills' writes only, never written: one buffer serves every writer (made on first use). */
let zeroChunk: Uint8Array | undefined;

/**
 * Queues setImmediate callbacks back to back until stopped, so the event loop polls for I/O
 * completions without blocking: the thread pool's "write done" is then seen at once instead of
 * after the main thread is woken from its wait (30–80 µs on the development VM; see the
 * wal.pollStrictWrites setting). Timers and other I/O run as usual in between.
 */
function keepEventLoopTurning(): { stop(): void } {
  let turning = true;
  const turn = (): void => {
    if (turning) setImmediate(turn);
  };
  setImmediate(turn);
  return {
    stop: () => {
      turning = false;
    },
  };
}

/** An I/O error's code (ENOSPC, EIO, …), else its message. */
function describeCause(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : (error as Error).message;
}

const RESOLVED: Promise<void> = Promise.resolve();

function rejected(error: Error): Promise<void> {
  const promise = Promise.reject(error);
  promise.catch(() => undefined);
  return promise;
}

function newBatch(firstLsn: number, timeMs: number): Batch {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A caller that ignores `durable` must not crash the process with an unhandled rejection;
  // the failure also surfaces as IO_FAILED on the next transact.
  promise.catch(() => undefined);
  return { promise, resolve, reject, firstLsn, lastLsn: firstLsn, due: false, waitedOn: false, timeMs };
}
