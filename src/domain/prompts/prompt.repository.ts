// Every query shape of the prompts context. Callers get plain records, never Prisma models.
import { newId } from "../shared/ids.js";
import { assertMayMoveLabels } from "../../auth/scope.js";
import { Prisma } from "../../generated/prisma/client.js";
import type { Db } from "../../db/client.js";
import { TxRepository } from "../../db/tx-repository.js";
import type { PromptReads } from "./prompt.reads.js";
import { bySpan, spansJson, type VersionSpan } from "./version-span.js";
import type { PromptWrites } from "./prompt.writes.js";
import { assertNoCycle, type IncludeEdge } from "./include-graph.js";
import { applyLabelMoves, type LabelEventRecord, type LabelMove, type Tx } from "./label.repository.js";
import {
  deserializeContent,
  type JsonObject,
  type PromptContent,
  type PromptType,
} from "./prompt.logic.js";

export interface PromptRecord {
  id: string;
  name: string;
  description: string | null;
  category: string | null;
  type: PromptType;
  latestVersionNumber: number;
  createdAt: Date;
  updatedAt: Date;
  archivedAt: Date | null;
}

export interface PromptVersionRecord {
  id: string;
  promptId: string;
  number: number;
  content: PromptContent;
  config: JsonObject;
  variables: string[];
  commitMessage: string | null;
  author: string | null;
  contentHash: string;
  createdAt: Date;
}

export type ArchiveFilter = "ACTIVE" | "ARCHIVED" | "ALL";

export interface PromptFilter {
  /** Prompts carrying every one of these tags. */
  tags?: string[];
  category?: string;
  /** Normalized folder prefix ending in "/". */
  folder?: string;
  archived: ArchiveFilter;
}

export type PromptOrderField = "NAME" | "UPDATED_AT";
export type SortDirection = "ASC" | "DESC";

/** The position after which a page starts: the sort value of the last row seen, and its id. */
export interface PromptKey {
  name: string;
  updatedAt: Date;
  id: string;
}

export interface NewVersion {
  id: string;
  number: number;
  content: string;
  config: string;
  variables: string;
  commitMessage: string | null;
  author: string | null;
  contentHash: string;
  createdAt: Date;
}

export interface NewRelationship {
  targetId: string;
  type: string;
  note: string | null;
  createdBy: string | null;
}

/** What an update changes on the prompt row besides its version count (undefined: unchanged). */
export interface PromptUpdate {
  description?: string | null;
  category?: string | null;
  tags?: string[];
  updatedAt: Date;
}

export interface PromptCreateExtras {
  includes?: IncludeEdge[];
  relationships?: NewRelationship[];
}

export interface PromptUpdateExtras {
  includes?: IncludeEdge[];
  labelMoves?: LabelMove[];
}

export type VersionRow = Omit<PromptVersionRecord, "content" | "config" | "variables"> & {
  content: string;
  config: string;
  variables: string;
};

const toPrompt = (row: PromptRecord | (Omit<PromptRecord, "type"> & { type: string })): PromptRecord => ({
  ...row,
  type: row.type as PromptType,
});

/** A version by its prompt and number; `type`, the prompt's, when the caller has it (it never changes), spares reading Prompt. */
export type VersionKey = { promptId: string; number: number; type?: PromptType };

export function toVersion(row: VersionRow, type: PromptType): PromptVersionRecord {
  return {
    id: row.id,
    promptId: row.promptId,
    number: Number(row.number),
    content: deserializeContent(type, row.content),
    config: JSON.parse(row.config) as JsonObject,
    variables: JSON.parse(row.variables) as string[],
    commitMessage: row.commitMessage,
    author: row.author,
    contentHash: row.contentHash,
    createdAt: new Date(row.createdAt),
  };
}

export class PromptRepository extends TxRepository {
  constructor(
    db: Db,
    bound = false,
    /** Prepared-statement reads (lookups, batched relation loads); not used on a transaction. */
    private readonly reads?: PromptReads,
    /** Prepared-statement writes (create, update); not used on a transaction. */
    private readonly writes?: PromptWrites,
  ) {
    super(db, bound);
  }

  /** This repository on an open transaction: its writes join that transaction (bulk jobs). */
  withTx(tx: Tx): PromptRepository {
    return TxRepository.bindTo((db, bound) => new PromptRepository(db, bound), tx);
  }

  async findById(id: string): Promise<PromptRecord | null> {
    if (this.reads) return this.reads.findBy("id", id);
    const row = await this.db.prompt.findUnique({ where: { id } });
    return row && toPrompt(row);
  }

  async findByName(name: string): Promise<PromptRecord | null> {
    if (this.reads) return this.reads.findBy("name", name);
    const row = await this.db.prompt.findUnique({ where: { name } });
    return row && toPrompt(row);
  }

  async list(filter: PromptFilter, order: PromptOrderField, direction: SortDirection, limit: number, after?: PromptKey) {
    if (this.reads) return this.reads.list(filter, order, direction, limit, after);
    const dir = direction === "ASC" ? "asc" : "desc";
    const where: Prisma.PromptWhereInput = { AND: [this.where(filter), after ? this.afterKey(order, direction, after) : {}] };
    const orderBy: Prisma.PromptOrderByWithRelationInput[] =
      order === "NAME" ? [{ name: dir }] : [{ updatedAt: dir }, { id: dir }];
    const rows = await this.db.prompt.findMany({ where, orderBy, take: limit });
    return rows.map(toPrompt);
  }

  async count(filter: PromptFilter): Promise<number> {
    if (this.reads) return this.reads.count(filter);
    return this.db.prompt.count({ where: this.where(filter) });
  }

  private where(filter: PromptFilter): Prisma.PromptWhereInput {
    const and: Prisma.PromptWhereInput[] = [];
    if (filter.archived === "ACTIVE") and.push({ archivedAt: null });
    if (filter.archived === "ARCHIVED") and.push({ archivedAt: { not: null } });
    if (filter.category !== undefined) and.push({ category: filter.category });
    // A range on the unique name index: exact (case-sensitive) and index-friendly, unlike LIKE.
    // 0x7f sorts after every character a name may contain.
    if (filter.folder !== undefined) and.push({ name: { gte: filter.folder, lt: `${filter.folder}\u007f` } });
    for (const tag of filter.tags ?? []) and.push({ tags: { some: { tag } } });
    return { AND: and };
  }

  private afterKey(order: PromptOrderField, direction: SortDirection, key: PromptKey): Prisma.PromptWhereInput {
    const cmp = direction === "ASC" ? "gt" : "lt";
    if (order === "NAME") return { name: { [cmp]: key.name } };
    return {
      OR: [{ updatedAt: { [cmp]: key.updatedAt } }, { updatedAt: key.updatedAt, id: { [cmp]: key.id } }],
    };
  }

  /** Tags of many prompts in one statement. */
  async tagsByPromptIds(ids: readonly string[]): Promise<Map<string, string[]>> {
    if (this.reads) return this.reads.tagsByPromptIds(ids);
    const rows = await this.db.promptTag.findMany({
      where: { promptId: { in: [...ids] } },
      orderBy: [{ promptId: "asc" }, { tag: "asc" }],
    });
    const byPrompt = new Map<string, string[]>(ids.map((id) => [id, []]));
    for (const row of rows) byPrompt.get(row.promptId)?.push(row.tag);
    return byPrompt;
  }

  /** Versions by (prompt, number) pairs in one statement; the type decides how content is read. */
  async versionsByKeys(keys: readonly VersionKey[]): Promise<PromptVersionRecord[]> {
    if (keys.length === 0) return [];
    if (this.reads) return this.reads.versionsByKeys(keys);
    const pairs = Prisma.join(keys.map((k) => Prisma.sql`(${k.promptId}, ${k.number})`));
    const rows = await this.db.$queryRaw<(VersionRow & { type: string })[]>`
      SELECT v.*, p.type AS type FROM PromptVersion v JOIN Prompt p ON p.id = v.promptId
      WHERE (v.promptId, v.number) IN (VALUES ${pairs})`;
    return rows.map((row) => toVersion(row, row.type as PromptType));
  }

  /**
   * The versions numbered from..to (inclusive) of each span, in one statement: for each span,
   * its rows newest first. Version numbers run 1, 2, 3... without gaps (see VersionSpan), so a
   * page of versions is a range of numbers known before anything is read.
   */
  async versionRanges(spans: readonly VersionSpan[]): Promise<PromptVersionRecord[][]> {
    if (spans.length === 0) return [];
    if (this.reads) return this.reads.versionRanges(spans);
    const rows = await this.db.$queryRaw<(VersionRow & { type: string; span: number | bigint })[]>`
      SELECT v.*, k.key AS span, k.value ->> 3 AS type FROM json_each(${spansJson(spans)}) k
      JOIN PromptVersion v ON v.promptId = k.value ->> 0 AND v.number BETWEEN k.value ->> 1 AND k.value ->> 2`;
    return bySpan(spans.length, rows, (row) => toVersion(row, row.type as PromptType));
  }

  async create(
    prompt: Omit<PromptRecord, "updatedAt">,
    version: NewVersion,
    tags: string[],
    extras: PromptCreateExtras = {},
  ): Promise<void> {
    if (this.writes) return this.writes.create(prompt, version, tags, extras);
    const now = prompt.createdAt;
    await this.run(async (tx) => {
      // Prompt, tags, then the version: the search index row is written once, when all is there.
      await tx.prompt.create({ data: { ...prompt, updatedAt: now } });
      if (tags.length > 0) await tx.promptTag.createMany({ data: tags.map((tag) => ({ promptId: prompt.id, tag })) });
      await tx.promptVersion.create({ data: { ...version, promptId: prompt.id } });
      if (extras.includes?.length) {
        await tx.promptInclude.createMany({ data: extras.includes.map((edge) => ({ promptId: prompt.id, ...edge })) });
      }
      if (extras.relationships?.length) {
        await tx.promptRelationship.createMany({
          data: extras.relationships.map((r) => ({ id: newId(), sourceId: prompt.id, ...r, createdAt: now })),
        });
      }
    });
  }

  /**
   * Inserts many new prompts with their version 1 and tags in a few multi-row statements
   * (bulk creation). The caller has validated them and checked their names are free.
   */
  async insertMany(rows: { prompt: PromptRecord; version: NewVersion; tags: string[] }[]): Promise<void> {
    if (rows.length === 0) return;
    const tags = rows.flatMap((r) => r.tags.map((tag) => ({ promptId: r.prompt.id, tag })));
    await this.run(async (tx) => {
      // Prompts, tags, then versions: the search index row of each prompt is written once.
      // 100 rows a statement: each statement blocks the event loop briefly, so reads interleave.
      for (const part of chunks(rows, 100)) {
        await tx.$executeRaw`INSERT INTO Prompt (id, name, description, category, type, latestVersionNumber, createdAt, updatedAt, archivedAt)
          VALUES ${Prisma.join(part.map(({ prompt: p }) => Prisma.sql`(${p.id}, ${p.name}, ${p.description}, ${p.category}, ${p.type}, ${p.latestVersionNumber}, ${p.createdAt}, ${p.updatedAt}, ${p.archivedAt})`))}`;
      }
      for (const part of chunks(tags, 200)) {
        await tx.$executeRaw`INSERT INTO PromptTag (promptId, tag) VALUES ${Prisma.join(part.map((t) => Prisma.sql`(${t.promptId}, ${t.tag})`))}`;
      }
      for (const part of chunks(rows, 100)) {
        await tx.$executeRaw`INSERT INTO PromptVersion (id, promptId, number, content, config, variables, commitMessage, author, contentHash, createdAt)
          VALUES ${Prisma.join(part.map(({ prompt, version: v }) => Prisma.sql`(${v.id}, ${prompt.id}, ${v.number}, ${v.content}, ${v.config}, ${v.variables}, ${v.commitMessage}, ${v.author}, ${v.contentHash}, ${v.createdAt})`))}`;
      }
    });
  }

  /**
   * Applies an update only if nobody else changed the version count since it was read
   * (compare-and-set on latestVersionNumber), with the new version's include edges (checked
   * for cycles inside the transaction) and label moves. Returns null on a lost race; nothing
   * is written then (also when the prompt was archived meanwhile). Throws IncludeCycleError (nothing written) when includes would loop.
   */
  async update(
    id: string,
    expectedLatest: number,
    changes: PromptUpdate,
    version: NewVersion | null,
    extras: PromptUpdateExtras = {},
  ): Promise<{ labelEvents: LabelEventRecord[] } | null> {
    if (this.writes) return this.writes.update(id, expectedLatest, changes, version, extras);
    return this.run(async (tx) => {
      const { count } = await tx.prompt.updateMany({
        // Archived prompts are read-only: an archive landing between read and write wins.
        where: { id, latestVersionNumber: expectedLatest, archivedAt: null },
        data: {
          description: changes.description,
          category: changes.category,
          updatedAt: changes.updatedAt,
          latestVersionNumber: version ? version.number : expectedLatest,
        },
      });
      if (count === 0) return null;
      if (version) {
        await tx.promptVersion.create({ data: { ...version, promptId: id } });
        if (extras.includes) {
          await assertNoCycle(tx, id, extras.includes.map((edge) => edge.includedId));
          await tx.promptInclude.deleteMany({ where: { promptId: id } });
          await tx.promptInclude.createMany({ data: extras.includes.map((edge) => ({ promptId: id, ...edge })) });
        }
      }
      if (changes.tags) {
        await tx.promptTag.deleteMany({ where: { promptId: id } });
        await tx.promptTag.createMany({ data: changes.tags.map((tag) => ({ promptId: id, tag })) });
      }
      const labelEvents = await applyLabelMoves(tx, id, extras.labelMoves ?? [], changes.updatedAt);
      return { labelEvents };
    });
  }

  async setArchivedAt(id: string, archivedAt: Date | null): Promise<PromptRecord> {
    const row = await this.db.prompt.update({ where: { id }, data: { archivedAt, updatedAt: new Date() } });
    return toPrompt(row);
  }

  /**
   * Deletes the prompt with its versions, tags, labels and links (foreign keys cascade). False when
   * already gone. Deleting takes its labels away, so a protected one makes it an admin's call; the
   * labels are read in the deleting transaction, so one set meanwhile is not missed.
   */
  async delete(id: string): Promise<boolean> {
    return this.run(async (tx) => {
      const labels = await tx.promptLabel.findMany({ where: { promptId: id }, select: { name: true } });
      assertMayMoveLabels(labels.map((label) => label.name));
      const { count } = await tx.prompt.deleteMany({ where: { id } });
      return count > 0;
    });
  }

  async findByNames(names: readonly string[]): Promise<PromptRecord[]> {
    if (this.reads) return this.reads.byNames(names);
    const rows = await this.db.prompt.findMany({ where: { name: { in: [...names] } } });
    return rows.map(toPrompt);
  }

  async findByIds(ids: readonly string[]): Promise<PromptRecord[]> {
    if (this.reads) return this.reads.byIds(ids);
    const rows = await this.db.prompt.findMany({ where: { id: { in: [...ids] } } });
    return rows.map(toPrompt);
  }

  /** Include edges from many prompts (their dependencies), in one statement. */
  async includesFrom(ids: readonly string[]): Promise<Map<string, IncludeEdge[]>> {
    if (this.reads) return this.reads.includesFrom(ids);
    const rows = await this.db.promptInclude.findMany({ where: { promptId: { in: [...ids] } } });
    const byPrompt = new Map<string, IncludeEdge[]>(ids.map((id) => [id, []]));
    for (const row of rows) byPrompt.get(row.promptId)?.push({ includedId: row.includedId, selector: row.selector });
    return byPrompt;
  }

  /** Ids of the prompts whose latest version includes each of `ids` (their dependents). */
  async includedBy(ids: readonly string[]): Promise<Map<string, string[]>> {
    if (this.reads) return this.reads.includedBy(ids);
    const rows = await this.db.promptInclude.findMany({ where: { includedId: { in: [...ids] } }, orderBy: { promptId: "asc" } });
    const byPrompt = new Map<string, string[]>(ids.map((id) => [id, []]));
    for (const row of rows) byPrompt.get(row.includedId)?.push(row.promptId);
    return byPrompt;
  }

  /**
   * A prompt by id or name with its newest version, for the update path: one prepared statement
   * when this repository reads through them, else the two reads below.
   */
  async findWithLatest(column: "id" | "name", value: string): Promise<{ prompt: PromptRecord; latest: PromptVersionRecord | null } | null> {
    if (this.reads) return this.reads.findWithLatest(column, value);
    const prompt = column === "id" ? await this.findById(value) : await this.findByName(value);
    return prompt && { prompt, latest: await this.latestVersion(prompt) };
  }

  /** The newest version of one prompt. */
  async latestVersion(prompt: PromptRecord): Promise<PromptVersionRecord | null> {
    const [version] = await this.versionsByKeys([{ promptId: prompt.id, number: prompt.latestVersionNumber, type: prompt.type }]);
    return version ?? null;
  }
}

/** A unique constraint failed: Prisma's P2002, or SQLite's own code from a prepared statement. */
export function isUniqueViolation(error: unknown): boolean {
  if (error instanceof Prisma.PrismaClientKnownRequestError) return error.code === "P2002";
  const code = (error as { code?: unknown } | null)?.code;
  return code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY";
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
