/**
 * Jobs from Kubernetes: asks the kubelet which pod holds which GPU through its
 * pod resources API (gRPC `v1.PodResourcesLister/List` on a unix socket,
 * kubelet.proto) and feeds the answer (parse-kubelet.ts) to the same job
 * tracker as the /proc path, so pods start and end exactly as Slurm jobs do
 * on the host's `job` stream.
 *
 * The call runs on poll-loop.ts like the power pollers: never two at once, a
 * deadline per call (the call is cancelled there and counted), and a failed
 * call changes nothing: a kubelet that restarts does not end every pod on
 * the node. The answer is bounded (MAX_LIST_BYTES) by the gRPC channel.
 */
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PollLoop } from '../pollers/poll-loop.js';
import { type JobChange, JobTracker } from './job-tracker.js';
import { type PodResourcesList, gpuJobsFromPodResources } from './parse-kubelet.js';

export const DEFAULT_KUBELET_SOCKET = '/var/lib/kubelet/pod-resources/kubelet.sock';
/** A node's List answer is tens of kB; this bounds a broken one. */
export const MAX_LIST_BYTES = 16 * 1024 * 1024;

/**
 * kubelet.proto beside this module in the source tree; from the compiled
 * dist/collector/jobs/, the same file in the source tree, which the package
 * ships (tsc copies no .proto).
 */
export function kubeletProtoPath(moduleDir: string = dirname(fileURLToPath(import.meta.url))): string {
  const parts = moduleDir.split(sep);
  const dist = parts.lastIndexOf('dist');
  return dist >= 0 ? join(parts.slice(0, dist).join(sep) || sep, 'collector', 'jobs', 'kubelet.proto') : resolve(moduleDir, 'kubelet.proto');
}

interface ListClient extends grpc.Client {
  List(req: object, options: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: PodResourcesList) => void): grpc.ClientUnaryCall;
}

/** A client of the kubelet's PodResourcesLister on `socketPath`. */
export function podResourcesClient(socketPath: string): ListClient {
  const def = protoLoader.loadSync(kubeletProtoPath(), { keepCase: true, defaults: true, arrays: true, longs: String, enums: String });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { v1: { PodResourcesLister: new (target: string, creds: grpc.ChannelCredentials, options: object) => ListClient } };
  return new pkg.v1.PodResourcesLister(`unix://${socketPath}`, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': MAX_LIST_BYTES });
}

/** One List call that the signal cancels. */
export function listPodResources(client: ListClient, signal: AbortSignal): Promise<PodResourcesList> {
  return new Promise((resolvePods, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const call = client.List({}, {}, (err, res) => {
      signal.removeEventListener('abort', onAbort);
      if (err) reject(new Error(`${grpc.status[err.code] ?? err.code}: ${err.details || err.message}`));
      else resolvePods(res ?? {});
    });
    const onAbort = () => call.cancel();
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export interface KubeletJobsOptions {
  socketPath: string;
  intervalMs: number;
  timeoutMs: number;
  now: () => number;
  log: (line: string) => void;
  /** The job starts and ends of one answer, in the tracker's order. */
  publish(changes: JobChange[]): void;
}

export class KubeletJobs {
  private readonly tracker = new JobTracker();
  private client: ListClient | undefined;
  private loop: PollLoop<PodResourcesList> | undefined;
  private readonly counters = { kubelet_answers: 0, kubelet_gpu_pods: 0, kubelet_unmatched_devices: 0 };
  private lastFailure = '';
  /** Device problems already logged; bounded like every buffer. */
  private readonly logged = new Set<string>();

  constructor(private readonly opts: KubeletJobsOptions) {}

  start(): void {
    const client = (this.client = podResourcesClient(this.opts.socketPath));
    this.loop = new PollLoop<PodResourcesList>({
      intervalMs: () => this.opts.intervalMs,
      timeoutMs: () => this.opts.timeoutMs,
      poll: (signal) => listPodResources(client, signal),
      onResult: (list, atMs) => this.onAnswer(list, atMs),
      onFailure: (kind, detail) => {
        // A kubelet that stays away logs once, and again only when the reason changes.
        const line = `collector jobs: kubelet pod resources on ${this.opts.socketPath}: ${kind}: ${detail}; jobs are left as they were`;
        if (line !== this.lastFailure) this.opts.log((this.lastFailure = line));
      },
      now: this.opts.now,
    });
    this.loop.start();
    this.opts.log(`collector jobs: from the kubelet's pod resources API on ${this.opts.socketPath}`);
  }

  async stop(): Promise<void> {
    await this.loop?.stop();
    this.client?.close();
  }

  /** The running pods, as job ids. */
  get jobs(): string[] {
    return this.tracker.jobs;
  }

  health(): Record<string, number> {
    const c = this.loop?.counters;
    return { kubelet_polls: c?.polls ?? 0, kubelet_timeouts: c?.timeout ?? 0, kubelet_errors: c?.error ?? 0, ...this.counters };
  }

  private onAnswer(list: PodResourcesList, atMs: number): void {
    const found = gpuJobsFromPodResources(list);
    this.counters.kubelet_answers += 1;
    this.counters.kubelet_gpu_pods = found.pods;
    this.counters.kubelet_unmatched_devices += found.problems.length;
    for (const p of found.problems) {
      if (this.logged.has(p) || this.logged.size >= 256) continue;
      this.logged.add(p);
      this.opts.log(`collector jobs: kubelet: ${p}`);
    }
    if (this.lastFailure) this.opts.log(`collector jobs: kubelet pod resources on ${this.opts.socketPath}: answering again`);
    this.lastFailure = '';
    const changes = this.tracker.update(found.byGpu, atMs);
    if (changes.length > 0) this.opts.publish(changes);
  }
}
