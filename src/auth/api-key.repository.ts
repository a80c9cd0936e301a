import type { Db } from "../db/client.js";
import type { Role } from "./principal.js";

export interface ApiKeyRecord {
  id: string;
  name: string;
  role: Role;
  prefix: string;
  createdAt: Date;
  createdBy: string | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  revokedBy: string | null;
  lastUsedAt: Date | null;
}

const PUBLIC = {
  id: true,
  name: true,
  role: true,
  prefix: true,
  createdAt: true,
  createdBy: true,
  expiresAt: true,
  revokedAt: true,
  revokedBy: true,
  lastUsedAt: true,
} as const;

/** API keys. The secret's hash is only ever compared: no query returns it. */
export class ApiKeyRepository {
  constructor(private readonly db: Db) {}

  async create(row: Omit<ApiKeyRecord, "revokedAt" | "revokedBy" | "lastUsedAt"> & { secretHash: string }): Promise<ApiKeyRecord> {
    return (await this.db.apiKey.create({ data: row, select: PUBLIC })) as ApiKeyRecord;
  }

  async byHash(secretHash: string): Promise<ApiKeyRecord | null> {
    return (await this.db.apiKey.findUnique({ where: { secretHash }, select: PUBLIC })) as ApiKeyRecord | null;
  }

  async byId(id: string): Promise<ApiKeyRecord | null> {
    return (await this.db.apiKey.findUnique({ where: { id }, select: PUBLIC })) as ApiKeyRecord | null;
  }

  /** Revokes a key that is not revoked yet; false when it already was (or does not exist). */
  async revoke(id: string, at: Date, by: string | null): Promise<boolean> {
    const { count } = await this.db.apiKey.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: at, revokedBy: by } });
    return count === 1;
  }

  /** Newest first, by (createdAt, id). */
  async page(limit: number, before: { createdAt: Date; id: string } | undefined, includeRevoked: boolean): Promise<ApiKeyRecord[]> {
    return (await this.db.apiKey.findMany({
      where: {
        ...(includeRevoked ? {} : { revokedAt: null }),
        ...(before && { OR: [{ createdAt: { lt: before.createdAt } }, { createdAt: before.createdAt, id: { lt: before.id } }] }),
      },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: limit,
      select: PUBLIC,
    })) as ApiKeyRecord[];
  }

  count(includeRevoked: boolean): Promise<number> {
    return this.db.apiKey.count({ where: includeRevoked ? {} : { revokedAt: null } });
  }

  /** Last-use times gathered in memory, written in one transaction; never moves a time backwards. */
  async touch(uses: Map<string, Date>): Promise<void> {
    if (uses.size === 0) return;
    await this.db.$transaction(
      [...uses].map(([id, at]) =>
        this.db.apiKey.updateMany({ where: { id, OR: [{ lastUsedAt: null }, { lastUsedAt: { lt: at } }] }, data: { lastUsedAt: at } }),
      ),
    );
  }
}
