/**
 * The Host allow-list: the server answers only to names it knows (loopback names, the address it is
 * bound to, `settings.server_host`, `settings.allowed_hosts`). A web page that rebinds its own DNS name
 * to 127.0.0.1 (DNS rebinding) sends `Host: evil.example`, which is refused before anything else.
 */
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { isLoopbackHost } from '@scripthut/config';

export { isLoopbackHost };

/** True for the wildcard addresses (`0.0.0.0`, `::`): the server listens on every interface. */
export function isWildcardHost(host: string): boolean {
  const h = host.trim().replace(/^\[|\]$/g, '');
  return h === '0.0.0.0' || h === '::' || h === '';
}

/** Lower-case host name of a Host header without port or IPv6 brackets; null when malformed. */
export function hostName(header: string): string | null {
  const h = header.trim().toLowerCase();
  const v6 = /^\[([0-9a-f:.]+)\](?::(\d{1,5}))?$/.exec(h);
  if (v6) return isIP(v6[1] as string) === 6 ? (v6[1] as string) : null;
  const m = /^([a-z0-9_.-]+)(?::(\d{1,5}))?$/.exec(h);
  return m ? (m[1] as string).replace(/\.$/, '') : null;
}

function normalise(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');
}

/** Addresses of this machine's interfaces (a wildcard bind answers on them). */
function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => normalise(i.address)));
}

export interface HostAllowListOptions {
  /** The address the server is bound to. */
  bindHost: string;
  /** Read per request: `settings.server_host` and `settings.allowed_hosts` (live on reload). */
  settings: () => { server_host: string; allowed_hosts?: string[] | undefined };
}

/** Decides whether a request's Host header names this server. */
export class HostAllowList {
  private readonly fixed: Set<string>;

  constructor(private readonly options: HostAllowListOptions) {
    this.fixed = new Set(['localhost', '127.0.0.1', '::1']);
    const bind = normalise(options.bindHost);
    if (isWildcardHost(options.bindHost)) for (const a of interfaceAddresses()) this.fixed.add(a);
    else this.fixed.add(bind);
  }

  /** True when the Host header (any port) is a loopback name, the bind address or a configured name. */
  allows(header: string | undefined): boolean {
    if (!header) return false;
    const name = hostName(header);
    if (name === null) return false;
    if (this.fixed.has(name) || isLoopbackHost(name)) return true;
    const s = this.options.settings();
    if (!isWildcardHost(s.server_host) && normalise(s.server_host) === name) return true;
    return (s.allowed_hosts ?? []).some((h) => normalise(h) === name);
  }
}
