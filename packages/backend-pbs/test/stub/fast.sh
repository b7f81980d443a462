# Fast path of the stub (when $PBS_STUB/fast exists): every id is a running job; no state file;
# qselect lists the ids in $PBS_STUB/live (none queued).
# Used for the 20,000-id test, where starting node per qstat chunk would dominate the run time.
cmd=$1
shift
ids=()
opts=()
for a in "$@"; do
  case $a in
  -*) opts+=("$a") ;;
  json) ;;
  *) ids+=("$a") ;;
  esac
done
echo "$cmd ${#ids[@]} ${opts[*]}" >>"$PBS_STUB/calls.log"
if [ "$cmd" = qselect ]; then
  case "${opts[*]}" in *-s*) ;; *) cat "$PBS_STUB/live" 2>/dev/null ;; esac
  exit 0
fi
[ "$cmd" = qstat ] || exit 0
case "${opts[*]}" in
--version) echo 'pbs_version = 23.06.06'; exit 0 ;;
*B*) printf 'Server: stub\n    pbs_version = 23.06.06\n    job_history_enable = True\n'; exit 0 ;;
esac
printf '{\n\t"pbs_server":\t"stub",\n\t"Jobs":\t{\n'
sep=
for id in "${ids[@]}"; do
  printf '%s\t\t"%s":\t{\n\t\t\t"job_state":\t"R"\n\t\t}' "$sep" "$id"
  sep=$',\n'
done
printf '\n\t}\n}\n'
