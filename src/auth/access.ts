// Who may call, and how often: the access pieces an app is built with (keys, the authenticator,
// the audit log, the rate limiters), made from the config in one place.
import { AuditRepository } from "../audit/audit.repository.js";
import { AuditService } from "../audit/audit.service.js";
import type { AppConfig } from "../config.js";
import type { SyncWriter } from "../db/sync-writer.js";
import type { Db } from "../db/client.js";
import type { Admission } from "../http/graphql-handler.js";
import { createRateLimiter, type RateLimiter } from "../limits/rate-limiter.js";
import type { Logger } from "../logger.js";
import type { EventPublisher } from "../subscriptions/topics.js";
import { ApiKeyRepository } from "./api-key.repository.js";
import { ApiKeyService } from "./api-key.service.js";
import { Authenticator, rateLimitKey } from "./authenticator.js";
import type { Principal } from "./principal.js";

export interface Access {
  apiKeys: ApiKeyService;
  authenticator: Authenticator;
  audit: AuditService;
  /** Takes `cost` requests from the caller's budget: its key's, or its address's without one. */
  admit(principal: Principal, address: string | undefined, cost: number): Promise<Admission>;
  close(): Promise<void>;
}

export async function createAccess(config: AppConfig, db: Db, writer: SyncWriter, events: EventPublisher, logger: Logger): Promise<Access> {
  const apiKeys = new ApiKeyService(new ApiKeyRepository(db), events, logger, { ...(config.auth.adminKey && { adminKey: config.auth.adminKey }) });
  const authenticator = new Authenticator(apiKeys, config.auth.openLocalMode);
  const audit = new AuditService(new AuditRepository(db, writer), logger, config.auth.protectedLabels);
  if (config.auth.openLocalMode) {
    logger.warn(
      { host: config.host },
      "open local mode: no PROMPT_STORE_ADMIN_KEY is set, so every caller on this machine is an admin; set one to require API keys",
    );
  }
  // In Redis when configured, so that instances share a key's budget.
  const limiterOf = (rate: { perSecond: number; burst: number } | undefined) =>
    rate ? createRateLimiter({ ratePerSecond: rate.perSecond, burst: rate.burst, logger, ...(config.redis && { redis: config.redis }) }) : undefined;
  const keyLimiter: RateLimiter | undefined = await limiterOf(config.limits.rateLimit);
  const anonymousLimiter: RateLimiter | undefined = await limiterOf(config.limits.anonymousRateLimit);
  return {
    apiKeys,
    authenticator,
    audit,
    async admit(principal, address, cost) {
      const limiter = principal.role ? keyLimiter : anonymousLimiter;
      if (!limiter) return { allowed: true };
      const decision = await limiter.take(rateLimitKey(principal, address), cost);
      return decision.allowed ? { allowed: true } : { allowed: false, retryAfterMs: decision.retryAfterMs };
    },
    async close() {
      audit.stop();
      await apiKeys.close();
      await keyLimiter?.close();
      await anonymousLimiter?.close();
    },
  };
}
