import type { UsageRepository } from "./usage.repository.js";

/** What the other parts of the server report about themselves. */
export interface HealthSources {
  startedAt: number;
  bulkQueueDepth(): Promise<number>;
  cache(): { hits: number; misses: number };
  openSubscriptions(): number;
  redis(): { ok: boolean; detail?: string } | null;
}

export interface SystemHealth {
  uptimeSeconds: number;
  databaseBytes: number;
  usageEventsStored: number;
  usageEventsLastHour: number;
  errorRateLastHour: number | null;
  bulkQueueDepth: number;
  cacheHits: number;
  cacheMisses: number;
  cacheHitRate: number | null;
  openSubscriptions: number;
  memory: { rssBytes: number; heapUsedBytes: number; heapTotalBytes: number; externalBytes: number };
  redis: { ok: boolean; detail: string | null } | null;
  checkedAt: Date;
}

export class SystemHealthService {
  constructor(
    private readonly usage: UsageRepository,
    private readonly sources: HealthSources,
  ) {}

  async check(): Promise<SystemHealth> {
    const now = Date.now();
    const [databaseBytes, events, bulkQueueDepth] = await Promise.all([
      this.usage.databaseBytes(),
      this.usage.eventCounts(new Date(now - 3_600_000)),
      this.sources.bulkQueueDepth(),
    ]);
    const cache = this.sources.cache();
    const memory = process.memoryUsage();
    const redis = this.sources.redis();
    return {
      uptimeSeconds: Math.round((now - this.sources.startedAt) / 1000),
      databaseBytes,
      usageEventsStored: events.total,
      usageEventsLastHour: events.recent,
      errorRateLastHour: events.recent ? events.recentErrors / events.recent : null,
      bulkQueueDepth,
      cacheHits: cache.hits,
      cacheMisses: cache.misses,
      cacheHitRate: cache.hits + cache.misses ? cache.hits / (cache.hits + cache.misses) : null,
      openSubscriptions: this.sources.openSubscriptions(),
      memory: { rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, heapTotalBytes: memory.heapTotal, externalBytes: memory.external },
      redis: redis ? { ok: redis.ok, detail: redis.detail ?? null } : null,
      checkedAt: new Date(now),
    };
  }
}
