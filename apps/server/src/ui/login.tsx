/** @jsxImportSource hono/jsx */
import { CSRF_FIELD } from '../security.js';
import { STYLE } from './style.js';

/** Renders the sign-in page (shown only when an auth token is configured). */
export async function renderLogin(p: { csrf: string; next: string; error: string | null }): Promise<string> {
  const page = (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>Sign in · ScriptHut</title>
        <style dangerouslySetInnerHTML={{ __html: STYLE }} />
      </head>
      <body>
        <div class="login panel">
          <h1>ScriptHut</h1>
          <p class="muted">This server requires an access token (settings.auth_token).</p>
          {p.error ? <div class="notice bad">{p.error}</div> : null}
          <form method="post" action="/login">
            <input type="hidden" name={CSRF_FIELD} value={p.csrf} />
            <input type="hidden" name="next" value={p.next} />
            <p>
              <label>
                Access token
                <br />
                <input
                  type="password"
                  name="token"
                  autocomplete="current-password"
                  style="width:100%"
                  autofocus
                />
              </label>
            </p>
            <button type="submit" class="primary">
              Sign in
            </button>
          </form>
        </div>
      </body>
    </html>
  );
  return `<!doctype html>${await page.toString()}`;
}
