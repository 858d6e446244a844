/**
 * Redis, the peer with ecsdb's own persistence model (append-only log + snapshots, fsync modes),
 * on the same logical workloads. Runs only when `redis-server` is on the PATH (Debian's
 * `redis-server` package): a private server on a free loopback port, in a temporary directory,
 * AOF on, RDB snapshots off, then shut down. Two fsync settings, each paired with the ecsdb mode
 * that gives the same guarantee:
 *
 * - `appendfsync always` ~ strict: Redis writes and fsyncs the AOF before it sends the replies
 *   of the commands it processed in that event-loop turn, so an acknowledged command is durable,
 *   and commands that arrive together share one fsync (its group commit).
 * - `appendfsync everysec` ~ buffered: the AOF is fsynced once a second in the background; a
 *   crash loses up to about a second. (A run is not flushed at its end: ecsdb's buffered figure
 *   includes its closing flush, so this comparison favours Redis.)
 *
 * The world is one hash per entity (`p:<index>` with fields x, y, z), the workloads those of
 * workloads.ts with values that change on every write:
 * - point commit (W1): one `HSET p:i x .. y .. z ..` per commit, each reply awaited before the
 *   next command (one round trip per commit, as an application that needs the acknowledgement).
 * - pipelined tick (W2): one `MULTI` / 10,000 `HSET` / `EXEC` sent as one pipeline, the `EXEC`
 *   reply awaited (atomic like an ecsdb transaction; one round trip per tick).
 * - commits in flight (W6, `always` only): 1,000 point `HSET`s issued without awaiting, then
 *   every reply awaited.
 *
 * The client is ioredis (pure JavaScript). Loopback round trips and RESP encoding are part of
 * what a Redis user pays, so they are part of the figure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Redis } from 'ioredis';
import type { Plan } from './plan.js';
import { measure, withDeadline, type Runner, type Timing } from './stats.js';
import { PointSequence, checkReadBack, positionAt, tickIndex, tickStart, valueBase, type Position } from './workloads.js';

export type AppendFsync = 'always' | 'everysec';

/** What Redis was measured on, per fsync setting. */
export interface RedisModeTimings {
  appendfsync: AppendFsync;
  /** The ecsdb mode this setting is compared with. */
  ecsdbMode: 'strict' | 'buffered';
  point: Timing;
  tick: Timing;
  /** Only with `always` (W6's counterpart). */
  inFlight?: Timing;
}

export interface RedisTimings {
  status: 'ok';
  serverPath: string;
  version: string;
  client: string;
  modes: RedisModeTimings[];
}

export interface RedisSkipped {
  status: 'skipped' | 'failed';
  reason: string;
}

/** The first executable `redis-server` on `pathEnv` (PATH), or undefined. */
export function findRedisServer(pathEnv: string | undefined): string | undefined {
  for (const dir of (pathEnv ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'redis-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here (or not executable): keep looking along PATH.
    }
  }
  return undefined;
}

export async function measureRedis(plan: Plan, pathEnv: string | undefined, clientVersion: string): Promise<RedisTimings | RedisSkipped> {
  const serverPath = findRedisServer(pathEnv);
  if (serverPath === undefined) {
    return { status: 'skipped', reason: 'redis-server is not on PATH (Debian: apt-get install redis-server)' };
  }
  const modes: RedisModeTimings[] = [];
  let version = 'unknown';
  for (const appendfsync of ['everysec', 'always'] as const) {
    const server = await startServer(serverPath, appendfsync, plan.measure.runDeadlineMs);
    try {
      version = server.version;
      modes.push(await measureMode(server.client, plan, appendfsync));
    } finally {
      await server.stop();
    }
  }
  return { status: 'ok', serverPath, version, client: `ioredis ${clientVersion}`, modes };
}

async function measureMode(client: Redis, plan: Plan, appendfsync: AppendFsync): Promise<RedisModeTimings> {
  await populate(client, plan);
  const point = await measure(pointRunner(client, plan), plan.measure);
  const tick = await measure(tickRunner(client, plan), plan.measure);
  const timings: RedisModeTimings = { appendfsync, ecsdbMode: appendfsync === 'always' ? 'strict' : 'buffered', point, tick };
  if (appendfsync === 'always') timings.inFlight = await measure(inFlightRunner(client, plan), plan.measure);
  return timings;
}

interface Server {
  client: Redis;
  version: string;
  stop(): Promise<void>;
}

async function startServer(serverPath: string, appendfsync: AppendFsync, deadlineMs: number): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), 'ecsdb-bench-redis-'));
  const port = await freeLoopbackPort();
  // Everything on the command line, nothing from /etc/redis: AOF on with the fsync setting under
  // test, RDB snapshots off (they would add fork + write work the run did not ask for).
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no', '--save', '',
    '--appendonly', 'yes', '--appendfsync', appendfsync, '--aof-use-rdb-preamble', 'no',
    '--auto-aof-rewrite-percentage', '0', '--logfile', '', '--loglevel', 'warning',
  ];
  const child = spawn(serverPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}) before it was ready: ${stderr.trim()}`))),
  );
  exited.catch(() => undefined);
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  const removeAll = (): void => {
    client.disconnect();
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await withDeadline(Promise.race([waitForListening(port, child), exited]), Math.min(deadlineMs, 10_000), 'starting redis-server');
    await client.connect();
    const info = await client.info('server');
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
    const configured = await client.config('GET', 'appendfsync');
    if ((configured as string[])[1] !== appendfsync) throw new Error(`redis-server ignored appendfsync ${appendfsync}: ${JSON.stringify(configured)}`);
    return { client, version, stop: () => stopServer(client, child, dir) };
  } catch (error) {
    removeAll();
    throw error;
  }
}

async function stopServer(client: Redis, child: ChildProcess, dir: string): Promise<void> {
  const gone = new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve())));
  try {
    // NOSAVE: the AOF is already on disk and the data is throwaway; the connection closes as the server exits.
    await client.shutdown('NOSAVE').catch(() => undefined);
    await withDeadline(gone, 5_000, 'redis-server shutdown');
  } catch {
    child.kill('SIGKILL');
    await gone;
  } finally {
    client.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Resolves once something accepts connections on the port (the server is up), polling every 10 ms. */
async function waitForListening(port: number, child: ChildProcess): Promise<void> {
  while (child.exitCode === null) {
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (accepted) return;
    await sleep(10);
  }
}

async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function keyOf(index: number): string {
  return `p:${index}`;
}

/** Entity index i gets { x: i, y: -1, z: -1 }, as in the other engines; pipelined in batches. */
async function populate(client: Redis, plan: Plan): Promise<void> {
  await client.flushall();
  for (let first = 0; first < plan.entityCount; first += plan.setupBatchEntityCount) {
    const pipeline = client.pipeline();
    const end = Math.min(plan.entityCount, first + plan.setupBatchEntityCount);
    for (let index = first; index < end; index++) pipeline.hset(keyOf(index), 'x', index, 'y', -1, 'z', -1);
    await pipeline.exec();
  }
}

async function readPosition(client: Redis, index: number): Promise<Position | undefined> {
  const [x, y, z] = await client.hmget(keyOf(index), 'x', 'y', 'z');
  if (x === null || y === null || z === null) return undefined;
  return { x: Number(x), y: Number(y), z: Number(z) };
}

function pointRunner(client: Redis, plan: Plan): Runner {
  const sequence = new PointSequence(plan.entityCount);
  let seq = 0;
  return checkedAtEnd(client, async (ops) => {
    for (let i = 0; i < ops; i++) {
      seq++;
      const x = valueBase(seq);
      await client.hset(keyOf(sequence.pointIndex(seq)), 'x', x, 'y', x + 0.5, 'z', x + 0.25);
    }
    return { index: sequence.pointIndex(seq), seq };
  });
}

function tickRunner(client: Redis, plan: Plan): Runner {
  const count = plan.tickEntityCount;
  let seq = 0;
  return checkedAtEnd(client, async (ops) => {
    for (let i = 0; i < ops; i++) {
      seq++;
      const start = tickStart(seq, plan);
      const x = valueBase(seq);
      const transaction = client.multi();
      for (let k = 0; k < count; k++) transaction.hset(keyOf(tickIndex(start, k, plan)), 'x', x, 'y', x + 0.5, 'z', x + 0.25);
      const results = await transaction.exec();
      if (results === null || results.some(([error]) => error !== null)) throw new Error(`redis tick failed: ${JSON.stringify(results)}`);
    }
    return { index: tickIndex(tickStart(seq, plan), count - 1, plan), seq };
  });
}

function inFlightRunner(client: Redis, plan: Plan): Runner {
  const sequence = new PointSequence(plan.entityCount);
  const inFlight = plan.groupCommitInFlight;
  const replies: Promise<number>[] = new Array<Promise<number>>(inFlight);
  let seq = 0;
  return checkedAtEnd(client, async (rounds) => {
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < inFlight; i++) {
        seq++;
        const x = valueBase(seq);
        replies[i] = client.hset(keyOf(sequence.pointIndex(seq)), 'x', x, 'y', x + 0.5, 'z', x + 0.25);
      }
      await Promise.all(replies);
    }
    return { index: sequence.pointIndex(seq), seq };
  });
}

/**
 * A runner whose `run` reads back the last write when it is done and `verify` reports what it
 * found: Runner.verify is synchronous and Redis reads are not. The read is one round trip per
 * run of thousands of operations, inside the timing.
 */
function checkedAtEnd(client: Redis, runOps: (ops: number) => Promise<{ index: number; seq: number }>): Runner {
  let failure: Error | undefined;
  return {
    async run(ops) {
      const last = await runOps(ops);
      try {
        checkReadBack('redis', last.index, await readPosition(client, last.index), positionAt(last.seq));
        failure = undefined;
      } catch (error) {
        failure = error as Error;
      }
    },
    verify() {
      if (failure !== undefined) throw failure;
    },
  };
}
