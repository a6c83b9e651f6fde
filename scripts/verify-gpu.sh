#!/usr/bin/env bash
# Read-only check of kilowatch's GPU sources on a machine with the NVIDIA driver
# (made for one H200). Run from the repo root with node_modules/ and dist/ built:
#   OUT=/some/dir scripts/verify-gpu.sh
# It only reads: nvidia-smi -L / --query-gpu / --help-query-gpu, and the NVML
# and nvidia-smi sources for about 10 s, with a few seconds of matmul load if
# python3 has torch or cupy. It never changes a GPU setting (no -pl, -mig, -ac,
# -lgc, -pm, -r). Writes $OUT/nvml-h200.json and $OUT/nvidia-smi-h200.json, plus
# $OUT/verify-gpu.log. Always exits 0; failures are written into the JSON.
set -u
cd "$(dirname "$0")/.." || exit 0
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
export OUT
SMI="${KW_VERIFY_NVIDIA_SMI:-nvidia-smi}"

{
  echo "== date: $(date -u +%FT%TZ)  host: $(hostname)  node: $(node --version 2>&1)"
  echo "== $SMI -L"
  timeout 20 "$SMI" -L || echo "(nvidia-smi -L failed with $?)"
  echo "== driver and limits"
  timeout 20 "$SMI" --query-gpu=index,name,uuid,driver_version,power.limit,enforced.power.limit,mig.mode.current --format=csv \
    || echo "(nvidia-smi --query-gpu failed with $?)"
  echo "== $SMI --help-query-gpu | head"
  timeout 20 "$SMI" --help-query-gpu | head -n 25 || true
  echo "== power fields this nvidia-smi lists"
  timeout 20 "$SMI" --help-query-gpu | grep -E '^"(power\.draw|total_energy|clocks_event_reasons\.active|clocks_throttle_reasons\.active)' || true
  echo "== python3 load tool"
  command -v python3 || echo "(no python3: the run measures without load)"
} 2>&1 | tee "$OUT/verify-gpu.log"

if [ ! -f dist/collector/sources/nvml.js ] || [ ! -f dist/collector/sources/nvidia-smi.js ]; then
  msg="dist/collector/sources/{nvml,nvidia-smi}.js missing: run npm run build:server before this script"
  echo "$msg" | tee -a "$OUT/verify-gpu.log"
  for f in nvml-h200.json nvidia-smi-h200.json; do
    printf '{"ok":false,"error":"%s"}\n' "$msg" > "$OUT/$f"
  done
  exit 0
fi

# 80 s hard cap: a stuck native call must not hold the machine.
timeout -s KILL 80 node scripts/verify-gpu.mjs 2>&1 | tee -a "$OUT/verify-gpu.log"
rc=${PIPESTATUS[0]}
echo "== verify-gpu.mjs exit status $rc (137 means it left hard, after writing the files, because a worker was stuck)" | tee -a "$OUT/verify-gpu.log"
for f in nvml-h200.json nvidia-smi-h200.json; do
  [ -s "$OUT/$f" ] || printf '{"ok":false,"error":"verify-gpu.mjs wrote nothing (exit status %s)"}\n' "$rc" > "$OUT/$f"
done
ls -l "$OUT"
exit 0
