/**
 * The proxy's consumer instances by group and name. An instance idle for longer than the
 * instance timeout (Confluent's `consumer.instance.timeout.ms`, default 5 minutes) is closed and
 * removed: it leaves its group, and later calls get 40403. A request in progress keeps its
 * instance alive, and every request restarts the clock.
 *
 * @example
 * const instances = new Instances(300_000);
 * instances.add(instance);
 * await instances.use(group, name, (i) => i.records(...)); // 40403 when unknown or expired
 *
 * @module
 */
import type { ConsumerInstance } from "./consumer-instance.js";
import { proxyErrors } from "./errors.js";

export class Instances {
  private readonly byKey = new Map<string, ConsumerInstance>();
  /** Names taken while their instance is being made. */
  private readonly reserved = new Set<string>();
  private readonly sweeper: ReturnType<typeof setInterval>;

  constructor(private readonly timeoutMs: number) {
    this.sweeper = setInterval(() => void this.expire(), Math.max(50, Math.min(1_000, timeoutMs / 4)));
    this.sweeper.unref();
  }

  get size(): number {
    return this.byKey.size;
  }

  /** Reserves a name in a group (409, 40902, when it is taken); `release` gives it back. */
  reserve(group: string, name: string): () => void {
    const key = keyOf(group, name);
    if (this.byKey.has(key) || this.reserved.has(key)) throw proxyErrors.instanceExists(group, name);
    this.reserved.add(key);
    return () => this.reserved.delete(key);
  }

  add(instance: ConsumerInstance): void {
    const key = keyOf(instance.config.group, instance.config.name);
    this.reserved.delete(key);
    this.byKey.set(key, instance);
  }

  /** Runs `f` with the instance, which cannot expire meanwhile (40403 when there is none). */
  async use<T>(group: string, name: string, f: (instance: ConsumerInstance) => Promise<T> | T): Promise<T> {
    const instance = this.byKey.get(keyOf(group, name));
    if (!instance) throw proxyErrors.instanceNotFound(group, name);
    instance.active++;
    instance.lastUsed = Date.now();
    try {
      return await f(instance);
    } finally {
      instance.active--;
      instance.lastUsed = Date.now();
    }
  }

  /** Closes and removes an instance (40403 when there is none). */
  async delete(group: string, name: string): Promise<void> {
    const key = keyOf(group, name);
    const instance = this.byKey.get(key);
    if (!instance) throw proxyErrors.instanceNotFound(group, name);
    this.byKey.delete(key);
    await instance.close();
  }

  /** Closes every instance and stops expiring them. */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    const all = [...this.byKey.values()];
    this.byKey.clear();
    await Promise.allSettled(all.map((i) => i.close()));
  }

  private async expire(): Promise<void> {
    const now = Date.now();
    const idle = [...this.byKey].filter(([, i]) => i.active === 0 && now - i.lastUsed > this.timeoutMs);
    for (const [key] of idle) this.byKey.delete(key);
    await Promise.allSettled(idle.map(([, i]) => i.close()));
  }
}

function keyOf(group: string, name: string): string {
  return `${group}\u0000${name}`;
}
