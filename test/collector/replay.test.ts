/**
 * --replay over the captured fixtures: every reading fixture becomes protocol
 * messages the server's validators accept (replay() checks them itself), and
 * the values come out as the files state them. Reference files (the counters
 * CSV, --help-query-gpu, compute-apps lists) are not readings and are left out.
 * The data-center captures (snmpwalk text, Modbus register captures, kubelet
 * List answers) are looped over with describeFixtures, so a new one cannot
 * pass unread, and each folder's README must describe every file in it.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { layerConfig } from '../../cli/config-layers.js';
import { collectorConfig, collectorProblems } from '../../collector/config.js';
import { MAX_VALUE_CHARS, MAX_WALK_PROBLEMS, parseSnmpwalk, walkProfile } from '../../collector/pollers/parse-snmpwalk.js';
import { type ReplayInput, replay } from '../../collector/replay.js';
import { SHARED_FIXTURES, describeFixtures } from '../helpers/fixture-suite.js';
import { ROOT, runKilowatch } from '../helpers/kilowatch-process.js';

const base = { prefix: 'kilowatch/v1', site: 's', host: 'h', now: 1_764_000_000_500, windowMs: 1000 };
const run = (kind: string, text: string, topic?: string) => replay({ ...base, kind, text, topic } as ReplayInput);
const read = (...p: string[]) => readFileSync(join(SHARED_FIXTURES, ...p), 'utf8');
const payloads = (r: ReturnType<typeof replay>) => (r.ok ? r.messages.map((m) => m.payload as any) : []);

describe('--replay of GPU sources', () => {
  const smi = readdirSync(join(SHARED_FIXTURES, 'nvidia-smi')).filter((f) => f.endsWith('.csv') && !f.includes('compute-apps'));
  it.each(smi)('nvidia-smi %s', (file) => {
    const r = run('nvidia-smi', read('nvidia-smi', file));
    expect(r.ok ? 'ok' : r.error).toBe('ok');
    const [info, window] = payloads(r);
    expect(info.gpus.length).toBeGreaterThan(0);
    expect(window.gpus.every((g: any) => g.id.startsWith('GPU-'))).toBe(true);
  });

  it('reads the H100 load capture as 625.68 W at 100 % utilization against a 700 W limit', () => {
    const [, window] = payloads(run('nvidia-smi', read('nvidia-smi', 'capture__linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__load__query-gpu-all-fields.csv')));
    expect(window.gpus[0]).toMatchObject({ power_w: { mean: 625.68, n: 1 }, util_pct: { mean: 100 }, power_limit_w: 700 });
  });

  const prom = readdirSync(join(SHARED_FIXTURES, 'dcgm-exporter')).filter((f) => !f.endsWith('.csv'));
  it.each(prom)('prometheus %s', (file) => {
    const r = run('prometheus', read('dcgm-exporter', file));
    expect(r.ok ? 'ok' : r.error).toBe('ok');
  });

  it('reads the L4 scrape with its energy counter', () => {
    const [, window] = payloads(run('prometheus', read('dcgm-exporter', 'k8s-ai-conformance__kops__nvidia-l4__metrics-with-help-type.prom')));
    expect(window.gpus[0].energy_mj).toBe(4742776);
  });

  it('says why an input without a header or readings cannot be replayed', () => {
    const r = run('nvidia-smi', 'NVIDIA H100, 600 W\n');
    expect(r).toMatchObject({ ok: false });
    expect(run('prometheus', '# nothing here\n')).toMatchObject({ ok: false, error: 'no GPU reading could be read from the prometheus input' });
  });
});

describe('--replay of power meters', () => {
  it('Tasmota tele/pow1/SENSOR (console format in the fixture)', () => {
    const line = read('meters', 'tasmota', 'tasmota-docs__Sonoff-Pow-R2__tele-pow1-SENSOR__console-format.txt').split('\n').find((l) => l.includes(' = '))!;
    const [topic, payload] = [line.slice(0, line.indexOf(' = ')), line.slice(line.indexOf(' = ') + 3)];
    const r = run('tasmota', payload, topic);
    expect(r.ok && r.messages[0]!.topic).toBe('kilowatch/v1/s/h/meter/pow1');
    expect(payloads(r)[0]).toMatchObject({ power_w: { mean: 2635 }, energy_import_wh: 6294 });
  });

  it('Shelly Pro 3EM em:0 and emdata:0 status objects from the device dump', () => {
    const status = JSON.parse(read('meters', 'shelly', 'aioshelly-fixture__gen2_Shelly_Pro_3EM_SPEM-003CEBEU_20231219-134001-1.1.0-g34b5d4f.json')).status;
    expect(payloads(run('shelly', JSON.stringify(status['em:0']), 'shellypro3em/status/em:0'))[0].power_w.mean).toBe(558.965);
    expect(payloads(run('shelly', JSON.stringify(status['emdata:0']), 'shellypro3em/status/emdata:0'))[0]).toMatchObject({ energy_import_wh: 2589773.39, energy_export_wh: 1026.61 });
  });

  it('every line of the captured Shelly MQTT traffic either replays or says why not', () => {
    const lines = read('meters', 'shelly', 'go-mqtt-to-influx__captured-mqtt-traffic__gen1-shelly1__gen2-plus1pm__gen1-shellyem3.txt')
      .split('\n').filter((l) => l.includes(' ') && /^shell/.test(l) && l.indexOf(' ') > 0 && !/^shelly \w+$/.test(l) && l !== 'shelly 1');
    let windows = 0;
    for (const l of lines) {
      const r = run('shelly', l.slice(l.indexOf(' ') + 1), l.slice(0, l.indexOf(' ')));
      if (r.ok) windows += r.messages.length;
      else expect(r.error).toMatch(/carries no meter reading|unmetered/);
    }
    expect(windows).toBeGreaterThan(10);
  });

  it('Zigbee2MQTT bridge/devices becomes the info of the discovered meters', () => {
    const [info] = payloads(run('zigbee2mqtt', read('meters', 'zigbee2mqtt', 'barbaris-smart-home__zigbee2mqtt-bridge-devices__z2m-1.33.2__incl-xiaomi-plug-exposes.json'), 'zigbee2mqtt/bridge/devices'));
    expect(info.meters).toHaveLength(1);
    expect(info.meters[0]).toMatchObject({ id: '0x00158d0001db18f9' });
  });

  it('needs the topic of a meter payload', () => {
    expect(run('shelly', '{}')).toMatchObject({ ok: false, error: 'shelly: --topic is needed: the MQTT topic the payload was published on' });
  });
});

describe('kilowatch collector --replay', () => {
  it('prints one JSON message per line and exits 0, with no broker', async () => {
    const file = join(SHARED_FIXTURES, 'nvidia-smi', 'netdata__tesla-p100_header-units_values-nounits.csv');
    const { code, output } = await runKilowatch(['collector', '--source', 'nvidia-smi', '--replay', file, '--host-id', 'p100']);
    expect(code).toBe(0);
    const lines = output.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.topic)).toEqual(['kilowatch/v1/local/p100/info', 'kilowatch/v1/local/p100/gpu']);
    expect(lines[1].payload.gpus[0].power_w.mean).toBe(28.16);
  });

  it('exits non-zero with a clear reason on input it cannot read', async () => {
    const missing = await runKilowatch(['collector', '--source', 'prometheus', '--replay', '/nonexistent/scrape.prom']);
    expect(missing.code).toBe(1);
    expect(missing.output).toContain('cannot read /nonexistent/scrape.prom');
    const bad = await runKilowatch(['collector', '--source', 'tasmota', '--replay', '/dev/null', '--topic', 'tele/x/SENSOR']);
    expect(bad.code).toBe(1);
    expect(bad.output).toContain('tasmota: invalid_json');
  });
});

// ---- data-center sources ----

const WALKS = join(ROOT, 'test/fixtures/snmp/snmpwalk');
const MODBUS = join(ROOT, 'test/fixtures/replay/modbus');
const KUBELET = join(ROOT, 'test/fixtures/replay/kubelet');
const stat = (v: number) => ({ min: v, max: v, mean: v, last: v, n: 1 });
/** Meter id (the topic's last segment, decoded) -> the window's values, without the stream header. */
function meters(r: ReturnType<typeof replay>): Record<string, unknown> | string {
  if (!r.ok) return r.error;
  return Object.fromEntries(r.messages.map((m) => {
    const { v, boot_id, seq, first_seq, ts, window_ms, ...values } = m.payload as Record<string, unknown>;
    expect([v, boot_id, first_seq, ts, window_ms]).toEqual([1, 'replay', 0, 1_764_000_000_000, 1000]);
    return [decodeURIComponent(m.topic.slice('kilowatch/v1/s/h/meter/'.length)), values];
  }));
}
const notes = (r: ReturnType<typeof replay>) => (r.ok ? r.notes : r.error);
/** A folder's README names every file beside it. */
const documents = (dir: string) => (text: string) => {
  for (const f of readdirSync(dir)) if (f !== 'README.md') expect(text, `README.md says nothing of ${f}`).toContain(`\`${f}\``);
};

describe('--replay snmp-pdu (the text of snmpwalk -On)', () => {
  describeFixtures('snmpwalk captures', WALKS, {
    'README.md': documents(WALKS),
    'apc-rpdu2__3-phase-metered-by-outlet__snmpwalk-On.txt': (text) => {
      const r = run('snmp-pdu', text);
      // PowerNet-MIB units: device power in hundredths of kW, energy in tenths of kWh, pf in hundredths; outlet power in W.
      expect(meters(r)).toEqual({
        'snmp-pdu/device-1': { power_w: stat(6130), energy_import_wh: 32_567_500, pf: stat(0.98) },
        'snmp-pdu/outlet-1': { power_w: stat(1012), energy_import_wh: 8_812_300, current_a: stat(4.5) },
        'snmp-pdu/outlet-2': { power_w: stat(0), energy_import_wh: 0, current_a: stat(0) },
        'snmp-pdu/phase-1': { power_w: stat(2100), voltage_v: stat(230), current_a: stat(9.2), pf: stat(0.99) },
        'snmp-pdu/phase-2': { power_w: stat(2020), voltage_v: stat(231), current_a: stat(8.8), pf: stat(0.98) },
        'snmp-pdu/phase-3': { power_w: stat(2010), voltage_v: stat(229), current_a: stat(8.7), pf: stat(0.98) },
      });
      expect(notes(r)).toEqual(['6 varbind(s) outside profile apc-rpdu2 ignored']);
    },
    'sentry4__pro2-two-cords__snmpwalk-On.txt': (text) => {
      const r = run('snmp-pdu', text);
      // Sentry4-MIB UNITS: W, hundredths, tenth kWh; outlet current in hundredth A, voltage in tenth V, energy in Wh.
      expect(meters(r)).toEqual({
        'snmp-pdu/cord-1.1': { power_w: stat(888), energy_import_wh: 5_307_100, pf: stat(0.92) },
        'snmp-pdu/cord-2.1': { power_w: stat(919), energy_import_wh: 6_011_000, pf: stat(0.93) },
        'snmp-pdu/outlet-1.1.1': { power_w: stat(270), energy_import_wh: 98_765, voltage_v: stat(230.1), current_a: stat(1.23), pf: stat(0.95) },
      }); // outlet 2.1.1 answers -1 ("no reading") for all it has: no meter, never 0 W
      expect(notes(r)).toBeUndefined();
    },
    'apc-rpdu2__basic-model-unsupported__snmpwalk-On.txt': (text) => {
      expect(meters(run('snmp-pdu', text))).toEqual({ 'snmp-pdu/phase-1': { current_a: stat(3.1) } });
    },
    'agent-without-rpdu2__snmpwalk-On.txt': (text) => {
      expect(run('snmp-pdu', text)).toEqual({
        ok: false, error: 'snmp-pdu: no OID of a built-in profile in the walk (walk the PDU under apc-rpdu2: .1.3.6.1.4.1.318.1.1.26; sentry4: .1.3.6.1.4.1.1718.4.1)',
      });
    },
    'net-snmp-value-types__snmpwalk-On.txt': (text) => {
      const oid = (n: number) => `1.3.6.1.4.1.99.1.${n}`;
      expect(parseSnmpwalk(text)).toEqual({
        varbinds: [
          { oid: oid(1), value: '\x01\x02ABCDEFGHIJKLMNOPQRST' }, // a Hex-STRING over two lines
          { oid: oid(2), value: 'say "hi" now' },
          { oid: oid(3), value: 4_294_967_295 },
          { oid: oid(4), value: 123 },
          { oid: oid(5), value: 18_446_744_073_709_551_615 },
          { oid: oid(6), value: 12345 }, // Timeticks: the raw hundredths, not the clock text
          { oid: oid(7), value: -1 },
          { oid: oid(8), value: '.1.3.6.1.2' },
          { oid: oid(9), value: '10.0.0.1' },
          { oid: oid(10), value: 'trailing backslash \\' },
        ],
        skipped: {},
        problems: [],
      });
    },
    'apc-rpdu2__damaged__edited-by-hand.txt': (text) => {
      const walk = parseSnmpwalk(text);
      expect(walk.profile).toBe('apc-rpdu2');
      expect(walk.skipped).toEqual({ symbolic_oid: 1, display_hint: 1, not_a_varbind: 2 });
      expect(walk.problems.map((p) => [p.line, p.reason])).toEqual([[3, 'symbolic_oid'], [5, 'display_hint'], [19, 'not_a_varbind'], [21, 'not_a_varbind']]);
      expect(walk.varbinds.filter((v) => v.oid.includes('.9.4.3.1.3.')).map((v) => v.value)).toEqual(['gpu-node-01\npsu1', 'gpu-node-02 psu12']);
      const r = run('snmp-pdu', text);
      // The device power printed through a DISPLAY-HINT is refused, not read as 6.13 hundredths of kW: absent.
      expect(meters(r)).toEqual({
        'snmp-pdu/device-1': { energy_import_wh: 32_567_500, pf: stat(0.98) },
        'snmp-pdu/outlet-1': { power_w: stat(1012), energy_import_wh: 8_812_300, current_a: stat(4.5) },
        'snmp-pdu/phase-1': { power_w: stat(2100), voltage_v: stat(230), current_a: stat(9.2) },
      });
      expect(notes(r)).toEqual([
        expect.stringMatching(/^4 line\(s\) of the walk skipped \(symbolic_oid 1, display_hint 1, not_a_varbind 2\): line 3: iso\.3\.6.*record the walk with -On.*line 5: .*DISPLAY-HINT.*line 19: "Timeout: No Response from pdu-r12-a"/),
        '1 varbind(s) outside profile apc-rpdu2 ignored',
        'meter snmp-pdu/outlet-2 left out (bad_value): rPDU2OutletMeteredStatusPower.2 is "n/a"',
      ]);
    },
  });

  it('reads enum labels and UNITS suffixes as the raw integer, and Windows line ends', () => {
    const walk = parseSnmpwalk('.1.3.6.1.4.1.318.1.1.26.4.3.1.4.1 = INTEGER: normal(1)\r\n.1.3.6.1.4.1.318.1.1.26.6.3.1.6.1 = INTEGER: 230 Volts\r\n');
    expect(walk.varbinds).toEqual([{ oid: '1.3.6.1.4.1.318.1.1.26.4.3.1.4.1', value: 1 }, { oid: '1.3.6.1.4.1.318.1.1.26.6.3.1.6.1', value: 230 }]);
    expect(walk.skipped).toEqual({});
  });

  it('takes a cut STRING as cut, not as a value that swallows the varbinds after it', () => {
    const walk = parseSnmpwalk('.1.3.6.1.4.1.318.1.1.26.9.4.3.1.3.1 = STRING: "psu1\n.1.3.6.1.4.1.318.1.1.26.9.4.3.1.7.1 = INTEGER: 1012\n.1.3.6.1.4.1.318.1.1.26.9.4.3.1.3.2 = STRING: "cut');
    expect(walk.varbinds).toEqual([{ oid: '1.3.6.1.4.1.318.1.1.26.9.4.3.1.7.1', value: 1012 }]);
    expect(walk.skipped).toEqual({ unterminated_string: 2 });
  });

  it('bounds what it keeps: a value too long to be a label, and the problems listed (all counted)', () => {
    const long = parseSnmpwalk(`.1.3.6.1.4.1.99.1 = STRING: "${'x'.repeat(MAX_VALUE_CHARS + 10)}"`);
    expect([long.varbinds, long.skipped]).toEqual([[], { too_long: 1 }]);
    const garbage = parseSnmpwalk(Array.from({ length: 50 }, (_, i) => `line ${i}`).join('\n'));
    expect(garbage.skipped).toEqual({ not_a_varbind: 50 });
    expect(garbage.problems).toHaveLength(MAX_WALK_PROBLEMS);
  });

  it('takes the profile a comment names, refuses one it does not know, and asks when the walk holds two', () => {
    const apc = '.1.3.6.1.4.1.318.1.1.26.4.3.1.5.1 = INTEGER: 613';
    const st4 = '.1.3.6.1.4.1.1718.4.1.3.3.1.3.1.1 = INTEGER: 888';
    expect(walkProfile(parseSnmpwalk(`# profile: sentry4\n${apc}\n${st4}`))).toMatchObject({ ok: true, profile: { name: 'sentry4' } });
    expect(walkProfile(parseSnmpwalk(`# profile: raritan\n${apc}`))).toEqual({ ok: false, detail: 'the walk names profile "raritan"; the built-in profiles are apc-rpdu2, sentry4' });
    expect(run('snmp-pdu', `${apc}\n${st4}`)).toEqual({ ok: false, error: 'snmp-pdu: the walk holds OIDs of apc-rpdu2 and sentry4: name one in a first line "# profile: <name>"' });
  });

  it('says why, with what it skipped, when nothing can be read', () => {
    expect(run('snmp-pdu', '')).toEqual({ ok: false, error: 'snmp-pdu: no varbind in the input (expected the output of snmpwalk -On: ".1.3.6... = INTEGER: 613" lines)' });
    expect(run('snmp-pdu', 'SNMPv2-SMI::enterprises.318.1.1.26.4.3.1.5.1 = INTEGER: 613\nTimeout: No Response from pdu\n')).toEqual({
      ok: false,
      error: 'snmp-pdu: no varbind in the input (expected the output of snmpwalk -On: ".1.3.6... = INTEGER: 613" lines) (2 line(s) of the walk skipped (symbolic_oid 1, not_a_varbind 1): line 1: SNMPv2-SMI::enterprises.318.1.1.26.4.3.1.5.1: record the walk with -On (numeric OIDs), line 2: "Timeout: No Response from pdu")',
    });
    expect(run('snmp-pdu', '.1.3.6.1.4.1.318.1.1.26.4.3.1.5.1 = INTEGER: -1')).toEqual({ ok: false, error: 'snmp-pdu: the walk holds no reading of profile apc-rpdu2' });
  });
});

describe('--replay modbus (a register capture as JSON)', () => {
  describeFixtures('register captures', MODBUS, {
    'README.md': documents(MODBUS),
    'sdm630__mbpoll-t3hex__capture.txt': (text) => {
      // The JSON capture holds exactly the words mbpoll printed.
      const printed = Object.fromEntries([...text.matchAll(/^\[(\d+)\]:\s+(0x[0-9A-F]{4})$/gm)].map((m) => [m[1], m[2]]));
      expect(Object.keys(printed)).toHaveLength(76);
      expect(JSON.parse(readFileSync(join(MODBUS, 'sdm630__from-mbpoll-capture.json'), 'utf8')).input_registers).toEqual(printed);
    },
    'sdm630__from-mbpoll-capture.json': (text) => {
      const r = run('modbus', text);
      // Eastron's float32 input registers: W, V, A, pf; energies in kWh, sent as Wh.
      expect(meters(r)).toEqual({
        modbus: {
          power_w: stat(3500.75), voltage_v: stat(230.36667), current_a: stat(15.75), pf: stat(0.975),
          energy_import_wh: 123_456_700, energy_export_wh: 12_250,
        },
      });
      expect(notes(r)).toBeUndefined();
    },
    'custom-map__holding__exporting-energy-not-captured.json': (text) => {
      const r = run('modbus', text);
      expect(meters(r)).toEqual({ modbus: { power_w: stat(-3450), voltage_v: stat(230.1), current_a: stat(15.23), pf: stat(0.985) } });
      expect(notes(r)).toEqual(["1 of the map's 5 values left out, their registers are not in the capture: Import energy (holding 16-17)"]);
    },
  });

  const f32 = { registers: [{ name: 'P', address: 0, type: 'float32', unit: 'W', field: 'power_w' }], table: 'input' };
  it('refuses what is not a capture, naming the problem', () => {
    expect(run('modbus', '{"map": "sdm630",')).toMatchObject({ ok: false, error: expect.stringMatching(/^modbus: the input is not JSON: /) });
    expect(run('modbus', '[]')).toMatchObject({ ok: false, error: expect.stringMatching(/^modbus: the capture must be a JSON object/) });
    expect(run('modbus', '{"map": "sdm630", "input_register": {}}')).toEqual({ ok: false, error: 'modbus: unknown key(s) "input_register" (known: note, map, registers, table, input_registers, holding_registers)' });
    expect(run('modbus', '{"map": "sdm999"}')).toEqual({ ok: false, error: 'modbus: modbus capture: map must be one of sdm630, got "sdm999"' });
    expect(run('modbus', '{"map": "sdm630", "input_registers": []}')).toEqual({ ok: false, error: 'modbus: input_registers must be an object of "<address>": <register>' });
  });

  it('says which registers the map reads when the capture has none of them', () => {
    expect(run('modbus', '{"map": "sdm630", "holding_registers": {"0": 1}}')).toEqual({ ok: false, error: "modbus: none of the map's registers are in the capture (it reads input registers 0-75)" });
  });

  it('counts words that are no register and leaves them out', () => {
    const r = run('modbus', JSON.stringify({ ...f32, input_registers: { 0: '0x4366', 1: 6554, 2: 70000, x: 1, 3: '0xZZ' } }));
    expect(meters(r)).toEqual({ modbus: { power_w: stat(230.1) } });
    expect(notes(r)).toEqual(['3 register(s) skipped, neither an address 0..65535 nor a word 0..65535, -32768..-1 or "0x...": input_registers.2 = 70000, input_registers.3 = "0xZZ", input_registers.x = 1']);
  });

  it('refuses a reading with an impossible value, as the poller does', () => {
    expect(run('modbus', JSON.stringify({ ...f32, input_registers: { 0: '0x7FC0', 1: 0 } }))).toMatchObject({ ok: false, error: expect.stringMatching(/^modbus: bad_value: .*P \(input register 0\)/) });
  });
});

describe('--replay kubelet (a pod resources List answer as JSON)', () => {
  const G1 = 'GPU-8f2c1a44-0d2e-4b7e-9c11-2f1e0a9b3c01';
  const events = (r: ReturnType<typeof replay>) => (r.ok ? r.messages.map((m) => [m.topic, m.payload]) : r.error);
  const start = (seq: number, job: string, gpus: string[], container: string) => {
    const [namespace, pod] = job.split('/') as [string, string];
    return ['kilowatch/v1/s/h/job', { v: 1, boot_id: 'replay', seq, first_seq: 0, ts: 1_764_000_000_500, event: 'start', job, gpus, project: namespace, labels: { namespace, pod, container } }];
  };
  const expected = [
    start(0, 'research/llm-train-0', [G1, 'GPU-8f2c1a44-0d2e-4b7e-9c11-2f1e0a9b3c02'], 'trainer'),
    start(1, 'team-a/notebook-7f9c', ['MIG-5c2d9e1f-3a4b-5c6d-7e8f-90a1b2c3d4e5'], 'jupyter'),
    start(2, 'serving/infer-a', ['GPU-1d3e5f70-8a9b-4c0d-9e1f-203142536475'], 'server'), // two replicas of one time-sliced GPU
    start(3, 'serving/infer-b', ['GPU-1d3e5f70-8a9b-4c0d-9e1f-203142536475'], 'server'),
  ];

  describeFixtures('List answers', KUBELET, {
    'README.md': documents(KUBELET),
    'list__grpcurl-json-names__mixed-mig-and-time-slicing.json': (text) => {
      const r = run('kubelet', text);
      expect(events(r)).toEqual(expected);
      expect(notes(r)).toEqual(['1 problem(s) in the answer, those devices or pods left out: pod ops/legacy: device id "0" of nvidia.com/gpu is not a GPU or MIG UUID']);
    },
  });

  it('reads the proto field names as well as the JSON names (proto3 JSON mapping)', () => {
    expect(events(run('kubelet', readFileSync(join(ROOT, 'test/fixtures/kubelet/list__gpu-operator-mixed-mig-and-time-slicing__from-docs.json'), 'utf8')))).toEqual(expected);
  });

  it('leaves out the parts of the wrong shape, each with its reason', () => {
    const answer = {
      podResources: [
        5,
        { name: 'a', namespace: 'n', containers: 'x' },
        { name: 'b', namespace: 'n', containers: [{ name: 'c', devices: [{ resourceName: 'nvidia.com/gpu', deviceIds: [G1, 7] }, null] }] },
      ],
    };
    const r = run('kubelet', JSON.stringify(answer));
    expect(events(r)).toEqual([['kilowatch/v1/s/h/job', expect.objectContaining({ job: 'n/b', gpus: [G1] })]]);
    expect(notes(r)).toEqual(['4 problem(s) in the answer, those devices or pods left out: podResources[0] is not an object; pod n/a: containers is not a list; pod n/b: an entry of devices is not an object; pod n/b: a device id that is not a string']);
  });

  it('says why an answer gives no job', () => {
    expect(run('kubelet', 'podResources:')).toMatchObject({ ok: false, error: expect.stringMatching(/^kubelet: the input is not JSON: /) });
    expect(run('kubelet', '[]')).toMatchObject({ ok: false, error: expect.stringMatching(/^kubelet: the input must be a JSON object/) });
    expect(run('kubelet', '{"podResources": {}}')).toEqual({ ok: false, error: 'kubelet: podResources is not a list' });
    // grpcurl prints {} for a node without pods: proto3 JSON leaves out an empty list.
    expect(run('kubelet', '{}')).toEqual({ ok: false, error: 'kubelet: no pod in the answer holds a GPU (0 pod(s) read; GPUs are nvidia.com/gpu and MIG resources)' });
  });
});

describe('snmp-pdu, modbus and kubelet as --source', () => {
  const problems = (argv: string[]) => {
    const r = layerConfig({ commands: ['collector'], argv, env: {} });
    if (!r.ok) throw new Error(r.problems.join('\n'));
    return collectorProblems(collectorConfig(r.values));
  };

  it('are for --replay only, and say where the live source is', () => {
    for (const kind of ['snmp-pdu', 'modbus', 'kubelet']) expect(problems(['--source', kind, '--replay', 'capture'])).toEqual([]);
    expect(problems(['--source', 'snmp-pdu'])).toEqual(['collector.source snmp-pdu is for --replay; to poll a PDU live, list it in a pollers file (--pollers pollers.yaml, with --source none when the host has no GPUs)']);
    expect(problems(['--source', 'modbus'])).toEqual(['collector.source modbus is for --replay; to poll a meter live, list it in a pollers file (--pollers pollers.yaml, with --source none when the host has no GPUs)']);
    expect(problems(['--source', 'kubelet'])).toEqual(["collector.source kubelet is for --replay; to take a host's jobs from the kubelet live, use --jobs-from kubelet beside its GPU source"]);
  });

  it('replay from the command line, one JSON message per line', async () => {
    const cases: [string, string, string][] = [
      ['snmp-pdu', join(WALKS, 'sentry4__pro2-two-cords__snmpwalk-On.txt'), 'kilowatch/v1/local/pdu-host/meter/snmp-pdu%2Fcord-1.1'],
      ['modbus', join(MODBUS, 'sdm630__from-mbpoll-capture.json'), 'kilowatch/v1/local/pdu-host/meter/modbus'],
      ['kubelet', join(KUBELET, 'list__grpcurl-json-names__mixed-mig-and-time-slicing.json'), 'kilowatch/v1/local/pdu-host/job'],
    ];
    for (const [kind, file, topic] of cases) {
      const { code, output } = await runKilowatch(['collector', '--source', kind, '--replay', file, '--host-id', 'pdu-host']);
      expect([kind, code]).toEqual([kind, 0]);
      // The messages are JSON lines; what the capture held that could not be read comes as `kilowatch: ...` lines beside them.
      const lines = output.trim().split('\n');
      expect(JSON.parse(lines.find((l) => l.startsWith('{'))!).topic).toBe(topic);
      expect(lines.every((l) => l.startsWith('{') || l.startsWith('kilowatch: '))).toBe(true);
    }
  });
});
