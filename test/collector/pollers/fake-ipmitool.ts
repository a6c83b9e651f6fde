/**
 * A stand-in for `ipmitool`: a shell script that records its arguments and
 * IPMI_PASSWORD, then behaves as the test sets it: prints a replayed output
 * (test/fixtures/ipmi-dcmi), fails like a BMC that refuses the session, hangs
 * like lanplus waiting on a dead BMC, or floods its output.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tempDir } from '../../helpers/kilowatch-process.js';

export const IPMI_FIXTURES = join(ROOT, 'test', 'fixtures', 'ipmi-dcmi');

export type FakeIpmitoolMode = { print: string } | 'hang' | 'fail' | 'flood';

export interface FakeIpmitool {
  command: string;
  set(mode: FakeIpmitoolMode): void;
  /** The arguments of the latest run, one per element. */
  lastArgs(): string[];
  lastPassword(): string;
  /** The process id of the latest hanging run, once it started. */
  hungPid(): number | undefined;
}

export function fakeIpmitool(): FakeIpmitool {
  const dir = tempDir('ipmitool');
  const f = (name: string) => join(dir, name);
  const script = `#!/bin/sh
printf '%s\\n' "$@" > '${f('args')}'
printf '%s' "$IPMI_PASSWORD" > '${f('password')}'
mode=$(cat '${f('mode')}')
case "$mode" in
  hang) echo $$ > '${f('pid')}'; exec sleep 30 ;;
  fail) echo 'Error: Unable to establish IPMI v2 / RMCP+ session' >&2; exit 1 ;;
  flood) exec yes 'Instantaneous power reading: 1 Watts' ;;
  *) cat "$mode" ;;
esac
`;
  writeFileSync(f('ipmitool'), script);
  chmodSync(f('ipmitool'), 0o755);
  const set = (mode: FakeIpmitoolMode) => writeFileSync(f('mode'), typeof mode === 'string' ? mode : join(IPMI_FIXTURES, mode.print));
  set({ print: 'activated.txt' });
  return {
    command: f('ipmitool'),
    set,
    lastArgs: () => readFileSync(f('args'), 'utf8').split('\n').slice(0, -1),
    lastPassword: () => readFileSync(f('password'), 'utf8'),
    hungPid: () => (existsSync(f('pid')) ? Number(readFileSync(f('pid'), 'utf8')) : undefined),
  };
}

/** True while a process with this id exists (signal 0 checks without sending). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
