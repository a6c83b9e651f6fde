/**
 * The pollers file: YAML or JSON, checked once with every problem listed,
 * each naming its entry and field; and one poller made per entry, by kind.
 */
import { describe, expect, it } from 'vitest';
import { IpmiDcmiPoller } from '../../../collector/pollers/ipmi-dcmi.js';
import type { PollerKind } from '../../../collector/pollers/poller.js';
import { RedfishPoller } from '../../../collector/pollers/redfish.js';
import { POLLER_KINDS, createPollers, parsePollersFile } from '../../../collector/pollers/registry.js';

const deps = { now: () => 0, log: () => undefined };
const problems = (text: string) => {
  const r = parsePollersFile(text, 'pollers.yaml');
  return r.ok ? [] : r.problems;
};

describe('the pollers file', () => {
  it('reads a YAML list and makes one poller per entry, by kind', () => {
    const r = parsePollersFile(
      `- kind: redfish
  id: bmc-r12-n03
  url: https://10.0.12.3
  username: monitor
  password_file: /etc/kilowatch/bmc.pass
  insecure_tls: true
- kind: ipmi-dcmi
  id: bmc-local
  interval_ms: 10000
  timeout_ms: 3000
`,
      'pollers.yaml',
    );
    expect(r.ok ? r.entries.map((e) => [e.kind, e.id, e.interval_ms]) : r.problems).toEqual([['redfish', 'bmc-r12-n03', undefined], ['ipmi-dcmi', 'bmc-local', 10000]]);
    const pollers = createPollers(r.ok ? r.entries : [], deps);
    expect(pollers[0]).toBeInstanceOf(RedfishPoller);
    expect(pollers[1]).toBeInstanceOf(IpmiDcmiPoller);
    expect(pollers.map((p) => [p.kind, p.id])).toEqual([['redfish', 'bmc-r12-n03'], ['ipmi-dcmi', 'bmc-local']]);
  });

  it('reads JSON, and a mapping with a pollers list', () => {
    const json = parsePollersFile(JSON.stringify({ pollers: [{ kind: 'redfish', id: 'n1', url: 'http://127.0.0.1:8000', auth: 'none' }] }), 'pollers.json');
    expect(json).toEqual({ ok: true, entries: [{ kind: 'redfish', id: 'n1', url: 'http://127.0.0.1:8000', auth: 'none' }] });
    expect(parsePollersFile('[]', 'empty.json')).toEqual({ ok: true, entries: [] });
  });

  it('lists every problem of the file, each with its entry and field', () => {
    expect(problems(`
- kind: redfish
  id: a
  url: https://a
  interval_ms: 5s
- kind: redfish
  id: a
  url: https://b
- kind: snmp
  id: pdu-1
- kind: redfish
  id: _reserved
  url: https://c
- kind: redfish
  id: b
  url: ftp://d
  pasword: x
  insecure_tls: "yes"
- kind: redfish
  id: c
  url: https://e
  auth: session
  username: admin
- kind: ipmi-dcmi
  id: d
  timeout_ms: 50
- just text
`)).toEqual([
      'pollers.yaml: entry 1 (id "a"): interval_ms must be an integer from 250 to 3600000, got "5s"',
      'pollers.yaml: entry 2 (id "a"): id "a" is already used by an earlier entry',
      // The list of kinds grows as sources are added.
      expect.stringMatching(/^pollers\.yaml: entry 3 \(id "pdu-1"\): kind must be one of redfish, ipmi-dcmi(, [a-z-]+)*, got "snmp"$/),
      'pollers.yaml: entry 4 (id "_reserved"): id must be letters, digits, ".", "_", ":" or "-" (no "/", not starting with "_"), got "_reserved"',
      'pollers.yaml: entry 5 (id "b"): unknown setting "pasword" for kind redfish (known: kind, id, interval_ms, timeout_ms, url, chassis, auth, username, password, password_file, insecure_tls, power_sensor, energy_sensor)',
      'pollers.yaml: entry 5 (id "b"): url must be the BMC\'s base URL, https://host[:port], got "ftp://d"',
      'pollers.yaml: entry 5 (id "b"): insecure_tls must be true or false, got "yes"',
      'pollers.yaml: entry 6 (id "c"): auth session needs username and password (or password_file)',
      'pollers.yaml: entry 7 (id "d"): timeout_ms must be an integer from 100 to 600000, got 50',
      'pollers.yaml: entry 8: expected a mapping with kind and id, got "just text"',
    ]);
  });

  it('names the problem of a file that is not a list of pollers', () => {
    expect(problems('pollers: {kind: redfish}')).toEqual(['pollers.yaml: expected a list of pollers, or a mapping with a pollers list']);
    expect(problems('- [unclosed')[0]).toMatch(/^pollers\.yaml: not YAML or JSON: /);
    expect(problems(JSON.stringify(Array.from({ length: 1001 }, (_, i) => ({ kind: 'ipmi-dcmi', id: `b${i}` }))))).toEqual(['pollers.yaml: 1001 pollers exceed the limit of 1000 per collector']);
  });

  it('checks the settings of redfish entries that only make sense together', () => {
    expect(problems('- {kind: redfish, id: a, url: "http://x", insecure_tls: true, password: p, password_file: /f, username: u, power_sensor: TotalPower}')).toEqual([
      'pollers.yaml: entry 1 (id "a"): password and password_file are both set; keep one',
      'pollers.yaml: entry 1 (id "a"): power_sensor must be a path such as /redfish/v1/Chassis/1U/Sensors/TotalPower, got "TotalPower"',
      'pollers.yaml: entry 1 (id "a"): insecure_tls applies to https URLs only',
    ]);
  });

  it('maps each kind to its check and its constructor', () => {
    expect(Object.keys(POLLER_KINDS)).toEqual(expect.arrayContaining(['redfish', 'ipmi-dcmi']));
    expect(() => createPollers([{ kind: 'teleport' as PollerKind, id: 'm' }], deps)).toThrow(/no poller of kind teleport/);
  });
});
