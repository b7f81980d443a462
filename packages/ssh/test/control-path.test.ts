// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these tests write the ${NAME} syntax of env rules and control paths
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { controlPathProblem } from '@scripthut/core';
import { describe, expect, it } from 'vitest';
import { controlPathHash, expandControlPath, masterLoginArgs, masterLoginCommand } from '../src/index.js';

const ctx = {
  host: 'login.hpc.edu',
  port: 22,
  user: 'me',
  homeDir: '/home/alice',
  localHostname: 'laptop.example.org',
  localUser: 'alice',
  uid: 1000,
  env: { SCRATCH: '/scratch/alice' },
};

describe('expandControlPath', () => {
  it('expands ~, %r %h %p and %%', () => {
    expect(expandControlPath('~/.ssh/cm-%r@%h:%p', ctx)).toBe('/home/alice/.ssh/cm-me@login.hpc.edu:22');
    expect(expandControlPath('~', ctx)).toBe('/home/alice');
    expect(expandControlPath('/tmp/100%%-%p', ctx)).toBe('/tmp/100%-22');
    // a literal %% followed by a letter is not a token
    expect(expandControlPath('/tmp/%%h', ctx)).toBe('/tmp/%h');
    // ~ only at the start, as ssh does
    expect(expandControlPath('/tmp/~/x', ctx)).toBe('/tmp/~/x');
  });

  it('expands %C to the SHA-1 of %l%h%p%r', () => {
    const want = createHash('sha1').update('laptop.example.orglogin.hpc.edu22me').digest('hex');
    expect(controlPathHash('laptop.example.org', 'login.hpc.edu', 22, 'me')).toBe(want);
    expect(expandControlPath('~/.ssh/%C', ctx)).toBe(`/home/alice/.ssh/${want}`);
  });

  it('expands the other local tokens and ${VAR}', () => {
    expect(expandControlPath('%d|%u|%i|%l|%L|%n|%k', ctx)).toBe(
      '/home/alice|alice|1000|laptop.example.org|laptop|login.hpc.edu|login.hpc.edu',
    );
    expect(expandControlPath('${SCRATCH}/cm-%h', ctx)).toBe('/scratch/alice/cm-login.hpc.edu');
    expect(() => expandControlPath('${NOPE}/cm', ctx)).toThrow(/environment variable NOPE is not set/);
  });

  it('matches what the OpenSSH client computes (ssh -G)', () => {
    // ssh -G prints the effective configuration, ControlPath expanded, without connecting.
    for (const pattern of ['~/.ssh/cm-%r@%h:%p', '/tmp/x-%C', '/tmp/%l-%L-%u-%i-%%-%n-%d']) {
      const out = execFileSync(
        'ssh',
        ['-F', '/dev/null', '-G', '-S', pattern, '-p', '2222', '-l', 'hut', '127.0.0.1'],
        { encoding: 'utf8' },
      );
      const shown = /^controlpath (.*)$/m.exec(out)?.[1];
      expect(shown).toBeDefined();
      expect(expandControlPath(pattern, { host: '127.0.0.1', port: 2222, user: 'hut' })).toBe(shown);
    }
    expect(hostname()).not.toBe('');
  });
});

describe('controlPathProblem', () => {
  it('accepts the usual patterns', () => {
    for (const p of ['~/.ssh/cm-%r@%h:%p', '/tmp/%C', '${HOME}/.ssh/cm', '/tmp/100%%']) {
      expect(controlPathProblem(p)).toBeNull();
    }
  });

  it('names what is wrong', () => {
    expect(controlPathProblem('~/.ssh/cm-%x')).toMatch(/^unknown token "%x" \(supported: %%, %C, /);
    expect(controlPathProblem('/tmp/cm-%')).toMatch(/lone "%"/);
    expect(controlPathProblem('none')).toMatch(/turns connection sharing off/);
    expect(controlPathProblem('-oProxyCommand=x')).toMatch(/must not start with "-"/);
    expect(controlPathProblem('')).toBe('must not be empty');
    expect(controlPathProblem('/tmp/a\nb')).toMatch(/line breaks/);
    expect(controlPathProblem('/tmp/${HOME')).toMatch(/malformed/);
    expect(() => expandControlPath('/tmp/%j', ctx)).toThrow(
      /invalid control path "\/tmp\/%j": unknown token "%j"/,
    );
  });
});

describe('masterLoginCommand', () => {
  it('is the exact ssh -M command, quoted for a shell', () => {
    const t = { host: 'login.hpc.edu', port: 22, user: 'me', controlPath: '~/.ssh/cm-%r@%h:%p' };
    expect(masterLoginCommand(t)).toBe(
      "ssh -M -S '~/.ssh/cm-%r@%h:%p' -o ControlPersist=yes -fN -p 22 me@login.hpc.edu",
    );
    expect(masterLoginCommand({ ...t, controlPath: "/tmp/it's here/%C", port: 2222 })).toBe(
      "ssh -M -S '/tmp/it'\\''s here/%C' -o ControlPersist=yes -fN -p 2222 me@login.hpc.edu",
    );
  });

  it('uses -l for a user name that holds an @', () => {
    expect(
      masterLoginArgs({ host: 'h', port: 22, user: 'me@CAMPUS', controlPath: '/tmp/%C' }).slice(-3),
    ).toEqual(['-l', 'me@CAMPUS', 'h']);
  });
});
