/**
 * Server-sent event plumbing: one helper that subscribes to runtime events for as long as the client
 * stays connected, coalesces bursts, and unsubscribes (stopping every timer) on disconnect or server
 * shutdown. The original leaked its per-run generators; here every stream is tracked in a registry.
 */
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';

/** Tracks open streams so the server can end them on shutdown and tests can assert none leak. */
export class StreamRegistry {
  private readonly closers = new Set<() => void>();
  get size(): number {
    return this.closers.size;
  }
  add(close: () => void): () => void {
    this.closers.add(close);
    return () => this.closers.delete(close);
  }
  closeAll(): void {
    for (const close of [...this.closers]) close();
  }
}

export interface SseMessage {
  event: string;
  data: string;
  id?: string;
}

export interface LiveStreamOptions {
  /** Heartbeat comment interval (keeps proxies from closing idle streams). */
  heartbeatMs?: number;
}

/**
 * Opens an SSE response. `setup(send, close)` subscribes to whatever it needs and returns its cleanup,
 * which runs exactly once when the client disconnects, `close()` is called, or the server shuts down.
 */
export function liveStream(
  c: Context,
  registry: StreamRegistry,
  setup: (send: (msg: SseMessage) => void, close: () => void) => (() => void) | undefined,
  options: LiveStreamOptions = {},
): Response {
  return streamSSE(c, async (stream) => {
    let finished = false;
    let wake: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      wake = resolve;
    });
    const queue: SseMessage[] = [];
    let writing = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      wake();
    };
    const flush = async () => {
      if (writing) return;
      writing = true;
      try {
        while (queue.length > 0 && !finished && !stream.aborted) {
          const msg = queue.shift() as SseMessage;
          await stream.writeSSE(msg);
        }
      } finally {
        writing = false;
      }
    };
    const send = (msg: SseMessage) => {
      if (finished) return;
      // Replace a queued message of the same event (the newest snapshot wins) to bound memory.
      const i = queue.findIndex((m) => m.event === msg.event && m.id === msg.id);
      if (i >= 0) queue[i] = msg;
      else queue.push(msg);
      void flush();
    };
    stream.onAbort(finish);
    const signal = c.req.raw.signal;
    if (signal) {
      if (signal.aborted) finish();
      else signal.addEventListener('abort', finish, { once: true });
    }
    const unregister = registry.add(finish);
    const heartbeat = setInterval(() => {
      if (!finished) void stream.write(': ping\n\n');
    }, options.heartbeatMs ?? 15_000);
    let cleanup: (() => void) | undefined;
    try {
      await stream.write('retry: 3000\n\n');
      cleanup = setup(send, finish);
      await done;
    } finally {
      clearInterval(heartbeat);
      unregister();
      signal?.removeEventListener('abort', finish);
      cleanup?.();
    }
  });
}

/**
 * Trailing throttle: calls `fn` at most once per `ms`, always after the last trigger, and never after
 * `cancel()`.
 */
export function coalesce(fn: () => void, ms: number): { trigger: () => void; cancel: () => void } {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let cancelled = false;
  return {
    trigger() {
      if (cancelled || timer) return;
      timer = setTimeout(() => {
        timer = null;
        if (!cancelled) fn();
      }, ms);
    },
    cancel() {
      cancelled = true;
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}
