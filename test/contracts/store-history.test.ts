/** The history contract (store-history.contract.ts) against the embedded DuckDB engine, on a real file. */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe } from 'vitest';
import { DeliveryLedger } from '../../server/core/delivery.js';
import { DuckDbStore } from '../../server/store/duckdb-store.js';
import { tempDir } from '../helpers/kilowatch-process.js';
import { type EngineUnderTest, HOUR_S, T0, historyContract, writeHour } from './store-history.contract.js';

let engine: EngineUnderTest;
const dir = tempDir('history-duckdb');

beforeAll(async () => {
  const store = new DuckDbStore({ dataDir: dir, flushMs: 60_000, maxPendingRows: 100_000, memoryLimit: '256MB', now: () => T0 + 2 * HOUR_S * 1000, hooks: new DeliveryLedger() });
  await store.start();
  engine = { store, settle: () => store.flush() };
  await writeHour(engine);
}, 60_000);

afterAll(async () => {
  await engine?.store.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('history contract: DuckDB', () => historyContract(() => engine));
