// The ingest side of analytics as one piece: its own writer connection, the write-behind buffers
// of the busiest rollups, the service and the retention of raw events.
import type { Cache } from "../../cache/cache.js";
import type { AppConfig } from "../../config.js";
import type { Db } from "../../db/client.js";
import type { Mutex } from "../../db/isolation.js";
import { SyncWriter } from "../../db/sync-writer.js";
import { AUTOCHECKPOINT_PAGES } from "../../db/checkpointer.js";
import type { Logger } from "../../logger.js";
import type { EventBus } from "../../subscriptions/pubsub.js";
import type { PromptRecord } from "../prompts/prompt.repository.js";
import type { PromptService } from "../prompts/prompt.service.js";
import { DeltaBuffer } from "../shared/delta.buffer.js";
import { UsageWriteRepository, type SketchDelta, type UserDelta } from "./usage-write.repository.js";
import { UsageRepository } from "./usage.repository.js";
import { UsageRetention } from "./usage.retention.js";
import { UsageService, type UsageBuffers } from "./usage.service.js";

export interface Usage {
  usage: UsageService;
  usageRepository: UsageRepository;
  buffers: UsageBuffers;
  retention: UsageRetention;
  /** Writes what the buffers hold, then closes the writer's connection. */
  close(): Promise<void>;
}

export function createUsage(deps: {
  config: Pick<AppConfig, "dbFile" | "sqliteBusyTimeoutMs" | "usage">;
  db: Db;
  writeGate: Mutex;
  prompts: PromptService;
  bus: EventBus;
  cache: Cache;
  promptByName: (name: string) => Promise<PromptRecord | null>;
  logger: Logger;
}): Usage {
  const { config, logger } = deps;
  const writer = new SyncWriter(config.dbFile, config.sqliteBusyTimeoutMs, deps.writeGate, { autocheckpointPages: AUTOCHECKPOINT_PAGES, cacheMiB: 32 });
  const usageRepository = new UsageRepository(deps.db);
  const writes = new UsageWriteRepository();
  // The busiest rollups (a prompt's hourly latency histogram, users per hour) are written once a second.
  const buffers: UsageBuffers = {
    sketches: new DeltaBuffer<SketchDelta>(
      {
        what: "latency histograms",
        keyOf: (d) => `${d.promptId}\u0000${d.hour.getTime()}\u0000${d.version}`,
        merge: (into, next) => void into.sketch.merge(next.sketch),
        write: (values) => writer.transaction((session) => writes.mergeSketches(session, values)),
      },
      logger,
    ),
    users: new DeltaBuffer<UserDelta>(
      {
        what: "user activity",
        keyOf: (u) => `${u.userId}\u0000${u.hour.getTime()}`,
        merge: (into, next) => void (into.count += next.count),
        write: (values) => writer.transaction((session) => writes.addUserActivity(session, values)),
      },
      logger,
    ),
  };
  const usage = new UsageService(usageRepository, writes, writer, deps.prompts, deps.bus, { maxBatch: config.usage.maxBatch }, deps.cache, deps.promptByName, buffers);
  const retention = new UsageRetention(writes, writer, config.usage.retentionDays, logger);
  return {
    usage,
    usageRepository,
    buffers,
    retention,
    async close() {
      await retention.stop();
      // Rollup deltas still in memory are written before the database closes.
      await buffers.sketches.stop();
      await buffers.users.stop();
      writer.close();
    },
  };
}
