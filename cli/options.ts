/**
 * Every setting of kilowatch in one table: its place in kilowatch.yaml, its
 * KILOWATCH_* variable and its flag. Defaults live here and nowhere else;
 * docs/config.md and --help are read off this table.
 */

import { DEFAULT_PREFIX } from '../protocol/topics.js';

export type Command = 'server' | 'collector';

export interface OptionSpec {
  /** Dotted path in kilowatch.yaml, e.g. "server.port". */
  key: string;
  flag: string;
  env: string;
  kind: 'int' | 'string' | 'url' | 'list' | 'enum' | 'bool';
  default: number | string | string[] | boolean;
  min?: number;
  max?: number;
  values?: readonly string[];
  /** Which commands read it; `all` reads both. */
  for: readonly Command[];
  help: string;
}

const both = ['server', 'collector'] as const;
const server = ['server'] as const;
const collector = ['collector'] as const;

export const OPTIONS: readonly OptionSpec[] = [
  { key: 'mqtt.broker', flag: 'broker', env: 'KILOWATCH_BROKER', kind: 'url', default: '', for: both,
    help: 'MQTT broker URL (mqtt://host:port). Empty: the server embeds its own broker and the local collector uses it.' },
  { key: 'mqtt.prefix', flag: 'prefix', env: 'KILOWATCH_PREFIX', kind: 'string', default: DEFAULT_PREFIX, for: both,
    help: 'Topic prefix of protocol v1.' },
  { key: 'server.host', flag: 'host', env: 'KILOWATCH_HOST', kind: 'string', default: '127.0.0.1', for: server,
    help: 'Address the HTTP server and the embedded broker bind to.' },
  { key: 'server.auth', flag: 'auth', env: 'KILOWATCH_AUTH', kind: 'enum', default: 'none', values: ['none', 'tokens'], for: server,
    help: 'none: every caller is an admin (only on loopback, or with --insecure). tokens: API tokens (kilowatch token create), browser sessions from POST /api/v1/login, and the trusted proxy header when configured; roles viewer, operator, admin.' },
  { key: 'server.insecure', flag: 'insecure', env: 'KILOWATCH_INSECURE', kind: 'bool', default: false, for: server,
    help: 'Allows binding --host to a non-loopback address without authentication (HTTP and the embedded broker). For a lab network only.' },
  { key: 'server.tls_cert', flag: 'tls-cert', env: 'KILOWATCH_TLS_CERT', kind: 'string', default: '', for: server,
    help: 'PEM certificate (chain) for HTTPS and WSS; with server.tls_key.' },
  { key: 'server.tls_key', flag: 'tls-key', env: 'KILOWATCH_TLS_KEY', kind: 'string', default: '', for: server,
    help: 'PEM private key for HTTPS and WSS; with server.tls_cert.' },
  { key: 'server.auth_proxy_header', flag: 'auth-proxy-header', env: 'KILOWATCH_AUTH_PROXY_HEADER', kind: 'string', default: '', for: server,
    help: 'A header naming the user, set by a trusted reverse proxy (e.g. X-Forwarded-User from an OIDC proxy); accepted only from server.auth_proxy_addresses. Needs --auth tokens.' },
  { key: 'server.auth_proxy_role_header', flag: 'auth-proxy-role-header', env: 'KILOWATCH_AUTH_PROXY_ROLE_HEADER', kind: 'string', default: 'X-Forwarded-Role', for: server,
    help: 'The proxy header with the user\'s role (viewer, operator or admin); viewer when absent.' },
  { key: 'server.auth_proxy_addresses', flag: 'auth-proxy-addresses', env: 'KILOWATCH_AUTH_PROXY_ADDRESSES', kind: 'list', default: [], for: server,
    help: 'Remote addresses (IPs) the proxy header is accepted from.' },
  { key: 'server.allowed_origins', flag: 'allowed-origins', env: 'KILOWATCH_ALLOWED_ORIGINS', kind: 'list', default: [], for: server,
    help: 'Origins (https://host:port) whose pages may open the WebSocket, besides the server\'s own.' },
  { key: 'server.session_hours', flag: 'session-hours', env: 'KILOWATCH_SESSION_HOURS', kind: 'int', default: 12, min: 1, max: 720, for: server,
    help: 'How long a browser session from POST /api/v1/login lasts, hours.' },
  { key: 'server.port', flag: 'port', env: 'KILOWATCH_PORT', kind: 'int', default: 8080, min: 0, max: 65535, for: server,
    help: 'HTTP and WebSocket port (0 picks a free one).' },
  { key: 'server.mqtt_port', flag: 'mqtt-port', env: 'KILOWATCH_MQTT_PORT', kind: 'int', default: 1883, min: 0, max: 65535, for: server,
    help: 'Port of the embedded broker (0 picks a free one). Unused with --broker.' },
  { key: 'server.data_dir', flag: 'data-dir', env: 'KILOWATCH_DATA_DIR', kind: 'string', default: './data', for: server,
    help: 'Directory of the DuckDB file.' },
  { key: 'server.sites', flag: 'sites', env: 'KILOWATCH_SITES', kind: 'list', default: ['+'], for: server,
    help: 'Sites this server owns, comma-separated; "+" subscribes to every site.' },
  { key: 'server.max_payload_bytes', flag: 'max-payload-bytes', env: 'KILOWATCH_MAX_PAYLOAD_BYTES', kind: 'int', default: 262_144, min: 1024, max: 16_777_216, for: server,
    help: 'Payloads larger than this are rejected as oversized before parsing.' },
  { key: 'server.max_host_rate', flag: 'max-host-rate', env: 'KILOWATCH_MAX_HOST_RATE', kind: 'int', default: 500, min: 1, max: 1_000_000, for: server,
    help: 'Messages per second one host may send, sustained (bursts of 20 s worth are allowed: a spool replaying after an outage). More is refused as rate_limited, unacknowledged, so the collector sends it again later.' },
  { key: 'server.max_future_ms', flag: 'max-future-ms', env: 'KILOWATCH_MAX_FUTURE_MS', kind: 'int', default: 5000, min: 0, max: 600_000, for: server,
    help: 'Clock skew allowed: a window starting later than now plus this is rejected as future.' },
  { key: 'server.history_minutes', flag: 'history-minutes', env: 'KILOWATCH_HISTORY_MINUTES', kind: 'int', default: 15, min: 1, max: 240, for: server,
    help: 'Fleet power history held in memory for live views.' },
  { key: 'server.store_flush_ms', flag: 'store-flush-ms', env: 'KILOWATCH_STORE_FLUSH_MS', kind: 'int', default: 1000, min: 10, max: 60_000, for: server,
    help: 'Longest time a window waits in memory before it is appended to the store.' },
  { key: 'server.store_max_pending_rows', flag: 'store-max-pending-rows', env: 'KILOWATCH_STORE_MAX_PENDING_ROWS', kind: 'int', default: 500_000, min: 1000, max: 50_000_000, for: server,
    help: 'Bound of the store write buffer, in GPU rows; beyond it rows are dropped and counted.' },
  { key: 'server.store', flag: 'store', env: 'KILOWATCH_STORE', kind: 'enum', default: 'duckdb', values: ['duckdb', 'victoriametrics'], for: server,
    help: 'Where GPU windows are stored. duckdb: the embedded file under --data-dir. victoriametrics: the time-series engine at --victoria-url (delivery state, jobs and meters stay in DuckDB).' },
  { key: 'server.victoria_url', flag: 'victoria-url', env: 'KILOWATCH_VICTORIA_URL', kind: 'string', default: '', for: server,
    help: 'victoriametrics: its base URL, e.g. http://127.0.0.1:8428. It must run with -search.latencyOffset=0s and -dedup.minScrapeInterval set to the window length.' },
  { key: 'server.duckdb_memory_limit', flag: 'duckdb-memory-limit', env: 'KILOWATCH_DUCKDB_MEMORY_LIMIT', kind: 'string', default: '1GB', for: server,
    help: 'DuckDB memory_limit; its own default is most of RAM.' },
  { key: 'server.ack_interval_ms', flag: 'ack-interval-ms', env: 'KILOWATCH_ACK_INTERVAL_MS', kind: 'int', default: 1000, min: 100, max: 2000, for: server,
    help: 'At most one _ack per host per this interval (protocol: every second or two).' },
  { key: 'server.delivery_state_days', flag: 'delivery-state-days', env: 'KILOWATCH_DELIVERY_STATE_DAYS', kind: 'int', default: 7, min: 1, max: 400, for: server,
    help: 'How long the delivery state of a collector boot is kept; at least the longest spool age.' },
  { key: 'server.raw_retention_days', flag: 'raw-retention-days', env: 'KILOWATCH_RAW_RETENTION_DAYS', kind: 'int', default: 7, min: 1, max: 3650, for: server,
    help: 'Raw windows (1 s resolution) are kept this many days, then deleted a whole day at a time.' },
  { key: 'server.site_config', flag: 'site-config', env: 'KILOWATCH_SITE_CONFIG', kind: 'string', default: '', for: server,
    help: 'The site file (YAML): groups of hosts with their meters, and power sources with capacity, tariff and carbon. See docs/demo-site.yaml. kilowatch all with the simulated fleet uses that demo file when none is given.' },
  { key: 'server.alert_rules', flag: 'alert-rules', env: 'KILOWATCH_ALERT_RULES', kind: 'string', default: '', for: server,
    help: 'The alert rules file (YAML): rules that are read-only in the UI, and the webhooks firing alerts go to. Reloaded on SIGHUP; a bad file is refused whole and the running rules stay. See docs/alert-rules.yaml.' },
  { key: 'server.time_zone', flag: 'time-zone', env: 'KILOWATCH_TIME_ZONE', kind: 'string', default: 'UTC', for: server,
    help: 'IANA time zone of the site, in which efficiency reports count days (e.g. Europe/Berlin).' },
  { key: 'server.rollup_retention_days', flag: 'rollup-retention-days', env: 'KILOWATCH_ROLLUP_RETENTION_DAYS', kind: 'int', default: 400, min: 1, max: 36500, for: server,
    help: 'One-minute rollups (mean, min, max, last, energy, coverage per GPU and host) are kept this many days; queries older than the raw retention use them.' },
  { key: 'collector.site', flag: 'site', env: 'KILOWATCH_SITE', kind: 'string', default: 'local', for: collector,
    help: 'Site this collector belongs to.' },
  { key: 'collector.source', flag: 'source', env: 'KILOWATCH_SOURCE', kind: 'enum', default: 'auto', values: ['auto', 'nvml', 'nvidia-smi', 'prometheus', 'sim', 'none', 'tasmota', 'shelly', 'zigbee2mqtt', 'mqtt-json', 'redfish', 'ipmi-dcmi', 'snmp-pdu', 'modbus', 'kubelet'], for: collector,
    help: 'GPU source. auto: NVML when the NVIDIA driver is present, else the labelled simulated fleet. prometheus: scrape --scrape-url. none: no GPUs, only --meters or --pollers. The meter and poller kinds and kubelet are for --replay.' },
  { key: 'collector.meters', flag: 'meters', env: 'KILOWATCH_METERS', kind: 'list', default: [], for: collector,
    help: 'Power meters to listen for on the site broker, comma-separated: tasmota, shelly, zigbee2mqtt, mqtt-json. Each meter becomes its own spooled stream of this host.' },
  { key: 'collector.meter_broker', flag: 'meter-broker', env: 'KILOWATCH_METER_BROKER', kind: 'url', default: '', for: collector,
    help: "The site broker the meters publish to. Empty: the collector's own broker (--broker, or the embedded one)." },
  { key: 'collector.meter_window_ms', flag: 'meter-window-ms', env: 'KILOWATCH_METER_WINDOW_MS', kind: 'int', default: 10_000, min: 1000, max: 3_600_000, for: collector,
    help: 'Window of the meter streams. Meters report every few seconds to minutes (Tasmota TelePeriod, Shelly), so a window holds their readings of that span.' },
  { key: 'collector.meter_map', flag: 'meter-map', env: 'KILOWATCH_METER_MAP', kind: 'string', default: '', for: collector,
    help: 'mqtt-json: a JSON file of mappings [{"topic": "inverter/+/state", "meter": "pv-$1", "fields": {"power_w": {"path": "ac.power", "sign": -1}}}] (fields: power_w, energy_import_wh, energy_export_wh, voltage_v, current_a, pf, ts; each with path, optional scale and sign).' },
  { key: 'collector.pollers', flag: 'pollers', env: 'KILOWATCH_POLLERS', kind: 'string', default: '', for: collector,
    help: 'A file (YAML or JSON) of data-center power sources this collector polls: Redfish and IPMI DCMI BMCs, SNMP rack PDUs, Modbus TCP meters. Each becomes meter streams of this host. The format is in docs/config.md, "Pollers file".' },
  { key: 'collector.zigbee2mqtt_base', flag: 'zigbee2mqtt-base', env: 'KILOWATCH_ZIGBEE2MQTT_BASE', kind: 'string', default: 'zigbee2mqtt', for: collector,
    help: "zigbee2mqtt: the bridge's base_topic." },
  { key: 'collector.replay', flag: 'replay', env: 'KILOWATCH_REPLAY', kind: 'string', default: '', for: collector,
    help: 'Read this file as the source would (nvidia-smi CSV with header, a Prometheus scrape, one meter payload, one Redfish resource as JSON, the output of ipmitool dcmi power reading; snmp-pdu: the output of snmpwalk -On of the PDU, its profile found from the OIDs or named in a first line "# profile: apc-rpdu2"; modbus: JSON with the register map as in a pollers entry and the words read, by address, e.g. {"map": "sdm630", "input_registers": {"0": "0x4366", "1": 6554}}; kubelet: the JSON of a pod resources List answer as grpcurl prints it), print the protocol messages it would publish as JSON lines, and exit. No broker.' },
  { key: 'collector.topic', flag: 'topic', env: 'KILOWATCH_TOPIC', kind: 'string', default: '', for: collector,
    help: 'With --replay of a meter payload: the MQTT topic it was published on.' },
  { key: 'collector.scrape_url', flag: 'scrape-url', env: 'KILOWATCH_SCRAPE_URL', kind: 'string', default: '', for: collector,
    help: 'prometheus: the exporter to scrape, e.g. http://127.0.0.1:9400/metrics (dcgm-exporter) or :9835/metrics (nvidia_gpu_exporter).' },
  { key: 'collector.scrape_interval_ms', flag: 'scrape-interval-ms', env: 'KILOWATCH_SCRAPE_INTERVAL_MS', kind: 'int', default: 30_000, min: 1000, max: 600_000, for: collector,
    help: "prometheus: scrape at the exporter's own pace (dcgm-exporter refreshes every 30 s by default)." },
  { key: 'collector.host', flag: 'host-id', env: 'KILOWATCH_HOST_ID', kind: 'string', default: '', for: collector,
    help: "nvml, nvidia-smi: this host's name in topics and the UI. Empty: the machine's hostname." },
  { key: 'collector.hosts', flag: 'hosts', env: 'KILOWATCH_HOSTS', kind: 'int', default: 8, min: 1, max: 10_000, for: collector,
    help: 'sim: number of simulated hosts, each with its own MQTT connection.' },
  { key: 'collector.gpus', flag: 'gpus', env: 'KILOWATCH_GPUS', kind: 'int', default: 8, min: 1, max: 64, for: collector,
    help: 'sim: GPUs per simulated host.' },
  { key: 'collector.seed', flag: 'seed', env: 'KILOWATCH_SEED', kind: 'int', default: 1, min: 0, max: 2 ** 31 - 1, for: collector,
    help: 'sim: seed; the same seed gives the same power traces.' },
  { key: 'collector.host_name', flag: 'host-name', env: 'KILOWATCH_HOST_NAME', kind: 'string', default: 'sim', for: collector,
    help: 'sim: host name stem; hosts are named <stem>-00, <stem>-01, ...' },
  { key: 'collector.window_ms', flag: 'window-ms', env: 'KILOWATCH_WINDOW_MS', kind: 'int', default: 1000, min: 100, max: 60_000, for: collector,
    help: 'Length of a published window.' },
  { key: 'collector.spool_dir', flag: 'spool-dir', env: 'KILOWATCH_SPOOL_DIR', kind: 'string', default: '', for: collector,
    help: 'Directory of the disk spool, which survives a collector restart. Empty: a memory spool, whose unacknowledged windows are lost with the process (and counted as loss).' },
  { key: 'collector.spool_max_messages', flag: 'spool-max-messages', env: 'KILOWATCH_SPOOL_MAX_MESSAGES', kind: 'int', default: 3600, min: 1, max: 10_000_000, for: collector,
    help: 'Messages one stream of one host may hold unacknowledged; the oldest are dropped beyond it, counted and reported as loss.' },
  { key: 'collector.spool_max_mb', flag: 'spool-max-mb', env: 'KILOWATCH_SPOOL_MAX_MB', kind: 'int', default: 64, min: 1, max: 100_000, for: collector,
    help: 'Bytes one stream of one host may hold unacknowledged, in MiB.' },
  { key: 'collector.ack_timeout_ms', flag: 'ack-timeout-ms', env: 'KILOWATCH_ACK_TIMEOUT_MS', kind: 'int', default: 6000, min: 3000, max: 600_000, for: collector,
    help: 'A message not acknowledged within this is resent (protocol: at least three ack intervals of up to 2 s).' },
  { key: 'collector.resend_per_s', flag: 'resend-per-s', env: 'KILOWATCH_RESEND_PER_S', kind: 'int', default: 200, min: 1, max: 100_000, for: collector,
    help: 'Resends per second per stream and host, so a backlog never crowds out live windows.' },
  { key: 'collector.record', flag: 'record', env: 'KILOWATCH_RECORD', kind: 'string', default: '', for: collector,
    help: 'Append every message produced (stream, boot, seq, ts, energy) and every dropped range to this file, as JSON lines.' },
  { key: 'collector.shutdown_wait_ms', flag: 'shutdown-wait-ms', env: 'KILOWATCH_SHUTDOWN_WAIT_MS', kind: 'int', default: 3000, min: 0, max: 60_000, for: collector,
    help: 'On stop, how long to wait for the last windows to be acknowledged.' },
  { key: 'collector.job_pattern', flag: 'job-pattern', env: 'KILOWATCH_JOB_PATTERN', kind: 'string', default: '', for: collector,
    help: 'A regular expression over /proc/<pid>/cgroup paths whose first group is a job id, tried before the Slurm and Kubernetes shapes.' },
  { key: 'collector.jobs_from', flag: 'jobs-from', env: 'KILOWATCH_JOBS_FROM', kind: 'enum', default: 'proc', values: ['proc', 'kubelet'], for: collector,
    help: "Where a real host's jobs come from. proc: its GPU processes, mapped to Slurm jobs or pods through /proc/<pid>/cgroup. kubelet: the kubelet's pod resources API says which pod holds which GPU (Kubernetes); each pod is a job <namespace>/<pod>." },
  { key: 'collector.kubelet_socket', flag: 'kubelet-socket', env: 'KILOWATCH_KUBELET_SOCKET', kind: 'string', default: '/var/lib/kubelet/pod-resources/kubelet.sock', for: collector,
    help: "--jobs-from kubelet: the kubelet's pod resources socket (the collector needs read access to it)." },
  { key: 'collector.health_log_s', flag: 'health-log-s', env: 'KILOWATCH_HEALTH_LOG_S', kind: 'int', default: 60, min: 0, max: 86_400, for: collector,
    help: 'Every this many seconds (0: never) the collector logs one line of health: readings dropped by reason, source timeouts and restarts, windows produced, resent, dropped and still spooled.' },
  { key: 'collector.sample_ms', flag: 'sample-ms', env: 'KILOWATCH_SAMPLE_MS', kind: 'int', default: 100, min: 50, max: 60_000, for: collector,
    help: 'Sampling interval of power and energy (never faster than 50 ms).' },
];
