/** Test helpers: requests that carry the bearer token (every route needs one). */
import { STUB_TOKEN } from './stub-runtime.js';

/** `init` with `Authorization: Bearer <token>` added unless it already has an Authorization header. */
export function withToken(init: RequestInit = {}, token = STUB_TOKEN): RequestInit {
  const headers = new Headers(init.headers);
  if (!headers.has('authorization')) headers.set('authorization', `Bearer ${token}`);
  return { ...init, headers };
}

interface AppLike {
  request(input: string | Request | URL, init?: RequestInit): Response | Promise<Response>;
  fetch(request: Request, env?: unknown): Response | Promise<Response>;
}

/** The app's `request`/`fetch`, sending the token on every call (the raw app stays in `.app`). */
export function tokenClient<A extends AppLike>(app: A, token = STUB_TOKEN) {
  return {
    app,
    request: (input: string | URL, init?: RequestInit) => app.request(input, withToken(init, token)),
    fetch: (request: Request) =>
      app.fetch(new Request(request, withToken({ headers: request.headers }, token))),
  };
}
