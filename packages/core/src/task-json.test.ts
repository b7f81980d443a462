import { describe, expect, it } from 'vitest';
import { issuesOf, taskJsonOptions as opts } from '../test/task-json-issues.js';
import { parseTaskDocument } from './task-json.js';

describe('parseTaskDocument', () => {
  it('accepts the object form with defaults applied', () => {
    const { tasks, title, warnings } = parseTaskDocument(
      JSON.stringify({ title: 'T', tasks: [{ id: 'a', name: 'A', command: 'echo a' }] }),
      opts,
    );
    expect(title).toBe('T');
    expect(warnings).toEqual([]);
    expect(tasks).toEqual([
      {
        id: 'a',
        name: 'A',
        command: 'echo a',
        workingDir: '~',
        partition: null,
        cpus: 1,
        memory: '4G',
        memoryMiB: 4096,
        timeLimit: '1:00:00',
        timeLimitSeconds: 3600,
        gres: null,
        image: null,
        deps: [],
        depPatterns: [],
        outputFile: null,
        errorFile: null,
        environment: null,
        envVars: {},
        generatesSource: null,
      },
    ]);
  });

  it('accepts the bare array form, every field, and the dependencies alias', () => {
    const { tasks } = parseTaskDocument(
      [
        { id: 'a', name: 'A', command: 'x' },
        {
          id: 'b',
          name: 'B',
          command: 'y\nz',
          working_dir: '/w',
          partition: 'gpu',
          cpus: 4,
          memory: '16g',
          time_limit: '4:00:00',
          gres: 'gpu:v100:1',
          image: 'img:1',
          dependencies: ['a'],
          output_file: '/o',
          error_file: '/e',
          environment: 'python-ml',
          env_vars: { A: '1' },
          generates_source: 'more.json',
        },
      ],
      opts,
    );
    const b = tasks[1]!;
    expect(b).toMatchObject({
      workingDir: '/w',
      partition: 'gpu',
      cpus: 4,
      memory: '16G',
      memoryMiB: 16384,
      timeLimitSeconds: 14400,
      gres: 'gpu:v100:1',
      image: 'img:1',
      deps: ['a'],
      outputFile: '/o',
      errorFile: '/e',
      environment: 'python-ml',
      envVars: { A: '1' },
      generatesSource: 'more.json',
      command: 'y\nz',
    });
  });

  it('warns about unknown fields, coerced env values and SCRIPTHUT_* keys without using them', () => {
    const { tasks, warnings } = parseTaskDocument(
      {
        tasks: [
          {
            id: 'a',
            name: 'A',
            command: 'x',
            colour: 'blue',
            env_vars: { N: 3, B: true, SCRIPTHUT_RUN_ID: 'fake' },
          },
        ],
        extra: 1,
      },
      opts,
    );
    expect(tasks[0]!.envVars).toEqual({ N: '3', B: 'true' });
    expect(tasks[0]).not.toHaveProperty('colour');
    const paths = warnings.map((w) => w.path);
    expect(paths).toContain('tasks[0] (id "a").colour');
    expect(paths).toContain('tasks[0] (id "a").env_vars.N');
    expect(paths).toContain('tasks[0] (id "a").env_vars.B');
    expect(paths).toContain('tasks[0] (id "a").env_vars.SCRIPTHUT_RUN_ID');
    expect(paths).toContain('extra');
    expect(warnings.every((w) => w.severity === 'warning')).toBe(true);
  });

  it('accepts site-policy fields (qos, constraint, reservation, exclusive, clusters, extra_directives)', () => {
    const { tasks } = parseTaskDocument(
      [
        {
          id: 'a',
          name: 'A',
          command: 'x',
          qos: 'high',
          constraint: '[rack1*2&rack2*4]|(gpu&a100)',
          reservation: 'maint_2026',
          exclusive: 'user',
          clusters: 'c1,c2',
          extra_directives: ['--mail-type=END,FAIL', ' --signal=B:USR1@60 '],
        },
        { id: 'b', name: 'B', command: 'y', exclusive: false, qos: null },
        { id: 'c', name: 'C', command: 'z' },
      ],
      opts,
    );
    expect(tasks[0]).toMatchObject({
      qos: 'high',
      constraint: '[rack1*2&rack2*4]|(gpu&a100)',
      reservation: 'maint_2026',
      exclusive: 'user',
      clusters: 'c1,c2',
      extraDirectives: ['--mail-type=END,FAIL', '--signal=B:USR1@60'],
    });
    expect(tasks[1]).toMatchObject({ exclusive: false, qos: null });
    expect('qos' in tasks[2]! || 'extraDirectives' in tasks[2]!).toBe(false);
  });

  it('rejects site-policy values that could be read as options or break a directive, naming the field', () => {
    const issues = issuesOf(() =>
      parseTaskDocument(
        [
          {
            id: 'a',
            name: 'A',
            command: 'x',
            qos: '-M other',
            constraint: '-gpu',
            reservation: 'r;x',
            exclusive: 'yes',
            clusters: 'a,,b',
            extra_directives: ['--ok', 'no-dash', '--a\nb', 3],
          },
          { id: 'b', name: 'B', command: 'y', extra_directives: '--x' },
        ],
        opts,
      ),
    );
    const at = (path: string) => issues.find((i) => i.path === path)?.message;
    expect(at('tasks[0] (id "a").qos')).toMatch(/invalid QOS name "-M other"/);
    expect(at('tasks[0] (id "a").constraint')).toMatch(/invalid constraint/);
    expect(at('tasks[0] (id "a").reservation')).toMatch(/invalid reservation name/);
    expect(at('tasks[0] (id "a").exclusive')).toMatch(/must be true, false or one of "user", "mcs", "topo"/);
    expect(at('tasks[0] (id "a").clusters')).toMatch(/invalid cluster list/);
    expect(at('tasks[0] (id "a").extra_directives[0]')).toBeUndefined();
    expect(at('tasks[0] (id "a").extra_directives[1]')).toMatch(/starting with "-"/);
    expect(at('tasks[0] (id "a").extra_directives[2]')).toMatch(/control characters/);
    expect(at('tasks[0] (id "a").extra_directives[3]')).toMatch(/must be a string/);
    expect(at('tasks[1] (id "b").extra_directives')).toMatch(/must be an array/);
  });

  it('rejects env_vars reserved for the job script (__SCRIPTHUT_*); PATH and HOME are the task’s own', () => {
    const issues = issuesOf(() =>
      parseTaskDocument(
        [{ id: 'a', name: 'A', command: 'x', env_vars: { __SCRIPTHUT_MARKER: '/tmp/x', PATH: '/x' } }],
        opts,
      ),
    );
    expect(issues.map((i) => [i.path, i.message])).toEqual([
      [
        'tasks[0] (id "a").env_vars.__SCRIPTHUT_MARKER',
        "__SCRIPTHUT_* names are reserved for ScriptHut's job script",
      ],
    ]);
    const { tasks } = parseTaskDocument(
      [{ id: 'a', name: 'A', command: 'x', env_vars: { PATH: '/nonexistent', HOME: '/h' } }],
      opts,
    );
    expect(tasks[0]!.envVars).toEqual({ PATH: '/nonexistent', HOME: '/h' });
  });

  it('expands wildcards excluding the task itself, against existing ids too', () => {
    const { tasks } = parseTaskDocument(
      [
        { id: 'setup.init', name: 's', command: 'x' },
        { id: 'build.x', name: 'x', command: 'x', deps: ['setup.*'] },
        { id: 'build.y', name: 'y', command: 'x', deps: ['setup.init'] },
        { id: 'build.all', name: 'm', command: 'x', deps: ['build.*'] },
      ],
      opts,
    );
    expect(tasks[3]!.deps.sort()).toEqual(['build.x', 'build.y']);
    expect(tasks[3]!.depPatterns).toEqual(['build.*']);
    const gen = parseTaskDocument([{ id: 'agg', name: 'a', command: 'x', deps: ['sim.*', 'plan'] }], {
      ...opts,
      existingTaskIds: ['plan', 'sim.1', 'sim.2'],
    });
    expect(gen.tasks[0]!.deps.sort()).toEqual(['plan', 'sim.1', 'sim.2']);
  });

  it('reports every error at once with precise paths', () => {
    const issues = issuesOf(() =>
      parseTaskDocument(
        [
          { id: 'a', name: 'A', command: 'x', memory: 'lots' },
          { id: 'a', name: 'A2', command: 'x' },
          { id: 'b', name: 'B', command: 'x', deps: ['nope', 'b', 'zz*'] },
          { id: 'c', name: 'C', command: 'x', time_limit: '1:99:00', gres: 'gpu:x', cpus: 0 },
          { id: 'd', name: 'D', command: 'x', environment: 'julia', env_vars: { 'BAD-NAME': 'x' } },
          { name: 'no id', command: 'x' },
          { id: 'e', name: 'E', command: 42, partition: 'a b' },
          'not an object',
          { id: 'f\nx', name: 'F', command: 'x' },
        ],
        { ...opts, source: 'wf.json' },
      ),
    );
    const text = issues.map((i) => `${i.path}: ${i.message}`).join('\n');
    expect(text).toContain('tasks[0] (id "a").memory: invalid memory');
    expect(text).toContain('tasks[1] (id "a").id: duplicate task id "a"');
    expect(text).toContain('tasks[2] (id "b").deps: dependency "nope" is not a task id');
    expect(text).toContain('tasks[2] (id "b").deps: task "b" depends on itself');
    expect(text).toContain('tasks[2] (id "b").deps: wildcard dependency "zz*" matches no tasks');
    expect(text).toContain('tasks[3] (id "c").time_limit');
    expect(text).toContain('tasks[3] (id "c").gres');
    expect(text).toContain('tasks[3] (id "c").cpus');
    expect(text).toContain('tasks[4] (id "d").environment: unknown environment "julia"');
    expect(text).toContain('tasks[4] (id "d").env_vars.BAD-NAME');
    expect(text).toContain('tasks[5].id: is required');
    expect(text).toContain('tasks[6] (id "e").command: must be a string');
    expect(text).toContain('tasks[6] (id "e").partition');
    expect(text).toContain('tasks[7]: a task must be an object');
    expect(text).toContain('.id: must not contain control characters');
    expect(issues.every((i) => i.file === 'wf.json')).toBe(true);
    expect(issues.length).toBeGreaterThanOrEqual(15);
  });

  it('the error message lists all issues', () => {
    try {
      parseTaskDocument([{ id: 'a', name: 'A', command: 'x', cpus: -1, memory: '?' }], opts);
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).toMatch(/2 errors/);
      expect((e as Error).message).toContain('cpus');
      expect((e as Error).message).toContain('memory');
    }
  });

  it('prints the cycle path', () => {
    const issues = issuesOf(() =>
      parseTaskDocument(
        [
          { id: 'a', name: 'a', command: 'x', deps: ['c'] },
          { id: 'b', name: 'b', command: 'x', deps: ['a'] },
          { id: 'c', name: 'c', command: 'x', deps: ['b'] },
          { id: 'd', name: 'd', command: 'x', deps: ['a'] },
        ],
        opts,
      ),
    );
    expect(issues).toHaveLength(1);
    expect(issues[0]!.message).toBe('circular dependency detected: a -> c -> b -> a');
  });

  it('reports invalid JSON with its position', () => {
    const issues = issuesOf(() => parseTaskDocument('{"tasks": [\n  {"id": "a",, }\n]}', opts));
    expect(issues).toHaveLength(1);
    expect(issues[0]!.message).toMatch(/not valid JSON/);
    expect(issues[0]!.line).toBe(2);
    expect(issues[0]!.column).toBeGreaterThan(1);
  });

  it('rejects documents of the wrong shape', () => {
    expect(issuesOf(() => parseTaskDocument('42', opts))[0]!.message).toMatch(/expected an object/);
    expect(issuesOf(() => parseTaskDocument({ tasks: {} }, opts))[0]!.path).toBe('tasks');
    expect(issuesOf(() => parseTaskDocument({}, opts))[0]!.message).toMatch(/missing "tasks"/);
  });

  it('rejects generated ids that clash with tasks already in the run', () => {
    const issues = issuesOf(() =>
      parseTaskDocument([{ id: 'plan', name: 'p', command: 'x' }], { ...opts, existingTaskIds: ['plan'] }),
    );
    expect(issues[0]!.message).toMatch(/already exists in the run/);
  });

  it('handles a 20,000-task document with wildcard fan-ins', () => {
    const tasks: object[] = [];
    for (let g = 0; g < 200; g++) {
      for (let i = 0; i < 99; i++) tasks.push({ id: `g${g}.w${i}`, name: 'w', command: 'x' });
      tasks.push({ id: `g${g}.merge`, name: 'm', command: 'x', deps: [`g${g}.w*`] });
    }
    const parsed = parseTaskDocument({ tasks }, opts);
    expect(parsed.tasks).toHaveLength(20_000);
    expect(parsed.tasks[99]!.deps).toHaveLength(99);
    expect(parsed.tasks[99]!.deps[0]).toBe('g0.w0');
    expect(parsed.tasks[20_000 - 1]!.deps).toHaveLength(99);
    expect(parsed.tasks[20_000 - 1]!.deps.every((d) => d.startsWith('g199.w'))).toBe(true);
  });
});
