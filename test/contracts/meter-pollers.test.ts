/**
 * The meter poller contract (meter-poller.contract.ts) against every poller:
 * redfish against an in-test Redfish server serving the DMTF mockup
 * documents, and ipmi-dcmi against a fake ipmitool printing replayed output.
 *
 * THE LIST OF POLLERS: each poller kind adds one `describe` below, with a
 * fixture that makes a healthy, a failing and a hanging device of its kind.
 * A kind that is not listed here has not passed the contract.
 */
import { describe } from 'vitest';
import { IpmiDcmiPoller } from '../../collector/pollers/ipmi-dcmi.js';
import { RedfishPoller } from '../../collector/pollers/redfish.js';
import { type FakeBmc, startFakeBmc } from '../collector/pollers/fake-bmc.js';
import { fakeIpmitool } from '../collector/pollers/fake-ipmitool.js';
import { meterPollerContract } from './meter-poller.contract.js';

const deps = { now: () => Date.now(), log: () => undefined };

// --- redfish: a real HTTP server; failing answers 500, hanging takes 30 s.
describe('contract: redfish (in-test Redfish server, DMTF mockup documents)', () => {
  meterPollerContract(async () => {
    const bmcs: FakeBmc[] = [];
    return {
      async create(id, device, timing) {
        const bmc = await startFakeBmc({ model: 'legacy', ...(device === 'failing' && { status: 500 }), ...(device === 'hanging' && { delayMs: 30_000 }) });
        bmcs.push(bmc);
        return new RedfishPoller({ kind: 'redfish', id, url: bmc.url, ...timing }, deps);
      },
      // The legacy Power resource has no energy counter; a power supply reports no power factor.
      absent: [{ meter: '', field: 'energy_import_wh' }, { meter: '/psu-0', field: 'pf' }],
      present: [{ meter: '', field: 'power_w' }, { meter: '/psu-0', field: 'voltage_v' }],
      cleanup: async () => void (await Promise.all(bmcs.map((b) => b.close()))),
    };
  });
});

// --- ipmi-dcmi: a fake ipmitool; failing exits 1 with lanplus' session error, hanging sleeps 30 s until killed.
describe('contract: ipmi-dcmi (fake ipmitool, replayed output)', () => {
  meterPollerContract(async () => ({
    async create(id, device, timing) {
      const fake = fakeIpmitool();
      if (device === 'failing') fake.set('fail');
      if (device === 'hanging') fake.set('hang');
      return new IpmiDcmiPoller({ kind: 'ipmi-dcmi', id, command: fake.command, ...timing }, deps);
    },
    // DCMI reports power only: no energy counter, no voltage.
    absent: [{ meter: '', field: 'energy_import_wh' }, { meter: '', field: 'voltage_v' }],
    present: [{ meter: '', field: 'power_w' }],
  }));
});

// --- further pollers (snmp-pdu, modbus, ...) are added here, one describe each.
