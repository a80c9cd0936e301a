// The server's one cache: an in-process LRU (bounded by entries and by bytes) in front of Redis, shared
// by every instance, when REDIS_URL is set. Invalidations travel as events so that a change made on one
// instance drops the entries of the others; Redis going away leaves each instance caching on its own.
import { randomUUID } from "node:crypto";
import { LRUCache } from "lru-cache";
import type { Logger } from "../logger.js";
import { InvalidationLog } from "./invalidation-log.js";
import { RedisStore } from "./redis-store.js";
import { UnsentInvalidations } from "./unsent-invalidations.js";
import { CACHE_INVALIDATE_TOPIC, isInvalidation, type CacheBus, type CacheInvalidation, type CacheOptions, type CacheStats, type EntryOptions } from "./cache.types.js";

export { CACHE_INVALIDATE_TOPIC, type CacheBus, type CacheInvalidation, type CacheOptions, type CacheRedisOptions, type CacheStats, type EntryOptions } from "./cache.types.js";

interface Entry {
  /** The value's JSON: every get returns a fresh copy, so a caller modifying it changes no one else's. */
  json: string;
  tags: readonly string[];
}

interface Flight {
  promise: Promise<unknown>;
  tags: readonly string[];
}

export class Cache {
  /** Identifies this cache in invalidation events. */
  readonly origin = randomUUID();
  readonly namespace: string | undefined;
  private readonly l1: LRUCache<string, Entry>;
  private readonly byTag = new Map<string, Set<string>>();
  private readonly store: RedisStore | undefined;
  private readonly bus: CacheBus | undefined;
  private readonly logger: Logger;
  private readonly defaultTtlMs: number;
  private readonly maxBytes: number;
  private readonly flights = new Map<string, Flight>();
  private readonly counts = { hits: 0, misses: 0, evictions: 0, remoteInvalidations: 0 };
  private subscription: AsyncIterableIterator<unknown> | undefined;
  /** Invalidations Redis did not get (it was unavailable): sent again when it is back. */
  private readonly unsent: UnsentInvalidations;
  private closed = false;
  private unserializableLogged = false;
  /** The stale-write guard (invalidation-log.ts). */
  private readonly log = new InvalidationLog();

  constructor(options: CacheOptions) {
    for (const name of ["maxEntries", "maxBytes", "defaultTtlMs"] as const) {
      if (!Number.isSafeInteger(options[name]) || options[name] <= 0) throw new TypeError(`cache ${name} must be a positive integer`);
    }
    this.namespace = options.namespace;
    this.logger = options.logger.child({ component: "cache", ...(options.namespace && { namespace: options.namespace }) });
    this.defaultTtlMs = options.defaultTtlMs;
    this.maxBytes = options.maxBytes;
    this.unsent = new UnsentInvalidations(this.logger);
    this.l1 = new LRUCache<string, Entry>({
      max: options.maxEntries,
      maxSize: options.maxBytes,
      ttl: options.defaultTtlMs,
      dispose: (entry, key, reason) => {
        this.unindex(key, entry.tags);
        if (reason === "evict") this.counts.evictions++;
      },
    });

    if (options.redis) {
      const { client, prefix } = options.redis;
      this.store = new RedisStore({
        client: typeof client === "function" ? client() : client,
        ownsClient: options.redis.ownsClient ?? typeof client === "function",
        prefix,
        namespace: options.namespace,
        commandTimeoutMs: options.redis.commandTimeoutMs ?? 50,
        writeTimeoutMs: options.redis.writeTimeoutMs ?? 500,
        retryAfterMs: options.redis.retryAfterMs ?? 1_000,
        logger: this.logger,
        onRecovered: (connectionLost) => {
          // Invalidation events from other instances may have been lost with the connections: what this
          // instance holds may be stale.
          if (connectionLost) this.dropLocal();
          void this.replayInvalidations();
        },
      });
    }
    this.bus = options.bus;
    if (this.bus) this.listen(this.bus);
  }

  /** The value, from this process or from Redis; undefined when neither has it. */
  async get<T>(key: string): Promise<T | undefined> {
    const local = this.l1Get(key);
    if (local !== undefined) return parse(local) as T | undefined;
    if (!this.store) return undefined;
    const started = this.log.begin();
    try {
      const entry = (await this.store.read(key, []))?.entry;
      if (!entry) return undefined;
      const value = parse(entry.json);
      if (value !== undefined && !this.stale(started, key, entry.tags)) this.l1SetFromStore(key, entry.json, entry.ttlMs, entry.tags);
      return value as T | undefined;
    } finally {
      this.log.end();
    }
  }

  /**
   * The cached value, or what `load` returns (then cached; undefined is returned but not cached).
   * Concurrent misses of one key in this process share one load. A load that an invalidation of its key
   * or tags overtook is returned to its callers but stored nowhere, and later callers load again.
   * Fails only when `load` fails (nothing is cached then).
   */
  async getOrLoad<T>(key: string, load: () => Promise<T>, options: EntryOptions = {}): Promise<T> {
    const local = this.l1Get(key);
    if (local !== undefined) {
      const value = parse(local);
      if (value !== undefined) return value as T;
    }
    const existing = this.flights.get(key);
    if (existing) return existing.promise as Promise<T>;
    const flight: Flight = { promise: Promise.resolve(), tags: options.tags ?? [] };
    flight.promise = this.fill(key, load, options).finally(() => {
      if (this.flights.get(key) === flight) this.flights.delete(key);
    });
    this.flights.set(key, flight);
    return flight.promise as Promise<T>;
  }

  /**
   * Stores a value in both levels, then has the other instances drop their copies (they read this one
   * from Redis next). Loads of the key in flight, here or elsewhere, will not overwrite it. A value that
   * is undefined or not JSON-safe deletes the key instead.
   */
  set(key: string, value: unknown, options: EntryOptions = {}): void {
    const ttlMs = options.ttlMs ?? this.defaultTtlMs;
    const tags = options.tags ?? [];
    const json = this.serialize(key, value);
    if (json === undefined || !(ttlMs > 0)) {
      void this.invalidate([key], []);
      return;
    }
    // Loads of this key that started earlier must not replace what the caller says is current.
    this.forget([key], [], false);
    this.l1Set(key, json, ttlMs, tags);
    if (!this.store) this.publish([key], []);
    else void this.store.write(key, json, ttlMs, tags).then(() => this.publish([key], []));
  }

  /** invalidateKeys([key]). */
  delete(key: string): Promise<void> {
    return this.invalidateKeys([key]);
  }

  /**
   * Drops the keys here and in Redis, then tells the other instances to drop them. Resolves once Redis
   * has (waiting at most writeTimeoutMs; when Redis is unavailable it gets them once it is back); never rejects.
   */
  invalidateKeys(keys: readonly string[]): Promise<void> {
    return this.invalidate([...new Set(keys)], []);
  }

  /** invalidateKeys for every key carrying one of the tags, on every instance. */
  invalidateTags(tags: readonly string[]): Promise<void> {
    return this.invalidate([], [...new Set(tags)]);
  }

  /** Empties this process's level (Redis and the other instances keep theirs). */
  clear(): void {
    this.dropLocal();
  }

  /**
   * Counters, read at every /metrics scrape. Entries and bytes include expired entries not yet
   * read or evicted: they hold memory until then, within the same bounds. Purging them here
   * walked the whole LRU, 8 to 25 ms of blocked event loop per scrape at 50,000 entries.
   */
  stats(): CacheStats {
    const l2 = this.store?.stats();
    return {
      l1: {
        entries: this.l1.size,
        bytes: this.l1.calculatedSize,
        hits: this.counts.hits,
        misses: this.counts.misses,
        maxEntries: this.l1.max,
        maxBytes: this.maxBytes,
      },
      l2: { enabled: this.store !== undefined, healthy: this.store?.healthy() ?? false, hits: l2?.hits ?? 0, misses: l2?.misses ?? 0, errors: l2?.errors ?? 0 },
      evictions: this.counts.evictions,
      remoteInvalidations: this.counts.remoteInvalidations,
    };
  }

  /** Null without Redis (nothing to be unhealthy); otherwise whether the second level is usable. */
  health(): { ok: boolean; detail?: string } | null {
    return this.store?.health() ?? null;
  }

  /** Stops listening for invalidations and closes the Redis client if the cache owns it; the cache is then local. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const subscription = this.subscription;
    this.subscription = undefined;
    await subscription?.return?.();
    await this.store?.close();
  }

  private async fill(key: string, load: () => Promise<unknown>, options: EntryOptions): Promise<unknown> {
    const ttlMs = options.ttlMs ?? this.defaultTtlMs;
    const tags = options.tags ?? [];
    const started = this.log.begin();
    try {
      const read = this.store ? await this.store.read(key, tags) : undefined;
      if (read?.entry) {
        const { entry } = read;
        const value = parse(entry.json);
        if (value !== undefined) {
          if (!this.stale(started, key, [...tags, ...entry.tags])) this.l1SetFromStore(key, entry.json, entry.ttlMs, entry.tags);
          return value;
        }
      }
      const value = await load();
      const json = this.serialize(key, value);
      if (json !== undefined && ttlMs > 0 && !this.stale(started, key, tags)) {
        this.l1Set(key, json, ttlMs, tags);
        // Conditional on the generations read before the load: an invalidation made meanwhile on any
        // instance (whose event may not have arrived yet) keeps this value out of Redis.
        if (read) void this.store!.write(key, json, ttlMs, tags, read.generations);
      }
      return value;
    } finally {
      this.log.end();
    }
  }

  private async invalidate(keys: string[], tags: string[]): Promise<void> {
    if (keys.length === 0 && tags.length === 0) return;
    this.forget(keys, tags, true);
    // Redis first: an instance that gets the event and misses must not find the old value there.
    if (this.store && !(await this.store.invalidate(keys, tags))) this.unsent.keep(keys, tags);
    this.publish(keys, tags);
  }

  private publish(keys: string[], tags: string[]): void {
    if (!this.bus || this.closed) return;
    const payload: CacheInvalidation = {
      ...(keys.length > 0 && { keys }),
      ...(tags.length > 0 && { tags }),
      origin: this.origin,
      ...(this.namespace !== undefined && { namespace: this.namespace }),
    };
    try {
      this.bus.publish(CACHE_INVALIDATE_TOPIC, payload);
    } catch (error) {
      this.logger.error({ err: error }, "publishing a cache invalidation failed: other instances keep their entries until they expire");
    }
  }

  private async replayInvalidations(): Promise<void> {
    const { keys, tags } = this.unsent.take();
    if (keys.length + tags.length === 0 || !this.store) return;
    if (await this.store.invalidate(keys, tags)) {
      this.logger.info({ keys: keys.length, tags: tags.length }, "invalidations made while redis was unavailable sent to it");
      // And to the other instances: the event published when they were made went nowhere if the bus
      // was down too, and an instance that kept its connection (or got it back sooner and loaded
      // since) still holds what they dropped.
      this.publish(keys, tags);
    } else this.unsent.keep(keys, tags);
  }

  /** Drops keys and tagged entries from the first level, and keeps loads in flight from storing them. */
  private forget(keys: readonly string[], tags: readonly string[], dropEntries: boolean): void {
    const tagSet = new Set(tags);
    for (const key of keys) {
      if (dropEntries) this.l1.delete(key);
      this.flights.delete(key);
    }
    for (const tag of tags) {
      const tagged = this.byTag.get(tag);
      if (!tagged) continue;
      for (const key of [...tagged]) this.l1.delete(key);
      this.byTag.delete(tag);
    }
    if (tagSet.size > 0) {
      for (const [key, flight] of this.flights) if (flight.tags.some((tag) => tagSet.has(tag))) this.flights.delete(key);
    }
    this.log.record(keys, [...tagSet]);
  }

  /** Whether an invalidation since `started` concerns the key or its tags (a closed cache stores nothing). */
  private stale(started: number, key: string, tags: readonly string[]): boolean {
    return this.closed || this.log.staleSince(started, key, tags);
  }

  /** Everything in this process goes (clear(), or Redis back after an outage). */
  private dropLocal(): void {
    this.l1.clear();
    this.byTag.clear();
    this.flights.clear();
    this.log.record([], [], true);
  }

  private listen(bus: CacheBus): void {
    if (this.closed) return;
    const subscription = (this.subscription = bus.subscribe(CACHE_INVALIDATE_TOPIC));
    void (async () => {
      try {
        for await (const payload of subscription) this.receive(payload);
      } catch (error) {
        this.logger.error({ err: error }, "cache invalidation stream failed");
      }
      // The stream ended without close(): the bus dropped it (e.g. it fell behind). Events may have been
      // missed, so start over: listen again and forget what this process holds.
      if (!this.closed && this.subscription === subscription) {
        this.logger.warn("cache invalidation stream ended: listening again, local entries dropped");
        this.dropLocal();
        this.listen(bus);
      }
    })();
  }

  private receive(payload: unknown): void {
    if (!isInvalidation(payload)) return;
    if (payload.origin === this.origin || payload.namespace !== this.namespace) return;
    this.counts.remoteInvalidations++;
    // Redis was cleaned by the publisher: only this process's level is left to drop.
    this.forget(payload.keys ?? [], payload.tags ?? [], true);
  }

  private l1Get(key: string): string | undefined {
    const entry = this.l1.get(key);
    if (entry) this.counts.hits++;
    else this.counts.misses++;
    return entry?.json;
  }

  /** An entry read from Redis, for the time Redis still keeps it. */
  private l1SetFromStore(key: string, json: string, pttl: number, tags: readonly string[]): void {
    const ttlMs = pttl === -1 ? this.defaultTtlMs : pttl;
    if (ttlMs > 0) this.l1Set(key, json, ttlMs, tags);
  }

  private l1Set(key: string, json: string, ttlMs: number, tags: readonly string[]): void {
    const size = Buffer.byteLength(key) + Buffer.byteLength(json);
    if (size > this.maxBytes) {
      // Larger than the whole first level: kept in Redis only (and an older value must not stay here).
      this.l1.delete(key);
      this.logger.debug({ key, size, maxBytes: this.maxBytes }, "cache entry larger than the local cache: not kept locally");
      return;
    }
    // The old entry's tags are unindexed by dispose (reason "set") before the new ones are indexed.
    this.l1.set(key, { json, tags }, { ttl: Math.max(1, Math.ceil(ttlMs)), size });
    for (const tag of tags) {
      let keys = this.byTag.get(tag);
      if (!keys) this.byTag.set(tag, (keys = new Set()));
      keys.add(key);
    }
  }

  private unindex(key: string, tags: readonly string[]): void {
    for (const tag of tags) {
      const keys = this.byTag.get(tag);
      if (!keys) continue;
      keys.delete(key);
      if (keys.size === 0) this.byTag.delete(tag);
    }
  }

  private serialize(key: string, value: unknown): string | undefined {
    if (value === undefined) return undefined;
    try {
      return JSON.stringify(value);
    } catch (error) {
      if (!this.unserializableLogged) {
        this.unserializableLogged = true;
        this.logger.error({ err: error, key }, "value is not JSON-safe: not cached (logged once)");
      }
      return undefined;
    }
  }
}

function parse(json: string): unknown {
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return undefined;
  }
}
