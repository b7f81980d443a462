import { describe, expect, it } from 'vitest';
import { type Issue, ScriptHutError } from './errors.js';
import {
  findCycles,
  formatDuration,
  matchesPattern,
  normalizeMemory,
  parseGres,
  parseMemoryMiB,
  parseTaskDocument,
  parseTimeLimitSeconds,
} from './task-json.js';

const opts = { knownEnvironments: ['python-ml'] };

function issuesOf(fn: () => unknown): Issue[] {
  try {
    fn();
  } catch (e) {
    expect(ScriptHutError.is(e)).toBe(true);
    expect((e as ScriptHutError).code).toBe('task_json_invalid');
    return (e as ScriptHutError).issues.filter((i) => i.severity === 'error');
  }
  throw new Error('expected a task_json_invalid error');
}

describe('field helpers', () => {
  it('parses memory sizes', () => {
    expect(parseMemoryMiB('4G')).toBe(4096);
    expect(parseMemoryMiB('4g')).toBe(4096);
    expect(parseMemoryMiB('4GB')).toBe(4096);
    expect(parseMemoryMiB('500M')).toBe(500);
    expect(parseMemoryMiB('500mb')).toBe(500);
    expect(parseMemoryMiB('2048')).toBe(2048);
    expect(parseMemoryMiB('1T')).toBe(1024 * 1024);
    expect(parseMemoryMiB('1024K')).toBe(1);
    expect(parseMemoryMiB('1.5G')).toBe(1536);
    for (const bad of ['', 'G', '4X', '-1G', '0', '4 G B', 'four']) expect(parseMemoryMiB(bad)).toBeNull();
    expect(normalizeMemory('4gb')).toBe('4G');
    expect(normalizeMemory('1.5G')).toBe('1536M');
    expect(normalizeMemory('2048')).toBe('2048M');
  });

  it('parses time limits in every Slurm form', () => {
    expect(parseTimeLimitSeconds('1:00:00')).toBe(3600);
    expect(parseTimeLimitSeconds('01:30:15')).toBe(5415);
    expect(parseTimeLimitSeconds('90')).toBe(5400); // MM
    expect(parseTimeLimitSeconds('5:30')).toBe(330); // MM:SS
    expect(parseTimeLimitSeconds('2-12')).toBe(2 * 86400 + 12 * 3600); // D-HH
    expect(parseTimeLimitSeconds('1-02:30')).toBe(86400 + 2 * 3600 + 1800); // D-HH:MM
    expect(parseTimeLimitSeconds('1-02:03:04')).toBe(93784);
    for (const bad of ['', 'abc', '1:2:3:4', '1:60:00', '1:00:61', 'x-1', '0', '0:00:00', '1-', '-1']) {
      expect(parseTimeLimitSeconds(bad), bad).toBeNull();
    }
    expect(formatDuration(3600)).toBe('1:00:00');
    expect(formatDuration(93784)).toBe('1-02:03:04');
    expect(formatDuration(59)).toBe('0:00:59');
  });

  it('parses gres', () => {
    expect(parseGres('gpu:2')).toEqual({ name: 'gpu', type: null, count: 2 });
    expect(parseGres('gpu:v100:1')).toEqual({ name: 'gpu', type: 'v100', count: 1 });
    expect(parseGres('gpu')).toEqual({ name: 'gpu', type: null, count: 1 });
    for (const bad of ['', 'gpu:', 'gpu:x', ':2', 'gpu:v100:0', 'a:b:c:1', 'gpu;rm:1', '2']) {
      expect(parseGres(bad), bad).toBeNull();
    }
  });

  it('matches fnmatch wildcards over the whole id', () => {
    expect(matchesPattern('build.x', 'build.*')).toBe(true);
    expect(matchesPattern('build.x.y', 'build.*')).toBe(true);
    expect(matchesPattern('xbuild.x', 'build.*')).toBe(false);
    expect(matchesPattern('step.a', 'step.?')).toBe(true);
    expect(matchesPattern('step.ab', 'step.?')).toBe(false);
    expect(matchesPattern('data.a', 'data.[ab]')).toBe(true);
    expect(matchesPattern('data.c', 'data.[ab]')).toBe(false);
    expect(matchesPattern('data.c', 'data.[!ab]')).toBe(true);
    expect(matchesPattern('data.5', 'data.[0-9]')).toBe(true);
    expect(matchesPattern('a+b', 'a+*')).toBe(true); // regex metacharacters are literal
    expect(matchesPattern('aab', 'a+*')).toBe(false);
  });

  it('bracket expressions never make an invalid RegExp (reversed ranges are empty, as in fnmatch)', () => {
    // `[b-a]` used to reach `new RegExp` as is: a SyntaxError instead of a task JSON error
    expect(matchesPattern('xb', 'x[b-a]')).toBe(false);
    expect(matchesPattern('xa', 'x[b-ac]')).toBe(false);
    expect(matchesPattern('xc', 'x[b-ac]')).toBe(true);
    expect(matchesPattern('xq', 'x[!b-a]')).toBe(true);
    expect(matchesPattern('x-', 'x[a-c-e]')).toBe(true);
    expect(matchesPattern('xd', 'x[a-c-e]')).toBe(false);
    expect(matchesPattern('x]', 'x[]]')).toBe(true);
    expect(matchesPattern('xa', 'x[!]]')).toBe(true);
    expect(matchesPattern('x\\', 'x[\\]')).toBe(true);
    expect(matchesPattern('x^', 'x[a^]')).toBe(true);
    expect(matchesPattern('x-', 'x[-]')).toBe(true);
    expect(matchesPattern('x[', 'x[')).toBe(true);
    expect(matchesPattern('x\u{1F600}', 'x[\u{1F600}]')).toBe(false); // one UTF-16 unit per class, as before
    for (const pattern of ['[z-a]', '[\\-!]', '[--!]', '[a-\\]', '[\uDFFF-\uD800]']) {
      expect(() => matchesPattern('a', pattern)).not.toThrow();
    }
    const issues = issuesOf(() =>
      parseTaskDocument(
        {
          tasks: [
            { id: 'a', name: 'a', command: 'true', deps: ['b[z-a]*'] },
            { id: 'b1', name: 'b', command: 'true' },
          ],
        },
        opts,
      ),
    );
    expect(issues).toEqual([
      expect.objectContaining({
        path: 'tasks[0] (id "a").deps',
        message: 'wildcard dependency "b[z-a]*" matches no tasks',
      }),
    ]);
  });

  it('finds cycles with their path', () => {
    const deps: Record<string, string[]> = { a: ['b'], b: ['c'], c: ['a'], d: [] };
    expect(findCycles(Object.keys(deps), (id) => deps[id] ?? [])).toEqual([['a', 'b', 'c', 'a']]);
  });
});

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

describe('hostile-input review: image names and invalid Unicode', () => {
  const task = (extra: Record<string, unknown>) => ({
    tasks: [{ id: 'a', name: 'A', command: 'true', ...extra }],
  });

  it('rejects an image that docker would read as an option, naming the field', () => {
    for (const image of ['--privileged', '-v/:/host', '-']) {
      const issues = issuesOf(() => parseTaskDocument(task({ image }), opts));
      expect(issues).toEqual([
        expect.objectContaining({
          path: 'tasks[0] (id "a").image',
          message: `image ${JSON.stringify(image)} must not start with "-"`,
        }),
      ]);
    }
  });

  it('rejects image names outside the Docker reference grammar', () => {
    for (const image of [
      '',
      'ubuntu latest',
      'ubuntu:latest --privileged',
      'Ubuntu',
      'ubuntu;id',
      '$(id)',
      'ubuntu:',
      'ubuntu@sha256:abc',
      'registry.example.com//x',
      `a:${'t'.repeat(129)}`,
      `${'a'.repeat(256)}`,
      'a\u0000b',
    ]) {
      const issues = issuesOf(() => parseTaskDocument(task({ image }), opts));
      expect(issues.map((i) => i.path)).toEqual(['tasks[0] (id "a").image']);
    }
    const upper = issuesOf(() => parseTaskDocument(task({ image: 'Ubuntu:22.04' }), opts));
    expect(upper[0]!.message).toContain('repository names must be lowercase');
  });

  it('accepts the image references people use', () => {
    for (const image of [
      'ubuntu',
      'python:3.12-slim',
      'library/python:3.12',
      'ghcr.io/org/tool:1.0',
      'localhost:5000/my_img__x/a-b--c.d:v1.2_3',
      '123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:2024-01-01',
      '[::1]:5000/app',
      `alpine@sha256:${'a'.repeat(64)}`,
      `quay.io/org/img:tag@sha512:${'B'.repeat(128)}`,
    ]) {
      const parsed = parseTaskDocument(task({ image }), opts);
      expect(parsed.tasks[0]!.image).toBe(image);
    }
  });

  it('rejects lone UTF-16 surrogates in ids, names and every other string field, naming the field', () => {
    const lone = 'x\uD800y';
    const fields = [
      'id',
      'name',
      'command',
      'working_dir',
      'partition',
      'output_file',
      'error_file',
      'generates_source',
      'environment',
    ];
    for (const field of fields) {
      const issues = issuesOf(() => parseTaskDocument(task({ [field]: lone }), opts));
      expect(issues.map((i) => i.path)).toContain(
        field === 'id' ? `tasks[0] (id ${JSON.stringify(lone)}).id` : `tasks[0] (id "a").${field}`,
      );
      expect(issues.find((i) => i.path.endsWith(`.${field}`))!.message).toBe(
        'must be valid Unicode text: contains a lone UTF-16 surrogate (\\ud800) at index 1',
      );
    }
    const env = issuesOf(() => parseTaskDocument(task({ env_vars: { V: '\uDC00' } }), opts));
    expect(env).toEqual([expect.objectContaining({ path: 'tasks[0] (id "a").env_vars.V' })]);
    const deps = issuesOf(() =>
      parseTaskDocument(
        {
          tasks: [
            { id: 'a', name: 'A', command: 'true', deps: ['b\uDBFF'] },
            { id: 'b', name: 'B', command: 'true' },
          ],
        },
        opts,
      ),
    );
    expect(deps).toEqual([expect.objectContaining({ path: 'tasks[0] (id "a").deps[0]' })]);
    // the error message itself is printable (no lone surrogate copied into it)
    let message = '';
    try {
      parseTaskDocument(task({ id: lone }), opts);
    } catch (e) {
      message = (e as ScriptHutError).message;
    }
    expect(message).toContain('lone UTF-16 surrogate');
    expect(() => encodeURIComponent(message)).not.toThrow();
  });

  it('keeps valid astral characters (emoji, CJK) and ignores a broken title with a warning', () => {
    const parsed = parseTaskDocument(
      { title: 'T\uD800', tasks: [{ id: 'run-😀-数据', name: 'naïve 😀', command: 'echo 😀' }] },
      opts,
    );
    expect(parsed.tasks[0]!.id).toBe('run-😀-数据');
    expect(parsed.title).toBeUndefined();
    expect(parsed.warnings.map((w) => w.path)).toEqual(['title']);
  });
});
