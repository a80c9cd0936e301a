import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { badInput, notFound } from "../errors.js";
import type { Logger } from "../logger.js";
import { newId } from "../domain/shared/ids.js";
import { LruMap } from "../domain/shared/lru.js";
import { newestFirstPage } from "../domain/shared/pagination.js";
import type { EventPublisher } from "../subscriptions/topics.js";
import type { ApiKeyRecord, ApiKeyRepository } from "./api-key.repository.js";
import { BOOTSTRAP_ADMIN, isRole, type Principal, type Role } from "./principal.js";

/** Secrets look like `psk_` + 43 base64url characters (32 random bytes). */
const SECRET_PREFIX = "psk_";
const SECRET = /^psk_[A-Za-z0-9_-]{43}$/;
const NAME = /^[\p{L}\p{N} ._@:/()-]{1,100}$/u;
/** How much of a secret lists show. */
const SHOWN = SECRET_PREFIX.length + 8;

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest();

export interface CreatedApiKey {
  key: ApiKeyRecord;
  /** Shown once: only its hash is stored. */
  secret: string;
}

export interface ApiKeyOptions {
  /** PROMPT_STORE_ADMIN_KEY: accepted as an admin without a row. */
  adminKey?: string;
  /** How long a verified key is trusted from memory; revocation also reaches every instance by event. */
  cacheTtlMs?: number;
  /** How often last-use times are written. */
  touchIntervalMs?: number;
}

type Verified = { ok: true; principal: Principal } | { ok: false; reason: "unknown" | "revoked" | "expired" };

/**
 * API keys: creation (the secret is returned once), revocation, listing with last use, and
 * verification of a presented secret, which is on every request's path: a verified key is
 * kept in memory for a short while and its last use is written in batches, not per request.
 */
export class ApiKeyService {
  private readonly adminKeyHash: Buffer | undefined;
  private readonly verified: LruMap<string, ApiKeyRecord>;
  /** Moves with every revocation: a lookup that started before one must not cache what it read. */
  private generation = 0;
  private readonly uses = new Map<string, Date>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly repository: ApiKeyRepository,
    private readonly events: EventPublisher,
    private readonly logger: Logger,
    options: ApiKeyOptions = {},
  ) {
    this.adminKeyHash = options.adminKey ? sha256(options.adminKey) : undefined;
    this.verified = new LruMap(10_000, options.cacheTtlMs ?? 30_000);
    this.timer = setInterval(() => void this.flushUses(), options.touchIntervalMs ?? 15_000);
    this.timer.unref();
  }

  async create(rawName: string, role: Role, expiresAt: Date | null | undefined, creator: Principal): Promise<CreatedApiKey> {
    const name = rawName.trim();
    if (!NAME.test(name)) throw badInput("name", "name must be 1 to 100 letters, digits, spaces or . _ @ : / ( ) -");
    if (!isRole(role)) throw badInput("role", `role must be one of ADMIN, EDITOR, SERVICE, VIEWER (got ${String(role)})`);
    if (expiresAt && !(expiresAt.getTime() > Date.now())) throw badInput("expiresAt", "expiresAt must be in the future");
    const secret = SECRET_PREFIX + randomBytes(32).toString("base64url");
    const key = await this.repository.create({
      id: newId(),
      name,
      role,
      prefix: secret.slice(0, SHOWN),
      secretHash: sha256(secret).toString("hex"),
      createdAt: new Date(),
      createdBy: creator.name,
      expiresAt: expiresAt ?? null,
    });
    return { key, secret };
  }

  async revoke(id: string, by: Principal): Promise<ApiKeyRecord> {
    const existing = await this.repository.byId(id);
    if (!existing) throw notFound("API key", "id", id);
    // Revoking twice is harmless: the answer is the key as it is.
    if (await this.repository.revoke(id, new Date(), by.name)) this.events.publish("auth.keyRevoked", { keyId: id });
    this.forget(id);
    return this.withPendingUse((await this.repository.byId(id))!);
  }

  async list(first: number | null | undefined, after: string | null | undefined, includeRevoked: boolean) {
    const page = await newestFirstPage(
      first,
      after,
      "API key",
      (limit, before) => this.repository.page(limit, before, includeRevoked),
      () => this.repository.count(includeRevoked),
    );
    return { ...page, items: page.items.map((key) => this.withPendingUse(key)) };
  }

  /** Who a presented secret belongs to, or why it is refused. */
  async verify(secret: string): Promise<Verified> {
    const hash = sha256(secret);
    if (this.adminKeyHash && timingSafeEqual(hash, this.adminKeyHash)) return { ok: true, principal: BOOTSTRAP_ADMIN };
    // Not of our shape: no need to ask the database (and no cache entry for junk).
    if (!SECRET.test(secret)) return { ok: false, reason: "unknown" };
    const hex = hash.toString("hex");
    let key: ApiKeyRecord | null | undefined = this.verified.get(hex)?.value;
    if (key === undefined) {
      const generation = this.generation;
      key = await this.repository.byHash(hex);
      // Unknown secrets are not kept: random ones would push real keys out of the cache.
      if (key && generation === this.generation) this.verified.set(hex, key);
    }
    if (!key) return { ok: false, reason: "unknown" };
    if (key.revokedAt) return { ok: false, reason: "revoked" };
    const now = new Date();
    if (key.expiresAt && key.expiresAt <= now) return { ok: false, reason: "expired" };
    this.uses.set(key.id, now);
    return { ok: true, principal: { kind: "key", name: key.name, role: key.role, keyId: key.id, expiresAt: key.expiresAt } };
  }

  /** Whether a key exists, is not revoked and has not expired (bulk jobs run with a key's rights). */
  async isActive(keyId: string): Promise<boolean> {
    const key = await this.repository.byId(keyId);
    return !!key && !key.revokedAt && !(key.expiresAt && key.expiresAt <= new Date());
  }

  /** A revoked key (from this instance or another, by event) is looked up again on next use. */
  forget(keyId: string): void {
    this.generation++;
    this.verified.deleteWhere((key) => key.id === keyId);
  }

  /** Writes pending last-use times (also at shutdown). */
  flushUses(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.uses.size === 0) return;
      const batch = new Map(this.uses);
      this.uses.clear();
      try {
        await this.repository.touch(batch);
      } catch (error) {
        // Last use is informational: keep the newest times for the next attempt.
        for (const [id, at] of batch) if (!this.uses.has(id)) this.uses.set(id, at);
        this.logger.warn({ err: error }, "writing API key last use failed; retrying later");
      }
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flushUses();
  }

  private withPendingUse(key: ApiKeyRecord): ApiKeyRecord {
    const pending = this.uses.get(key.id);
    return pending && (!key.lastUsedAt || key.lastUsedAt < pending) ? { ...key, lastUsedAt: pending } : key;
  }
}
