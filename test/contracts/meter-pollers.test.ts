/**
 * The meter poller contract (meter-poller.contract.ts) against every poller:
 * redfish against an in-test Redfish server serving the DMTF mockup
 * documents, ipmi-dcmi against a fake ipmitool printing replayed output,
 * snmp-pdu against an SNMP agent in the test process, and modbus against
 * jsmodbus' TCP server.
 *
 * THE LIST OF POLLERS: each poller kind adds one `describe` below, with a
 * fixture that makes a healthy, a failing and a hanging device of its kind.
 * A kind that is not listed here has not passed the contract.
 */
import { createSocket } from 'node:dgram';
import { type AddressInfo, type Server, type Socket, createServer } from 'node:net';
import Modbus from 'jsmodbus';
import { describe } from 'vitest';
import { IpmiDcmiPoller } from '../../collector/pollers/ipmi-dcmi.js';
import { ModbusPoller } from '../../collector/pollers/modbus.js';
import { RedfishPoller } from '../../collector/pollers/redfish.js';
import { SnmpPduPoller } from '../../collector/pollers/snmp-pdu.js';
import { type FakeBmc, startFakeBmc } from '../collector/pollers/fake-bmc.js';
import { fakeIpmitool } from '../collector/pollers/fake-ipmitool.js';
import { SNMPD_COMMUNITY, startInProcessAgent } from '../helpers/snmpd.js';
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

// --- snmp-pdu: net-snmp's agent in the test process with a custom OID map (a real snmpd serves the built-in
// profiles in test/integration/snmpd-pdu.test.ts); failing answers genErr, hanging is a UDP socket that never answers.
describe('contract: snmp-pdu (in-process SNMP agent, custom OID map)', () => {
  meterPollerContract(async () => {
    const closers: (() => Promise<void>)[] = [];
    const power = '1.3.6.1.4.1.99999.1.1.0';
    const energy = '1.3.6.1.4.1.99999.1.2.0';
    const voltB = '1.3.6.1.4.1.99999.2.1.0';
    return {
      async create(id, device, timing) {
        let port: number;
        if (device === 'hanging') {
          const silent = createSocket('udp4');
          await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
          port = silent.address().port;
          closers.push(() => new Promise<void>((r) => silent.close(() => r())));
        } else {
          const agent = await startInProcessAgent({ [power]: 612, [energy]: 4321, [voltB]: 230 }, { failing: device === 'failing' });
          port = agent.port;
          closers.push(agent.close);
        }
        return new SnmpPduPoller({
          kind: 'snmp-pdu', id, host: '127.0.0.1', port, community: SNMPD_COMMUNITY, ...timing,
          oids: [{ oid: power, field: 'power_w', scale: 10 }, { oid: energy, field: 'energy_import_wh', scale: 100 }, { oid: voltB, meter: 'inlet-b', field: 'voltage_v' }],
        }, deps);
      },
      // The map reads power and energy of the inlet, and only the voltage of inlet B.
      absent: [{ meter: '', field: 'voltage_v' }, { meter: '/inlet-b', field: 'power_w' }],
      present: [{ meter: '', field: 'power_w' }, { meter: '', field: 'energy_import_wh' }, { meter: '/inlet-b', field: 'voltage_v' }],
      cleanup: async () => void (await Promise.all(closers.map((c) => c()))),
    };
  });
});

// --- modbus: jsmodbus' TCP server holding float32 registers; failing answers exception 4 (server device failure),
// hanging accepts the connection and never answers.
describe('contract: modbus (jsmodbus TCP server, custom register map)', () => {
  meterPollerContract(async () => {
    const servers: Server[] = [];
    const sockets: Socket[] = [];
    const listen = async (server: Server) => {
      servers.push(server);
      server.on('connection', (s) => sockets.push(s));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      return (server.address() as AddressInfo).port;
    };
    return {
      async create(id, device, timing) {
        let server: Server;
        if (device === 'healthy') {
          const holding = Buffer.alloc(8);
          holding.writeFloatBE(1830.5, 0);
          holding.writeFloatBE(98765.4, 4);
          server = createServer();
          new Modbus.server.TCP(server, { holding });
        } else {
          server = createServer((s) => s.on('data', (req: Buffer) => {
            if (device === 'failing') s.write(Buffer.from([req[0]!, req[1]!, 0, 0, 0, 3, req[6]!, req[7]! | 0x80, 4]));
          }));
        }
        const port = await listen(server);
        return new ModbusPoller({
          kind: 'modbus', id, host: '127.0.0.1', port, ...timing,
          registers: [{ address: 0, type: 'float32', unit: 'W', field: 'power_w' }, { address: 2, type: 'float32', unit: 'kWh', field: 'energy_import_wh' }],
        }, deps);
      },
      // The map has power and the import counter only.
      absent: [{ meter: '', field: 'voltage_v' }, { meter: '', field: 'energy_export_wh' }],
      present: [{ meter: '', field: 'power_w' }, { meter: '', field: 'energy_import_wh' }],
      cleanup: async () => {
        for (const s of sockets) s.destroy();
        await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
      },
    };
  });
});
