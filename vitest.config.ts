import { defineConfig } from 'vitest/config';

// Two tiers (README "Tests"): `unit` is self-contained (Aedes, DuckDB, gcc);
// `integration` needs Mosquitto, VictoriaMetrics and Chromium from Debian.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/integration/**'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
