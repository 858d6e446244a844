/**
 * Turns raw I/O errors (Node errors with a `code`: ENOSPC, EIO, EACCES, ...) from a storage step
 * into IO_FAILED, naming the step; typed errors and bugs pass through unchanged.
 */
import { EcsdbError } from '../errors.js';

export async function io<T>(step: () => Promise<T>, what: string): Promise<T> {
  try {
    return await step();
  } catch (error) {
    throw asIoFailed(error, what);
  }
}

export function asIoFailed(error: unknown, what: string): unknown {
  if (error instanceof EcsdbError) return error;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return error;
  return new EcsdbError('IO_FAILED', `${what} failed: ${code} (${(error as Error).message})`, { cause: error });
}
