#!/bin/sh
# kilowatch Slurm prolog (example): tells the kilowatch server that this job
# started on this node, with the UUIDs of the GPUs Slurm gave it here. Each
# node of a multi-node job reports its own part; the server merges them into
# one job, and merges them with what the node's collector reports itself.
#
# It never fails the job: whatever goes wrong (no kilowatch, server down,
# a refused event) is logged and the script exits 0, because a non-zero
# prolog drains the node in Slurm.
#
# Settings, from the environment of slurmd or set here:
#   KILOWATCH         the kilowatch command (default: kilowatch on PATH)
#   KILOWATCH_SERVER  the server's URL, e.g. http://kilowatch.example:8080
#                     (default: from kilowatch.yaml / KILOWATCH_HOST, KILOWATCH_PORT)
#   KILOWATCH_SITE    the site of this node, when the server owns several sites

# Slurm runs prologs and epilogs with no search path set.
PATH=${PATH:+$PATH:}/usr/local/bin:/usr/bin:/bin
export PATH
KILOWATCH=${KILOWATCH:-kilowatch}
TAG=kilowatch-prolog

# To syslog where there is one, and to stderr (seen when run by hand).
log() {
  logger -t "$TAG" -- "$*" 2>/dev/null
  echo "$TAG: $*" >&2
}

if [ -z "$SLURM_JOB_ID" ]; then
  log "no SLURM_JOB_ID; not run by Slurm, nothing reported"
  exit 0
fi

# The job's GPUs on this node, as indices (Slurm sets both in the prolog's environment).
indices=${CUDA_VISIBLE_DEVICES:-$SLURM_JOB_GPUS}
if [ -z "$indices" ]; then
  log "job $SLURM_JOB_ID holds no GPU on this node; nothing reported"
  exit 0
fi
# Ids are the GPUs' UUIDs, never indices (kilowatch's protocol: indices change across reboots).
gpus=$(nvidia-smi --query-gpu=uuid --format=csv,noheader -i "$indices" 2>/dev/null | tr -d ' ' | paste -sd, -)
if [ -z "$gpus" ]; then
  log "job $SLURM_JOB_ID: nvidia-smi gave no UUIDs for GPUs $indices; nothing reported"
  exit 0
fi

host=${SLURMD_NODENAME:-$(hostname -s)}
[ -n "$KILOWATCH_SITE" ] && host="$KILOWATCH_SITE/$host"

set -- job start --id "$SLURM_JOB_ID" --user "${SLURM_JOB_USER:-unknown}" \
  --project "${SLURM_JOB_ACCOUNT:-(none)}" --hosts "$host" --gpus "$gpus" --timeout-ms 5000
[ -n "$SLURM_JOB_PARTITION" ] && set -- "$@" --partition "$SLURM_JOB_PARTITION"
[ -n "$KILOWATCH_SERVER" ] && set -- "$@" --server "$KILOWATCH_SERVER"
# The node's own clock says when the job started, not the arrival time of the request (GNU date).
now=$(date +%s%3N 2>/dev/null)
case "$now" in *[!0-9]* | '') ;; *) set -- "$@" --start "$now" ;; esac

if out=$("$KILOWATCH" "$@" 2>&1); then
  log "$out"
else
  log "job $SLURM_JOB_ID not reported (the job runs regardless): $out"
fi
exit 0
