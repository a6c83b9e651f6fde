/**
 * `kilowatch collector --record <file>`: the ground truth for delivery tests.
 * One JSON line per message the collector produced (host, stream, boot, seq,
 * ts, and the energy counters it carried) and one per range it dropped from a
 * full spool. Written synchronously, so a killed collector's record is as
 * complete as its spool.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { SpoolEntry } from './spool.js';

export interface RecordLine {
  host: string;
  stream: string;
  boot_id: string;
  seq?: number;
  ts?: number;
  /** Sum of the GPUs' energy counters at the window end, mJ (gpu stream). */
  energy_mj?: number;
  gpus?: number;
  /** Inclusive seq range dropped from a full spool. */
  dropped?: [number, number];
}

export class Recorder {
  private fd: number | undefined;

  constructor(private readonly file: string) {}

  start(): void {
    this.fd = openSync(this.file, 'a');
  }

  private write(line: RecordLine): void {
    if (this.fd !== undefined) writeSync(this.fd, JSON.stringify(line) + '\n');
  }

  produced(host: string, stream: string, e: SpoolEntry, message: { gpus?: { energy_mj?: number }[] }): void {
    const gpus = message.gpus;
    const energy = gpus?.reduce((sum, g) => sum + (g.energy_mj ?? 0), 0);
    this.write({ host, stream, boot_id: e.bootId, seq: e.seq, ts: e.ts, energy_mj: energy, gpus: gpus?.length });
  }

  dropped(host: string, stream: string, entries: SpoolEntry[]): void {
    // Consecutive seqs of one boot become one range.
    let start: SpoolEntry | undefined;
    let prev: SpoolEntry | undefined;
    const flush = () => start && prev && this.write({ host, stream, boot_id: start.bootId, dropped: [start.seq, prev.seq] });
    for (const e of entries) {
      if (!prev || e.bootId !== prev.bootId || e.seq !== prev.seq + 1) {
        flush();
        start = e;
      }
      prev = e;
    }
    flush();
  }

  stop(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
