#!/usr/bin/env bash
# End-to-end check of kilowatch on a machine with the NVIDIA driver: `kilowatch all`
# with --source auto (which must pick NVML), a few seconds of GPU load if python3 has
# torch, then the fleet and health documents and a summary of what DuckDB stored.
# Read-only for the GPU: it changes no setting. Run from the repo root after
# `npm run build`, with node_modules installed. Writes $OUT/e2e-*.json and a log.
set -u
cd "$(dirname "$0")/.." || exit 0
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
DATA=$(mktemp -d)
PORT=${KW_PORT:-18080}
node bin/kilowatch.js all --port "$PORT" --mqtt-port 0 --data-dir "$DATA" > "$OUT/e2e-kilowatch.log" 2>&1 &
PID=$!
for _ in $(seq 1 50); do grep -q "kilowatch: open" "$OUT/e2e-kilowatch.log" && break; sleep 0.2; done
sleep 3
python3 - <<'PY' > "$OUT/e2e-load.log" 2>&1 &
import time
try:
    import torch
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.float16)
    t = time.time(); print("load start", flush=True)
    while time.time() - t < 4:
        for _ in range(8): b = a @ a
        torch.cuda.synchronize()
    print("load end", flush=True)
except Exception as e:
    print("no load:", e)
PY
LOAD=$!
sleep 7
wait $LOAD
node -e "
const get = async (p) => (await fetch('http://127.0.0.1:$PORT' + p)).json();
const fs = require('fs');
(async () => {
  fs.writeFileSync('$OUT/e2e-fleet.json', JSON.stringify(await get('/api/v1/fleet'), null, 1));
  fs.writeFileSync('$OUT/e2e-health.json', JSON.stringify(await get('/api/v1/health'), null, 1));
})();"
kill -INT $PID; wait $PID; echo "kilowatch exit status $?" >> "$OUT/e2e-kilowatch.log"
node --input-type=module -e "
import { DuckDBInstance } from '@duckdb/node-api';
const db = await DuckDBInstance.create('$DATA/kilowatch.duckdb');
const c = await db.connect();
const rows = (await c.runAndReadAll(\`SELECT host, gpu_id, count(*)::INT AS windows, min(seq)::INT AS first_seq, max(seq)::INT AS last_seq,
  max(power_max_w) AS peak_w, avg(power_mean_w) AS mean_w, (max(energy_mj) - min(energy_mj)) AS counter_delta_mj,
  sum(power_mean_w * window_ms) AS integral_mj_approx FROM gpu_windows GROUP BY ALL\`)).getRowObjectsJS();
import('node:fs').then((fs) => fs.writeFileSync('$OUT/e2e-store.json', JSON.stringify(rows, (k, v) => (typeof v === 'bigint' ? Number(v) : v), 1)));
"
ls -l "$OUT"
exit 0
