/**
 * A poller's log of its device's problems: a device that stays down (a BMC
 * deactivated, a meter unreachable) logs once, not at every poll; a new kind
 * of problem logs again (numbers are ignored when comparing, so a changing
 * value does not count as new), and so does the first reading after them.
 * The counters in health carry every occurrence.
 */
export class ProblemLog {
  private last = '';

  constructor(private readonly log: (line: string) => void) {}

  problem(line: string): void {
    const key = line.replace(/\d+/g, '#');
    if (key === this.last) return;
    this.last = key;
    this.log(line);
  }

  /** A good reading: logged only when it ends a run of problems. */
  recovered(line: string): void {
    if (this.last === '') return;
    this.last = '';
    this.log(line);
  }
}
