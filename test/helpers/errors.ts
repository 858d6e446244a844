/** Assertion helpers for ecsdb's typed errors. */
import { expect } from 'vitest';
import { EcsdbError, type ErrorCode } from '../../src/index.js';

/** What `fn` threw; fails the test when it returned normally. */
export function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  expect.fail('expected the call to throw, but it returned');
}

/** Asserts that `fn` throws an EcsdbError with `code`, and returns it for further checks. */
export function expectEcsdbError(fn: () => unknown, code: ErrorCode): EcsdbError {
  const error = thrownBy(fn);
  expect(error).toBeInstanceOf(EcsdbError);
  expect((error as EcsdbError).code).toBe(code);
  return error as EcsdbError;
}
