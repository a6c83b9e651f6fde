/**
 * Lets the PUBACKs of several incoming messages leave in one socket write.
 * mqtt.js writes each PUBACK as soon as the message handler returns, and at
 * a few thousand messages a second each read holds one message, so every
 * PUBACK was its own writev: about an eighth of the server's main thread in
 * the 1-GPU-per-message profile. The coalescer corks the socket at the first
 * message and releases it after `holdMs` or once `maxHeld` messages came in,
 * whichever is first. `maxHeld` stays below Mosquitto's default
 * max_inflight_messages (20), so a broker with default settings never waits
 * for an acknowledgement we are holding; `holdMs` bounds the delay when
 * traffic is light.
 */
import type { Writable } from 'node:stream';

export class WriteCoalescer {
  private held: Writable | undefined;
  private count = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly release = (): void => {
    clearTimeout(this.timer);
    this.timer = undefined;
    const stream = this.held;
    this.held = undefined;
    stream?.uncork();
  };

  constructor(
    private readonly holdMs = 2,
    private readonly maxHeld = 16,
  ) {}

  /**
   * Called in the message handler, before mqtt.js writes that message's
   * PUBACK; the release runs on a later tick, so the PUBACK is inside it.
   */
  message(stream: Writable): void {
    if (this.held !== stream) {
      this.release(); // a reconnect brought a new stream: the old one's writes go now
      stream.cork();
      this.held = stream;
      this.count = 0;
      this.timer = setTimeout(this.release, this.holdMs);
    }
    if (++this.count === this.maxHeld) process.nextTick(this.release);
  }

  /** Writes anything held now (on stop). */
  flush(): void {
    this.release();
  }
}
