#!/bin/sh
# kilowatch Slurm epilog (example): tells the kilowatch server that this job
# ended. The server ends it on every host it ran on; the epilogs of the
# other nodes of the same job then find it ended, which is not an error.
#
# It never fails: whatever goes wrong is logged and the script exits 0,
# because a non-zero epilog drains the node in Slurm. An end that never
# arrives leaves the job running in kilowatch, unless the node's collector
# saw the job's processes and reports their end; an operator can end it:
#   kilowatch job end --id <job id> --end <ms>
#
# Settings: KILOWATCH and KILOWATCH_SERVER, as in prolog.sh.

# Slurm runs prologs and epilogs with no search path set.
PATH=${PATH:+$PATH:}/usr/local/bin:/usr/bin:/bin
export PATH
KILOWATCH=${KILOWATCH:-kilowatch}
TAG=kilowatch-epilog

# To syslog where there is one, and to stderr (seen when run by hand).
log() {
  logger -t "$TAG" -- "$*" 2>/dev/null
  echo "$TAG: $*" >&2
}

if [ -z "$SLURM_JOB_ID" ]; then
  log "no SLURM_JOB_ID; not run by Slurm, nothing reported"
  exit 0
fi

# The prolog reported nothing on a node where the job held no GPU; neither does the epilog.
if [ -z "${CUDA_VISIBLE_DEVICES:-$SLURM_JOB_GPUS}" ]; then
  exit 0
fi

set -- job end --id "$SLURM_JOB_ID" --timeout-ms 5000
[ -n "$KILOWATCH_SERVER" ] && set -- "$@" --server "$KILOWATCH_SERVER"
now=$(date +%s%3N 2>/dev/null)
case "$now" in *[!0-9]* | '') ;; *) set -- "$@" --end "$now" ;; esac

if out=$("$KILOWATCH" "$@" 2>&1); then
  log "$out"
else
  log "end of job $SLURM_JOB_ID not reported: $out"
fi
exit 0
