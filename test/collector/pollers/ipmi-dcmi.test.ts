/**
 * The ipmi-dcmi poller around a fake ipmitool (fake-ipmitool.ts) printing
 * replayed output: the command line it builds (no password in argv), the
 * reading it emits, and the runs that must be counted, never waited on: a
 * deactivated BMC, a failing ipmitool, a flood of output, and a hung one
 * killed at the deadline.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { IpmiDcmiPoller, ipmiDcmiSettings, ipmitoolArgs } from '../../../collector/pollers/ipmi-dcmi.js';
import type { MeterReading } from '../../../collector/meters/reading.js';
import { alive, fakeIpmitool } from './fake-ipmitool.js';

const running: IpmiDcmiPoller[] = [];
afterEach(async () => void (await Promise.all(running.splice(0).map((p) => p.stop()))));

function poll(entry: { id: string; [setting: string]: unknown }) {
  const got: MeterReading[] = [];
  const log: string[] = [];
  const poller = new IpmiDcmiPoller({ kind: 'ipmi-dcmi', interval_ms: 250, ...entry }, { now: () => Date.now(), log: (l) => log.push(l) });
  running.push(poller);
  poller.start((r) => got.push(r));
  return { poller, got, log };
}

async function until(probe: () => unknown, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`not reached in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('ipmi-dcmi: the command line', () => {
  const args = (e: object) => ipmitoolArgs(ipmiDcmiSettings({ kind: 'ipmi-dcmi', id: 'x', ...e }, 'x').settings);

  it('reads the local BMC without options, and a remote one over lanplus with the password in the environment', () => {
    expect(args({})).toEqual(['dcmi', 'power', 'reading']);
    expect(args({ host: '10.0.0.7', username: 'monitor', password: 'pw' })).toEqual(['-I', 'lanplus', '-H', '10.0.0.7', '-U', 'monitor', '-E', 'dcmi', 'power', 'reading']);
    expect(args({ host: 'bmc1', username: 'm', password_file: '/etc/kw/pw', interface: 'lan', extra_args: ['-L', 'USER'] })).toEqual(['-I', 'lan', '-H', 'bmc1', '-U', 'm', '-f', '/etc/kw/pw', '-L', 'USER', 'dcmi', 'power', 'reading']);
  });

  it('lists each bad setting', () => {
    const { problems } = ipmiDcmiSettings({ kind: 'ipmi-dcmi', id: 'x', username: 'u', password: 'p', password_file: '/f', extra_args: '-L USER', hostname: 'typo' }, 'entry 1 (id "x")');
    expect(problems).toEqual([
      'entry 1 (id "x"): unknown setting "hostname" for kind ipmi-dcmi (known: kind, id, interval_ms, timeout_ms, command, host, interface, username, password, password_file, extra_args)',
      'entry 1 (id "x"): extra_args must be a list of strings, got "-L USER"',
      'entry 1 (id "x"): username and passwords apply to a remote BMC only: set host',
      'entry 1 (id "x"): password and password_file are both set; keep one',
    ]);
  });
});

describe('ipmi-dcmi poller with a fake ipmitool', () => {
  it('runs ipmitool at its interval and emits the instantaneous power of its meter', async () => {
    const fake = fakeIpmitool();
    const t = poll({ id: 'bmc-7', command: fake.command, host: '10.0.0.7', username: 'monitor', password: 'hunter2' });
    await until(() => t.got.length >= 2);
    expect(t.got[0]).toEqual({ meter: 'bmc-7', power_w: 245 });
    expect(fake.lastArgs()).toEqual(['-I', 'lanplus', '-H', '10.0.0.7', '-U', 'monitor', '-E', 'dcmi', 'power', 'reading']);
    expect(fake.lastArgs().join(' ')).not.toContain('hunter2');
    expect(fake.lastPassword()).toBe('hunter2');
    expect(t.poller.meters()).toEqual([{ id: 'bmc-7', kind: 'ipmi-dcmi', name: 'DCMI power of the BMC at 10.0.0.7', supports: { energy_counter: false, instant_power: true } }]);
    expect(t.poller.health()).toMatchObject({ error: 0, timeout: 0, readings: t.got.length });
  });

  it('counts a deactivated BMC and emits nothing for it, then reads again when it activates', async () => {
    const fake = fakeIpmitool();
    fake.set({ print: 'deactivated.txt' });
    const t = poll({ id: 'bmc', command: fake.command });
    await until(() => t.poller.health().deactivated! >= 2);
    expect(t.got).toEqual([]);
    expect(t.log).toEqual(['ipmi-dcmi bmc: no reading (deactivated): the BMC says its power reading state is deactivated (not measuring)']);
    fake.set({ print: 'activated__stamp-on-own-line.txt' });
    await until(() => t.got.length > 0);
    expect(t.got[0]).toEqual({ meter: 'bmc', power_w: 412 });
    expect(t.log.at(-1)).toBe('ipmi-dcmi bmc: reading again');
  });

  it('counts unreadable and cut-short output by reason', async () => {
    const fake = fakeIpmitool();
    fake.set({ print: 'error__dcmi-not-supported.txt' });
    const t = poll({ id: 'bmc', command: fake.command });
    await until(() => t.poller.health().unreadable! >= 1);
    fake.set({ print: 'truncated__killed-after-two-lines.txt' });
    await until(() => t.poller.health().incomplete! >= 1);
    fake.set({ print: 'corrupt-number.txt' });
    await until(() => t.poller.health().bad_value! >= 1);
    expect(t.got).toEqual([]);
  });

  it('counts a failing ipmitool as error, with its message in the log', async () => {
    const fake = fakeIpmitool();
    fake.set('fail');
    const t = poll({ id: 'bmc', command: fake.command });
    await until(() => t.poller.health().error! >= 2);
    expect(t.log[0]).toBe(`ipmi-dcmi bmc: ipmitool failed: ${fake.command} exited with 1: Error: Unable to establish IPMI v2 / RMCP+ session`);
  });

  it('kills a flood of output at its bound', async () => {
    const fake = fakeIpmitool();
    fake.set('flood');
    const t = poll({ id: 'bmc', command: fake.command });
    await until(() => t.poller.health().error! >= 1);
    expect(t.log[0]).toMatch(/more than 65536 bytes of output$/);
  });

  it('counts a missing ipmitool as error', async () => {
    const t = poll({ id: 'bmc', command: '/nonexistent/ipmitool' });
    await until(() => t.poller.health().error! >= 1);
    expect(t.log[0]).toMatch(/ENOENT/);
  });

  it('kills a hung ipmitool at the deadline, counts it as timeout, and does not wait for it', async () => {
    const fake = fakeIpmitool();
    fake.set('hang');
    const t = poll({ id: 'bmc', command: fake.command, timeout_ms: 300 });
    await until(() => fake.hungPid() !== undefined);
    const pid = fake.hungPid()!;
    // Not "alive now": on a loaded machine the 300 ms deadline may already have passed. The fake never exits by itself.
    await until(() => t.poller.health().timeout! >= 1);
    await until(() => !alive(pid));
    expect(t.log[0]).toBe('ipmi-dcmi bmc: ipmitool killed at the deadline: no answer within 300 ms');
    // The next run may already have started (and hang) before the fake is switched back; each is killed the same way.
    fake.set({ print: 'activated.txt' });
    await until(() => t.got.length > 0);
    expect(t.poller.health()).toMatchObject({ busy: 0, error: 0 });
    expect(t.poller.health().timeout).toBeGreaterThanOrEqual(1);
  });

  it('stops promptly with ipmitool hanging, and leaves no process behind', async () => {
    const fake = fakeIpmitool();
    fake.set('hang');
    const t = poll({ id: 'bmc', command: fake.command, timeout_ms: 60_000 });
    await until(() => fake.hungPid() !== undefined);
    const began = Date.now();
    await t.poller.stop();
    // Far below the 60 s deadline it would otherwise wait out; loose enough for a loaded machine.
    expect(Date.now() - began).toBeLessThan(10_000);
    await until(() => !alive(fake.hungPid()!));
  });
});
