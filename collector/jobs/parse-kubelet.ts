/**
 * A kubelet pod resources List answer (kubelet.proto) -> which pod holds
 * which GPU, as the job tracker takes it (job-tracker.ts): GPU id -> jobs.
 * Pure; kubelet-pods.ts does the gRPC call.
 *
 * A pod is the job: its id is `<namespace>/<pod>`, its project the namespace,
 * and its labels name the namespace, the pod and the containers that hold
 * GPUs. GPUs are the devices of NVIDIA's device plugin resources:
 * `nvidia.com/gpu` (and its time-sliced `nvidia.com/gpu.shared`) and the MIG
 * resources of the mixed strategy, `nvidia.com/mig-<profile>`. Their device
 * ids are the GPU UUID (`GPU-...`) or the MIG device UUID (`MIG-...`), which
 * are kilowatch's GPU ids (protocol/payloads.ts); a time-sliced replica's
 * `::<n>` suffix is dropped. A device id of another shape (a plugin that
 * numbers devices, a pre-R470 `MIG-GPU-<uuid>/<gi>/<ci>`) cannot be matched to
 * a GPU: it is reported, never guessed.
 */
import type { ProcJob } from './parse-proc.js';

/** The List answer as @grpc/proto-loader decodes it (keepCase, defaults, arrays). */
export interface PodResourcesList {
  pod_resources?: {
    name?: string;
    namespace?: string;
    containers?: { name?: string; devices?: { resource_name?: string; device_ids?: string[] }[] }[];
  }[];
}

export interface KubeletJob extends ProcJob {
  kind: 'kubernetes';
  labels: { namespace: string; pod: string; container: string };
}

export interface KubeletGpuJobs {
  byGpu: Map<string, KubeletJob[]>;
  /** Pods that hold at least one GPU. */
  pods: number;
  /** Device ids of GPU resources that are not GPU or MIG UUIDs, and pods beyond the bound; each with its reason. */
  problems: string[];
}

const GPU_RESOURCE = /^nvidia\.com\/(?:gpu(?:\.shared)?|mig-[A-Za-z0-9.+-]+)$/;
const UUID = /^(?:GPU|MIG)-[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** A node runs at most a few hundred pods (110 by default); more is a broken answer, not a node. */
export const MAX_PODS = 5000;
/** A DGX-class node has 8 GPUs of up to 7 MIG instances each. */
export const MAX_DEVICES_PER_POD = 256;
const MAX_PROBLEMS = 20;

export function isGpuResource(name: string): boolean {
  return GPU_RESOURCE.test(name);
}

/** The GPU id of a device id, or undefined when it is no GPU or MIG UUID. */
export function gpuIdOf(deviceId: string): string | undefined {
  const id = deviceId.replace(/::\d+$/, '');
  return UUID.test(id) ? id : undefined;
}

export function gpuJobsFromPodResources(list: PodResourcesList): KubeletGpuJobs {
  const byGpu = new Map<string, KubeletJob[]>();
  const problems: string[] = [];
  const problem = (text: string) => {
    if (problems.length < MAX_PROBLEMS) problems.push(text);
  };
  const pods = list.pod_resources ?? [];
  if (pods.length > MAX_PODS) problem(`${pods.length} pods in one answer; only the first ${MAX_PODS} are read`);
  let holding = 0;
  for (const pod of pods.slice(0, MAX_PODS)) {
    const name = pod.name ?? '';
    const namespace = pod.namespace ?? '';
    if (!name || !namespace) continue;
    const gpus = new Set<string>();
    const containers = new Set<string>();
    let devices = 0;
    for (const c of pod.containers ?? []) {
      for (const d of c.devices ?? []) {
        if (!isGpuResource(d.resource_name ?? '')) continue;
        for (const raw of d.device_ids ?? []) {
          if (++devices > MAX_DEVICES_PER_POD) break;
          const gpu = gpuIdOf(raw);
          if (!gpu) {
            problem(`pod ${namespace}/${name}: device id ${JSON.stringify(raw.slice(0, 80))} of ${d.resource_name} is not a GPU or MIG UUID`);
            continue;
          }
          gpus.add(gpu);
          if (c.name) containers.add(c.name);
        }
      }
    }
    if (devices > MAX_DEVICES_PER_POD) problem(`pod ${namespace}/${name}: ${devices} GPU devices; only the first ${MAX_DEVICES_PER_POD} are read`);
    if (gpus.size === 0) continue;
    holding += 1;
    const job: KubeletJob = {
      job: `${namespace}/${name}`,
      kind: 'kubernetes',
      project: namespace,
      labels: { namespace, pod: name, container: [...containers].sort().join(',') },
    };
    for (const gpu of gpus) {
      let jobs = byGpu.get(gpu);
      if (!jobs) byGpu.set(gpu, (jobs = []));
      jobs.push(job);
    }
  }
  return { byGpu, pods: holding, problems };
}
