/** The server's frozen configuration, projected from the checked option values. */
import type { Values } from '../cli/config-layers.js';
import type { MqttCredentialSettings } from '../cli/mqtt-credentials.js';

export interface ServerConfig {
  readonly host: string;
  readonly port: number;
  readonly mqttPort: number;
  /** External broker URL; empty means the embedded Aedes broker. */
  readonly brokerUrl: string;
  readonly prefix: string;
  readonly sites: readonly string[];
  readonly dataDir: string;
  readonly maxPayloadBytes: number;
  readonly maxFutureMs: number;
  readonly historyMinutes: number;
  readonly storeFlushMs: number;
  readonly storeMaxPendingRows: number;
  readonly duckdbMemoryLimit: string;
  readonly ackIntervalMs: number;
  readonly deliveryStateDays: number;
  readonly rawRetentionDays: number;
  readonly rollupRetentionDays: number;
  /** IANA time zone in which "a day" is counted for efficiency reports. */
  readonly timeZone: string;
  readonly store: 'duckdb' | 'victoriametrics';
  /** The site file; empty when none. */
  readonly siteConfig: string;
  readonly victoriaUrl: string;
  /** The alert rules file; empty when none. */
  readonly alertRules: string;
  readonly auth: 'none' | 'tokens';
  readonly insecure: boolean;
  readonly tlsCert: string;
  readonly tlsKey: string;
  readonly authProxyHeader: string;
  readonly authProxyRoleHeader: string;
  readonly authProxyAddresses: readonly string[];
  readonly allowedOrigins: readonly string[];
  readonly sessionHours: number;
  readonly maxHostRate: number;
  readonly mqttAuth: MqttCredentialSettings;
}

/** 127.0.0.0/8, ::1 and localhost: only this machine can connect. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export function serverConfig(v: Values): ServerConfig {
  return Object.freeze({
    host: v.get('server.host') as string,
    port: v.get('server.port') as number,
    mqttPort: v.get('server.mqtt_port') as number,
    brokerUrl: v.get('mqtt.broker') as string,
    prefix: v.get('mqtt.prefix') as string,
    sites: Object.freeze([...(v.get('server.sites') as string[])]),
    dataDir: v.get('server.data_dir') as string,
    maxPayloadBytes: v.get('server.max_payload_bytes') as number,
    maxFutureMs: v.get('server.max_future_ms') as number,
    historyMinutes: v.get('server.history_minutes') as number,
    storeFlushMs: v.get('server.store_flush_ms') as number,
    storeMaxPendingRows: v.get('server.store_max_pending_rows') as number,
    duckdbMemoryLimit: v.get('server.duckdb_memory_limit') as string,
    ackIntervalMs: v.get('server.ack_interval_ms') as number,
    deliveryStateDays: v.get('server.delivery_state_days') as number,
    rawRetentionDays: v.get('server.raw_retention_days') as number,
    rollupRetentionDays: v.get('server.rollup_retention_days') as number,
    timeZone: v.get('server.time_zone') as string,
    store: v.get('server.store') as ServerConfig['store'],
    siteConfig: v.get('server.site_config') as string,
    victoriaUrl: v.get('server.victoria_url') as string,
    alertRules: v.get('server.alert_rules') as string,
    auth: v.get('server.auth') as ServerConfig['auth'],
    insecure: v.get('server.insecure') as boolean,
    tlsCert: v.get('server.tls_cert') as string,
    tlsKey: v.get('server.tls_key') as string,
    authProxyHeader: v.get('server.auth_proxy_header') as string,
    authProxyRoleHeader: v.get('server.auth_proxy_role_header') as string,
    authProxyAddresses: Object.freeze([...(v.get('server.auth_proxy_addresses') as string[])]),
    allowedOrigins: Object.freeze([...(v.get('server.allowed_origins') as string[])]),
    sessionHours: v.get('server.session_hours') as number,
    maxHostRate: v.get('server.max_host_rate') as number,
    mqttAuth: { username: v.get('mqtt.username') as string, passwordFile: v.get('mqtt.password_file') as string, caFile: v.get('mqtt.ca_file') as string },
  });
}

/** Checks across settings that no single option can express. */
export function serverProblems(c: ServerConfig): string[] {
  const problems: string[] = [];
  try {
    new Intl.DateTimeFormat('en', { timeZone: c.timeZone });
  } catch {
    problems.push(`server.time_zone "${c.timeZone}" is not an IANA time zone (e.g. UTC, Europe/Berlin, America/Chicago)`);
  }
  if (c.store === 'victoriametrics' && !/^https?:\/\/\S+$/.test(c.victoriaUrl)) problems.push('server.store victoriametrics needs server.victoria_url (--victoria-url http://host:8428)');
  // Sovereign by default: nobody else can reach an unauthenticated server.
  if (!isLoopback(c.host) && c.auth === 'none' && !c.insecure) {
    problems.push(`server.host ${c.host} is not a loopback address, and no authentication is configured: anyone who can reach it could read and change everything, and publish to the embedded broker. Configure --auth tokens (then create a token: kilowatch token create --role admin), or pass --insecure for a lab network`);
  }
  // The embedded broker off loopback carries credentials: only over TLS.
  if (!isLoopback(c.host) && c.brokerUrl === '' && c.auth === 'tokens' && !c.tlsCert && !c.insecure) {
    problems.push(`server.host ${c.host} is not a loopback address: the embedded broker there needs TLS for its credentials. Give server.tls_cert and server.tls_key (they serve HTTPS too), use an external broker (--broker), or pass --insecure`);
  }
  if ((c.tlsCert === '') !== (c.tlsKey === '')) problems.push('server.tls_cert and server.tls_key go together: give both, or neither');
  if (c.authProxyHeader && c.auth !== 'tokens') problems.push('server.auth_proxy_header needs --auth tokens');
  if (c.authProxyHeader && c.authProxyAddresses.length === 0) problems.push('server.auth_proxy_header needs server.auth_proxy_addresses: the header is trusted only from the proxy');
  if (c.rollupRetentionDays < c.rawRetentionDays) problems.push(`server.rollup_retention_days (${c.rollupRetentionDays}) must be at least server.raw_retention_days (${c.rawRetentionDays})`);
  return problems;
}
