import { describe, expect, it } from 'vitest';
import { attachCommand, checkJobId, checkNodeName, debugAttachCommand, firstPbsNode } from '../src/index.js';

describe('terminal commands', () => {
  it('attaches to a Slurm job with srun --overlap, the job id validated', () => {
    expect(attachCommand('slurm', { jobId: '1234', node: 'vm' })).toBe(
      'srun --jobid=1234 --overlap --pty bash -l',
    );
    expect(attachCommand('slurm', { jobId: '77_3', node: null })).toBe(
      'srun --jobid=77_3 --overlap --pty bash -l',
    );
    expect(() => attachCommand('slurm', { jobId: '1; rm -rf ~', node: null })).toThrow(/jobId: not a job id/);
    expect(() => attachCommand('slurm', { jobId: '--help', node: null })).toThrow(/not a job id/);
  });

  it('attaches to a PBS job with ssh -tt to its first node, the node name validated', () => {
    expect(attachCommand('pbs', { jobId: '12.server', node: 'node01/0*2+node02/1' })).toBe(
      'ssh -tt -- node01 bash -l',
    );
    expect(() => attachCommand('pbs', { jobId: '12.server', node: null })).toThrow(/has no node yet/);
    expect(() => firstPbsNode('-oProxyCommand=x')).toThrow(/node: not a host name/);
    expect(() => checkNodeName('node 1')).toThrow(/not a host name/);
    expect(checkNodeName('gpu-01.cluster')).toBe('gpu-01.cluster');
    expect(checkJobId('4242[3].pbs-server')).toBe('4242[3].pbs-server');
  });

  it('attaches a debug terminal to the tmux session', () => {
    expect(debugAttachCommand('slurm', { jobId: '9', node: 'vm' }, 'shdbgabc')).toBe(
      'srun --jobid=9 --overlap --pty tmux -L shdbgabc attach-session -t shdbgabc',
    );
    expect(() => debugAttachCommand('slurm', { jobId: '9', node: 'vm' }, 'a;b')).toThrow(/tmux session/);
  });
});
