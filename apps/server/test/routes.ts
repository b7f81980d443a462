/** The routes of an app, read from the app itself (so a new route cannot escape the auth tests). */

/** Routes that answer without a credential. */
export const PUBLIC_ROUTES = new Set(['GET /login', 'POST /login']);

/**
 * Every concrete route (method + path, parameters filled with harmless values) registered on the app,
 * sub-apps included; middleware (`ALL`) is left out.
 */
export function appRoutes(app: {
  routes: { method: string; path: string }[];
}): { method: string; path: string }[] {
  const seen = new Set<string>();
  const out: { method: string; path: string }[] = [];
  for (const r of app.routes) {
    if (r.method === 'ALL' || r.path.includes('*')) continue;
    const path = r.path.replace(/:([A-Za-z]+)/g, (_m, name: string) => (name === 'id' ? 'deadbeef' : 'x'));
    const key = `${r.method} ${path}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ method: r.method, path });
  }
  return out;
}
