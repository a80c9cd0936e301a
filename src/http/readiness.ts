// GET /ready: whether this instance should get traffic, check by check.
import type { Db } from "../db/client.js";
import type { MigrationGate } from "../db/migrations.js";
import type { EventBus } from "../subscriptions/pubsub.js";
import type { Readiness } from "./server.js";

export function createReadiness(deps: { db: Db; migrations: MigrationGate; bus: Pick<EventBus, "health">; shuttingDown: () => boolean }): () => Promise<Readiness> {
  const { db, migrations, bus } = deps;
  return async () => {
    const checks: Readiness["checks"] = {};
    try {
      const migrated = await migrations.check();
      if (migrated) await db.$queryRawUnsafe("SELECT 1");
      checks.database = { ok: true };
      checks.migrations = migrated ? { ok: true } : { ok: false, detail: `pending: ${migrations.pending.join(", ")}` };
    } catch (error) {
      checks.database = { ok: false, detail: (error as Error).message };
    }
    if (deps.shuttingDown()) checks.shutdown = { ok: false, detail: "shutting down" };
    const ready = Object.values(checks).every((check) => check.ok) && "migrations" in checks;
    // Without Redis the instance still serves everything; only other instances' live events are missing.
    const events = bus.health();
    if (events) checks.redis = events;
    return { ready, degraded: events ? !events.ok : false, checks };
  };
}
