/**
 * `kilowatch all --source prometheus --jobs-from kubelet`: the GPU comes from
 * a dcgm-exporter scrape (../shared/fixtures), the pods from a stand-in
 * kubelet on a unix socket. A pod that gets the GPU becomes a job with its
 * namespace as project and its labels, and ends when the pod is gone; the
 * exporter's own pod labels are not a second source of jobs.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, describe, expect, it } from 'vitest';
import { type KilowatchProcess, ROOT, eventually, getJson, startKilowatch, tempDir } from '../../helpers/kilowatch-process.js';

const SCRAPE = join(ROOT, '..', 'shared', 'fixtures', 'dcgm-exporter', 'k8s-ai-conformance__kops__nvidia-l4__metrics-with-help-type.prom');
const GPU = 'GPU-c2f76b33-7953-256e-8f33-1343419b1a1c'; // the L4 of that scrape

let kw: KilowatchProcess | undefined;
const exporter = createServer((_req, res) => res.end(readFileSync(SCRAPE, 'utf8')));
const kubelet = new grpc.Server();
let pods: object[] = [];
afterAll(async () => {
  await kw?.stop();
  exporter.close();
  kubelet.forceShutdown();
});

describe('kilowatch all --jobs-from kubelet', () => {
  it('publishes a job for the pod the kubelet says holds the GPU, and ends it when the pod is gone', async () => {
    await new Promise<void>((r) => exporter.listen(0, '127.0.0.1', r));
    const socket = join(mkdtempSync(join(tmpdir(), 'kilowatch-kubelet-')), 'kubelet.sock');
    const def = protoLoader.loadSync(join(ROOT, 'test/fixtures/kubelet/kubelet-side.proto'), { keepCase: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as { v1: { PodResourcesLister: { service: grpc.ServiceDefinition } } };
    kubelet.addService(pkg.v1.PodResourcesLister.service, { List: (_c: unknown, cb: grpc.sendUnaryData<object>) => cb(null, { pod_resources: pods }) });
    await new Promise<void>((res, rej) => kubelet.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));
    pods = [{ name: 'bert-finetune-0', namespace: 'ml-team', containers: [{ name: 'trainer', devices: [{ resource_name: 'nvidia.com/gpu', device_ids: [GPU] }] }] }];

    const url = `http://127.0.0.1:${(exporter.address() as AddressInfo).port}/metrics`;
    kw = await startKilowatch(
      ['all', '--source', 'prometheus', '--scrape-url', url, '--scrape-interval-ms', '1000', '--host-id', 'l4-node', '--jobs-from', 'kubelet', '--kubelet-socket', socket,
        '--port', '0', '--mqtt-port', '0', '--data-dir', tempDir('kubelet-e2e')],
      /kilowatch: open http/,
    );
    const started = await eventually(async () => {
      const p = await getJson(`${kw!.httpUrl}/api/v1/jobs`);
      return p.jobs.length > 0 ? p : undefined;
    });
    expect(started).toMatchObject({ total: 1, jobs: [{ job: 'ml-team/bert-finetune-0', project: 'ml-team', hosts: [{ host: 'l4-node' }], gpus: 1 }] });
    expect(started.jobs[0].end).toBeUndefined();
    expect(kw.output()).toContain('collector jobs: from the kubelet\'s pod resources API on');

    pods = [];
    const ended = await eventually(async () => {
      const p = await getJson(`${kw!.httpUrl}/api/v1/jobs`);
      return p.jobs[0]?.end !== undefined ? p : undefined;
    });
    expect(ended.jobs).toHaveLength(1);
    expect(ended.jobs[0].end).toBeGreaterThan(ended.jobs[0].start);
    expect(await kw.stop('SIGINT')).toBe(0);
  });
});
