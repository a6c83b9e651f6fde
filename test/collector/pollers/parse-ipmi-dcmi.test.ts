/**
 * parse-ipmi-dcmi over the replayed outputs of test/fixtures/ipmi-dcmi (their
 * README says where each comes from), one test per file, and the README must
 * name every file it describes.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dcmiMeterReading, parseDcmiPowerReading } from '../../../collector/pollers/parse-ipmi-dcmi.js';
import { describeFixtures } from '../../helpers/fixture-suite.js';
import { ROOT } from '../../helpers/kilowatch-process.js';

const DIR = join(ROOT, 'test', 'fixtures', 'ipmi-dcmi');
const refused = (reason: string) => (text: string) => expect(parseDcmiPowerReading(text)).toMatchObject({ ok: false, reason });

describeFixtures('parse-ipmi-dcmi over replayed ipmitool output', DIR, {
  'README.md': (text) => {
    const described = [...text.matchAll(/^\| `([^`]+\.txt)` \|/gm)].map((m) => m[1]);
    expect(described.length).toBe(8);
    expect(text).toContain('None of these files was captured');
  },
  'activated.txt': (text) => {
    expect(parseDcmiPowerReading(text)).toEqual({ ok: true, reading: { instantaneous_w: 245, minimum_w: 96, maximum_w: 520, average_w: 240, sampling_period_ms: 1000 } });
    expect(dcmiMeterReading('bmc-7', text)).toEqual({ ok: true, reading: { meter: 'bmc-7', power_w: 245 } });
  },
  'activated__stamp-on-own-line.txt': (text) => {
    expect(parseDcmiPowerReading(text)).toEqual({ ok: true, reading: { instantaneous_w: 412, minimum_w: 388, maximum_w: 455, average_w: 409, sampling_period_ms: 5000 } });
  },
  'activated__unspecified-stamp-no-period.txt': (text) => {
    expect(parseDcmiPowerReading(text)).toEqual({ ok: true, reading: { instantaneous_w: 1187, minimum_w: 1020, maximum_w: 1432, average_w: 1190 } });
  },
  'deactivated.txt': (text) => {
    expect(parseDcmiPowerReading(text)).toEqual({ ok: false, reason: 'deactivated', detail: 'the BMC says its power reading state is deactivated (not measuring)' });
    expect(dcmiMeterReading('bmc', text).ok).toBe(false);
  },
  'truncated__killed-after-two-lines.txt': refused('incomplete'),
  'corrupt-number.txt': (text) => expect(parseDcmiPowerReading(text)).toEqual({ ok: false, reason: 'bad_value', detail: 'instantaneous_w is "2#5"' }),
  'error__dcmi-not-supported.txt': (text) => {
    expect(parseDcmiPowerReading(text)).toEqual({ ok: false, reason: 'unreadable', detail: 'not the output of dcmi power reading: DCMI request failed because: Invalid data field in request (cc)' });
  },
  'error__lanplus-session.txt': refused('unreadable'),
});

describe('parse-ipmi-dcmi: further odd output', () => {
  it('refuses empty output, binary junk and an unknown state, quoting at most a bounded part', () => {
    expect(parseDcmiPowerReading('')).toEqual({ ok: false, reason: 'unreadable', detail: 'not the output of dcmi power reading: (empty output)' });
    const junk = parseDcmiPowerReading('\u0000\u0001garbage '.repeat(500));
    expect(junk).toMatchObject({ ok: false, reason: 'unreadable' });
    expect(!junk.ok && junk.detail.length).toBeLessThan(200);
    expect(parseDcmiPowerReading('Instantaneous power reading: 5 Watts\nPower reading state is: maybe\n')).toMatchObject({ ok: false, reason: 'unreadable' });
  });

  it('needs the instantaneous reading even when the state line is there', () => {
    expect(parseDcmiPowerReading('    Power reading state is:                   activated\n')).toMatchObject({ ok: false, reason: 'incomplete' });
  });

  it('reads 0 W from an activated BMC as 0 W: the BMC measured it (a powered-off host)', () => {
    expect(parseDcmiPowerReading('Instantaneous power reading: 0 Watts\nPower reading state is: activated\n')).toEqual({ ok: true, reading: { instantaneous_w: 0 } });
  });
});
