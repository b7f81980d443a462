/**
 * Shared setup of the API tests (`api-*.test.ts`): `useStubApp()` gives every test a fresh
 * StubRuntime (`rt`) and an app that sends the bearer token (`app`); `json` and `expectError`
 * build request bodies and check the error shape.
 */
import { beforeEach, expect } from 'vitest';
import { createApp } from '../src/index.js';
import { StubRuntime } from './stub-runtime.js';
import { tokenClient } from './with-token.js';

/** The current test's runtime (reassigned before each test by `useStubApp`). */
export let rt: StubRuntime;
/** The current test's app, sending the token on every request. */
export let app: ReturnType<typeof tokenClient<ReturnType<typeof createApp>>>;

/** Registers the `beforeEach` that builds a fresh runtime and app (version 9.9.9). */
export function useStubApp(): void {
  beforeEach(() => {
    rt = new StubRuntime();
    app = tokenClient(createApp(rt, { version: '9.9.9' }));
  });
}

/** A JSON POST of `body`. */
export const json = (body: unknown) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

/** Asserts the API error shape with this status and code; returns the body. */
export async function expectError(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  const body = (await res.json()) as { code: string; message: string; details: unknown };
  expect(body.code).toBe(code);
  expect(typeof body.message).toBe('string');
  expect(body).toHaveProperty('details');
  return body;
}
