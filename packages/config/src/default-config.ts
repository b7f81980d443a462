/**
 * The configuration used when no scripthut.yaml is found: a `local` backend (tasks run as
 * subprocesses of the ScriptHut host) and a `demo` workflow whose command prints a small
 * fan-out/fan-in DAG with a wildcard dependency. The command needs only a POSIX shell and printf.
 */
export const DEFAULT_CONFIG_YAML = `# Embedded default configuration of ScriptHut (used when no scripthut.yaml is found).
backends:
  - name: local
    type: local

workflows:
  - name: demo
    backend: local
    description: "Demo DAG: prepare -> work.1..work.4 in parallel -> report (deps: work.*)"
    command: |
      printf '{"tasks":[{"id":"prepare","name":"Prepare","command":"echo preparing inputs; sleep 1"}'
      for i in 1 2 3 4; do
        printf ',{"id":"work.%s","name":"Work %s","command":"sleep 1; echo work item %s done","deps":["prepare"]}' "$i" "$i" "$i"
      done
      printf ',{"id":"report","name":"Report","command":"echo all work items finished","deps":["work.*"]}]}\\n'
`;
