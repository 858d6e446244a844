/**
 * An engine holds a populated world (entity index 0 .. entityCount-1, each with a Position) and
 * hands out a runner per workload. Runners keep their own value sequence, so calibration,
 * warm-up and measured runs keep writing new values.
 */
import type { Runner } from './stats.js';
import type { WorkloadId } from './workloads.js';

export interface Engine {
  runner(workload: WorkloadId): Runner;
  /** Releases everything, including any files the engine created. */
  close(): Promise<void>;
}

/** Opening an engine in a mode it does not support (yet) is a result, not a crash. */
export type Opened = { readonly status: 'ok'; readonly engine: Engine } | { readonly status: 'n/a'; readonly reason: string };
