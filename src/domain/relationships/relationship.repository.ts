import { newId } from "../shared/ids.js";
import type { Db } from "../../db/client.js";
import type { SyncReader } from "../../db/sync-reader.js";

export interface RelationshipRecord {
  id: string;
  sourceId: string;
  targetId: string;
  type: string;
  note: string | null;
  createdAt: Date;
  createdBy: string | null;
}

type RelationshipRow = Omit<RelationshipRecord, "createdAt"> & { createdAt: string };

// Every link touching any of the prompts, either way, in creation order (as `touching` through
// Prisma): the relation field's batched read, as one prepared statement.
const TOUCHING = `SELECT id, sourceId, targetId, type, note, createdAt, createdBy FROM PromptRelationship
  WHERE sourceId IN (SELECT value FROM json_each(?)) OR targetId IN (SELECT value FROM json_each(?))
  ORDER BY createdAt, id`;

export class RelationshipRepository {
  constructor(
    private readonly db: Db,
    /** The prepared-statement reader, for `touching` (a listing's relationships field). */
    private readonly reader?: SyncReader,
  ) {}

  async create(data: Omit<RelationshipRecord, "id" | "createdAt">): Promise<RelationshipRecord> {
    return this.db.promptRelationship.create({ data: { ...data, id: newId(), createdAt: new Date() } });
  }

  findById(id: string): Promise<RelationshipRecord | null> {
    return this.db.promptRelationship.findUnique({ where: { id } });
  }

  async delete(id: string): Promise<boolean> {
    const { count } = await this.db.promptRelationship.deleteMany({ where: { id } });
    return count > 0;
  }

  /** Every link touching any of the prompts, either way, in one statement. */
  async touching(ids: readonly string[]): Promise<Map<string, RelationshipRecord[]>> {
    const list = [...ids];
    const rows = this.reader
      ? this.reader.all<RelationshipRow>(TOUCHING, JSON.stringify(list), JSON.stringify(list)).map((row) => ({ ...row, createdAt: new Date(row.createdAt) }))
      : await this.db.promptRelationship.findMany({
          where: { OR: [{ sourceId: { in: list } }, { targetId: { in: list } }] },
          orderBy: [{ createdAt: "asc" }, { id: "asc" }],
        });
    const byPrompt = new Map<string, RelationshipRecord[]>(list.map((id) => [id, []]));
    for (const row of rows) {
      byPrompt.get(row.sourceId)?.push(row);
      if (row.targetId !== row.sourceId) byPrompt.get(row.targetId)?.push(row);
    }
    return byPrompt;
  }
}
