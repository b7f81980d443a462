import { spawn } from 'node:child_process';
import { loadConfig } from '@scripthut/config';
import { ScriptHutError } from '@scripthut/core';
import { masterLoginFor } from '@scripthut/runtime';
import { command } from '../command.js';
import { CliError, ExitCode } from '../errors.js';

/** Runs ssh; resolves with its exit status once the process has exited (its pipes may live on in the master). */
function ssh(args: string[], env: NodeJS.ProcessEnv, stderr: (text: string) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    // stdin stays the terminal (ssh prompts on /dev/tty); the backgrounded master must not keep our stdout
    const child = spawn('ssh', args, { env, stdio: ['inherit', 'ignore', 'pipe'] });
    child.stderr!.on('data', (d: Buffer) => stderr(d.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      child.stderr!.destroy();
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}

/** `scripthut login BACKEND`: open the OpenSSH master connection of a backend with ssh.control_path. */
export default command({
  meta: {
    name: 'login',
    description:
      'Open the OpenSSH master connection of a backend with ssh.control_path (answer the password / MFA prompts once)',
  },
  args: {
    backend: { type: 'positional', description: 'Backend name (see `scripthut backend list`)' },
  },
  allowExtra: true,
  extraLabel: 'SSH OPTION',
  examples: ['scripthut login hpc', 'scripthut login hpc -- -J bastion.example.edu'],
  async run(args, ctx) {
    let login: ReturnType<typeof masterLoginFor>;
    try {
      const loaded = await loadConfig({
        ...(ctx.globals.config ? { path: ctx.globals.config } : {}),
        cwd: ctx.cwd,
      });
      const backend = loaded.config.backends.find((b) => b.name === args.backend);
      if (!backend) {
        const names = loaded.config.backends.map((b) => b.name);
        throw new CliError(`unknown backend "${args.backend}"`, {
          exitCode: ExitCode.notFound,
          hint: names.length ? `configured backends: ${names.join(', ')}` : 'no backends are configured',
        });
      }
      login = masterLoginFor(backend, args._);
    } catch (e) {
      if (ScriptHutError.is(e) && e.code === 'validation_failed')
        throw new CliError(e.message, { exitCode: ExitCode.usage });
      throw e;
    }
    const err = (text: string) => ctx.out.stderr.write(text);
    if ((await ssh(login.checkArgs, ctx.env, () => {})) === 0) {
      ctx.out.result(
        { backend: login.backend, socket: login.socketPath, running: true, started: false },
        () => `the master connection of backend ${login.backend} is already running (${login.socketPath})`,
      );
      return ExitCode.ok;
    }
    err(`Opening the master connection of backend ${login.backend}: ${login.command}\n`);
    const code = await ssh(login.loginArgs, ctx.env, err);
    if (code !== 0 || (await ssh(login.checkArgs, ctx.env, err)) !== 0)
      throw new CliError(
        `ssh exited with status ${code}: the master connection of backend ${login.backend} is not running`,
        {
          exitCode: ExitCode.failure,
          hint: `try the command yourself: ${login.command}`,
        },
      );
    ctx.out.result(
      { backend: login.backend, socket: login.socketPath, running: true, started: true },
      () =>
        `✓ master connection of backend ${login.backend} is running (${login.socketPath}); ScriptHut uses it for every command`,
    );
    return ExitCode.ok;
  },
});
