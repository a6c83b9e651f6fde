/**
 * Jobs from the kubelet: the pure mapping over the List fixtures, and the
 * gRPC path against a stand-in kubelet, a grpc-js server on a unix socket in
 * a temp dir, whose pods appear and disappear between polls.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterEach, describe, expect, it } from 'vitest';
import { layerConfig } from '../../../cli/config-layers.js';
import { collectorConfig, collectorProblems } from '../../../collector/config.js';
import type { JobChange } from '../../../collector/jobs/job-tracker.js';
import { KubeletJobs, kubeletProtoPath } from '../../../collector/jobs/kubelet-pods.js';
import { type PodResourcesList, gpuIdOf, gpuJobsFromPodResources } from '../../../collector/jobs/parse-kubelet.js';
import { describeFixtures } from '../../helpers/fixture-suite.js';
import { ROOT } from '../../helpers/kilowatch-process.js';

const FIXTURES = join(ROOT, 'test/fixtures/kubelet');
const G1 = 'GPU-8f2c1a44-0d2e-4b7e-9c11-2f1e0a9b3c01';
const G2 = 'GPU-8f2c1a44-0d2e-4b7e-9c11-2f1e0a9b3c02';
const MIG = 'MIG-5c2d9e1f-3a4b-5c6d-7e8f-90a1b2c3d4e5';
const SHARED = 'GPU-1d3e5f70-8a9b-4c0d-9e1f-203142536475';

/** Message name -> field name -> [number, type, repeated] as proto-loader reads a .proto. */
function fieldsOf(file: string): Record<string, Record<string, [number, string, string]>> {
  const def = protoLoader.loadSync(file, { keepCase: true });
  const out: Record<string, Record<string, [number, string, string]>> = {};
  for (const [name, d] of Object.entries(def)) {
    const type = (d as { type?: { field?: { name: string; number: number; type: string; label: string }[] } }).type;
    if (!type?.field) continue;
    out[name] = Object.fromEntries(type.field.map((f) => [f.name, [f.number, f.type, f.label] as [number, string, string]]));
  }
  return out;
}

describeFixtures('kubelet fixtures', FIXTURES, {
  'list__gpu-operator-mixed-mig-and-time-slicing__from-docs.json': (text) => {
    const found = gpuJobsFromPodResources(JSON.parse(text) as PodResourcesList);
    const jobsOn = (gpu: string) => found.byGpu.get(gpu)?.map((j) => j.job);
    expect([...found.byGpu.keys()].sort()).toEqual([G1, G2, SHARED, MIG].sort());
    expect(jobsOn(G1)).toEqual(['research/llm-train-0']);
    expect(jobsOn(G2)).toEqual(['research/llm-train-0']);
    expect(jobsOn(MIG)).toEqual(['team-a/notebook-7f9c']);
    expect(jobsOn(SHARED)).toEqual(['serving/infer-a', 'serving/infer-b']); // two replicas of one time-sliced GPU
    expect(found.byGpu.get(G1)![0]).toEqual({
      job: 'research/llm-train-0', kind: 'kubernetes', project: 'research',
      labels: { namespace: 'research', pod: 'llm-train-0', container: 'trainer' }, // the sidecar holds no GPU
    });
    expect(found.pods).toBe(4); // etl holds CPUs only; legacy's device "0" cannot be matched to a GPU
    expect(found.problems).toEqual(['pod ops/legacy: device id "0" of nvidia.com/gpu is not a GPU or MIG UUID']);
  },
  'kubelet-side.proto': (_text, file) => {
    // Every field kilowatch declares has the kubelet's number and type: they are the wire format.
    const ours = fieldsOf(kubeletProtoPath());
    const theirs = fieldsOf(join(FIXTURES, file));
    expect(Object.keys(ours).sort()).toEqual(['v1.ContainerDevices', 'v1.ContainerResources', 'v1.ListPodResourcesRequest', 'v1.ListPodResourcesResponse', 'v1.PodResources']);
    for (const [message, fields] of Object.entries(ours)) {
      for (const [name, f] of Object.entries(fields)) expect([message, name, theirs[message]?.[name]]).toEqual([message, name, f]);
    }
    expect(theirs['v1.ContainerResources']!.cpu_ids).toEqual([3, 'TYPE_INT64', 'LABEL_REPEATED']); // what ours leaves out
  },
});

describe('parse-kubelet', () => {
  it('takes GPU and MIG UUIDs, without a time-slicing replica suffix, and nothing else', () => {
    expect(gpuIdOf(`${G1}::3`)).toBe(G1);
    expect(gpuIdOf(MIG)).toBe(MIG);
    expect(gpuIdOf('MIG-GPU-8f2c1a44-0d2e-4b7e-9c11-2f1e0a9b3c01/1/0')).toBeUndefined(); // the pre-R470 MIG naming
    expect(gpuIdOf('nvidia0')).toBeUndefined();
  });

  it('ignores pods without a name or namespace and bounds what it reports', () => {
    const many = { pod_resources: Array.from({ length: 30 }, (_, i) => ({ name: `p${i}`, namespace: 'n', containers: [{ name: 'c', devices: [{ resource_name: 'nvidia.com/gpu', device_ids: [`${i}`] }] }] })) };
    expect(gpuJobsFromPodResources(many).problems).toHaveLength(20);
    expect(gpuJobsFromPodResources({ pod_resources: [{ name: '', namespace: 'n', containers: [{ name: 'c', devices: [{ resource_name: 'nvidia.com/gpu', device_ids: [G1] }] }] }] }).byGpu.size).toBe(0);
  });

  it('finds kubelet.proto from the source tree and from the compiled dist/', () => {
    const here = join(ROOT, 'collector', 'jobs');
    expect(kubeletProtoPath(here)).toBe(join(here, 'kubelet.proto'));
    expect(kubeletProtoPath(join(ROOT, 'dist', 'collector', 'jobs'))).toBe(join(here, 'kubelet.proto'));
    expect(existsSync(kubeletProtoPath())).toBe(true);
  });
});

describe('collector.jobs_from', () => {
  const collector = (argv: string[], env: Record<string, string> = {}) => {
    const r = layerConfig({ commands: ['collector'], argv, env });
    if (!r.ok) throw new Error(r.problems.join('\n'));
    const config = collectorConfig(r.values);
    return { config, problems: collectorProblems(config) };
  };

  it('reads jobs from /proc unless told kubelet, on the kubelet\'s default socket', () => {
    expect(collector([]).config).toMatchObject({ jobsFrom: 'proc', kubeletSocket: '/var/lib/kubelet/pod-resources/kubelet.sock' });
    expect(collector(['--jobs-from', 'kubelet', '--source', 'nvml']).problems).toEqual([]);
    expect(collector(['--source', 'nvml'], { KILOWATCH_JOBS_FROM: 'kubelet', KILOWATCH_KUBELET_SOCKET: '/run/k.sock' }).config).toMatchObject({ jobsFrom: 'kubelet', kubeletSocket: '/run/k.sock' });
  });

  it('says why kubelet jobs cannot be read', () => {
    expect(collector(['--jobs-from', 'kubelet', '--source', 'sim', '--kubelet-socket', 'kubelet.sock']).problems).toEqual([
      'collector.jobs_from kubelet reads the pods of a real node; the simulated fleet runs its own jobs',
      'collector.kubelet_socket must be an absolute path, got "kubelet.sock"',
    ]);
    expect(layerConfig({ commands: ['collector'], argv: ['--jobs-from', 'slurm'], env: {} }).ok).toBe(false);
  });
});

// ---- against a stand-in kubelet on a unix socket ----

type Pod = { name: string; namespace: string; containers: { name: string; devices: { resource_name: string; device_ids: string[] }[]; cpu_ids?: number[] }[] };
const gpuPod = (namespace: string, name: string, ...gpus: string[]): Pod => ({ name, namespace, containers: [{ name: 'main', devices: [{ resource_name: 'nvidia.com/gpu', device_ids: gpus }], cpu_ids: [4, 5] }] });

const servers: grpc.Server[] = [];
const running: KubeletJobs[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((k) => k.stop()));
  for (const s of servers.splice(0)) s.forceShutdown();
});

/** A kubelet that answers List with the current `pods`, or never when `answer` is false. */
async function standInKubelet(state: { pods: Pod[]; answer: boolean }): Promise<string> {
  const socket = join(mkdtempSync(join(tmpdir(), 'kilowatch-kubelet-')), 'kubelet.sock');
  const def = protoLoader.loadSync(join(FIXTURES, 'kubelet-side.proto'), { keepCase: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { v1: { PodResourcesLister: { service: grpc.ServiceDefinition } } };
  const server = new grpc.Server();
  server.addService(pkg.v1.PodResourcesLister.service, {
    List: (_call: unknown, cb: grpc.sendUnaryData<object>) => {
      if (state.answer) cb(null, { pod_resources: state.pods });
    },
  });
  await new Promise<void>((res, rej) => server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? rej(err) : res())));
  servers.push(server);
  return socket;
}

function kubeletJobs(socketPath: string, logs: string[] = []): { jobs: KubeletJobs; changes: JobChange[] } {
  const changes: JobChange[] = [];
  const jobs = new KubeletJobs({ socketPath, intervalMs: 150, timeoutMs: 100, now: Date.now, log: (l) => logs.push(l), publish: (c) => changes.push(...c) });
  running.push(jobs);
  return { jobs, changes };
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('kubelet jobs over gRPC', () => {
  it('starts a job when a pod gets GPUs and ends it when the pod is gone', async () => {
    const state = { pods: [gpuPod('research', 'train-0', G1, G2)], answer: true };
    const { jobs, changes } = kubeletJobs(await standInKubelet(state));
    jobs.start();
    await until(() => changes.length === 1);
    expect(changes[0]).toMatchObject({ event: 'start', gpus: [G1, G2], job: { job: 'research/train-0', kind: 'kubernetes', project: 'research', labels: { namespace: 'research', pod: 'train-0', container: 'main' } } });

    state.pods = [gpuPod('research', 'train-0', G1, G2), gpuPod('team-a', 'nb', MIG)];
    await until(() => changes.length === 2);
    expect(changes[1]).toMatchObject({ event: 'start', gpus: [MIG], job: { job: 'team-a/nb' } });

    state.pods = [gpuPod('team-a', 'nb', MIG)];
    await until(() => changes.length === 3);
    expect(changes[2]).toMatchObject({ event: 'end', gpus: [G1, G2], job: { job: 'research/train-0' } });
    expect(changes[2]!.ts).toBeGreaterThan(changes[0]!.ts);
    expect(jobs.jobs).toEqual(['team-a/nb']);
    expect(jobs.health()).toMatchObject({ kubelet_errors: 0, kubelet_timeouts: 0, kubelet_gpu_pods: 1 });
  });

  it('times out a kubelet that does not answer and leaves the running jobs as they were', async () => {
    const state = { pods: [gpuPod('research', 'train-0', G1)], answer: true };
    const logs: string[] = [];
    const { jobs, changes } = kubeletJobs(await standInKubelet(state), logs);
    jobs.start();
    await until(() => changes.length === 1);
    state.answer = false;
    state.pods = [];
    await until(() => jobs.health().kubelet_timeouts! >= 2);
    expect(changes).toHaveLength(1); // no end: a silent kubelet is not an empty node
    expect(jobs.jobs).toEqual(['research/train-0']);
    expect(logs.filter((l) => l.includes('timeout'))).toHaveLength(1);
    state.answer = true;
    await until(() => changes.length === 2);
    expect(changes[1]).toMatchObject({ event: 'end', job: { job: 'research/train-0' } });
    expect(logs.at(-1)).toMatch(/answering again$/);
  });

  it('counts a missing kubelet socket as an error, once in the log', async () => {
    const logs: string[] = [];
    const { jobs, changes } = kubeletJobs(join(mkdtempSync(join(tmpdir(), 'kilowatch-kubelet-')), 'absent.sock'), logs);
    jobs.start();
    await until(() => jobs.health().kubelet_errors! + jobs.health().kubelet_timeouts! >= 3);
    expect(changes).toEqual([]);
    expect(logs.filter((l) => l.includes('jobs are left as they were'))).toHaveLength(1);
  });
});
