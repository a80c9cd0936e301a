import type { Db } from "../../db/client.js";
import { dateOrNull, type SyncReader } from "../../db/sync-reader.js";
import { sqlDate } from "../../db/sync-writer.js";
import { TxRepository, type Tx } from "../../db/tx-repository.js";
import type { RefinementProgressPayload, RefinementStatus } from "../../subscriptions/topics.js";
import { newId } from "../shared/ids.js";
import type { RefinementExample } from "./refiner.js";

export type DocumentKind = "PROPOSAL" | "CRITIQUE" | "RATIONALE" | "CHANGES" | "RAW_REPLY" | "USAGE" | "TIMINGS";

export interface RefinementSessionRecord {
  id: string;
  promptId: string;
  baseVersionNumber: number;
  parentId: string | null;
  status: RefinementStatus;
  provider: string;
  model: string;
  temperature: number | null;
  instructions: string;
  examples: RefinementExample[];
  startedBy: string | null;
  errorCode: string | null;
  error: string | null;
  cancelRequested: boolean;
  appliedVersionNumber: number | null;
  resolvedBy: string | null;
  rejectionReason: string | null;
  lastSequence: number;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  resolvedAt: Date | null;
  updatedAt: Date;
}

export interface RefinementDocumentRecord {
  id: string;
  sessionId: string;
  kind: DocumentKind;
  contentType: string;
  content: string;
  createdAt: Date;
}

export type NewDocument = Pick<RefinementDocumentRecord, "kind" | "contentType" | "content">;
export type EventBody = Omit<RefinementProgressPayload, "sessionId" | "sequence" | "status" | "occurredAt">;

type SessionRow = Omit<RefinementSessionRecord, "status" | "examples"> & { status: string; examples: string };

const toSession = (row: SessionRow): RefinementSessionRecord => ({
  ...row,
  status: row.status as RefinementStatus,
  examples: JSON.parse(row.examples) as RefinementExample[],
});

// The sweep's reads on the reader (see the constructor): rows as better-sqlite3 reads them.
const SESSION_COLUMNS = `id, promptId, baseVersionNumber, parentId, status, provider, model, temperature, instructions, examples,
  startedBy, errorCode, error, cancelRequested, appliedVersionNumber, resolvedBy, rejectionReason, lastSequence, createdAt,
  startedAt, finishedAt, resolvedAt, updatedAt`;
const STALE_RUNNING = `SELECT ${SESSION_COLUMNS} FROM RefinementSession WHERE status = 'RUNNING' AND updatedAt < ?`;
const QUEUED = `SELECT ${SESSION_COLUMNS} FROM RefinementSession WHERE status = 'QUEUED' ORDER BY createdAt`;
type RawSessionRow = Omit<SessionRow, "cancelRequested" | "createdAt" | "startedAt" | "finishedAt" | "resolvedAt" | "updatedAt"> & {
  cancelRequested: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  resolvedAt: string | null;
  updatedAt: string;
};
const fromRawSession = (row: RawSessionRow): RefinementSessionRecord =>
  toSession({
    ...row,
    cancelRequested: row.cancelRequested === 1,
    createdAt: new Date(row.createdAt),
    startedAt: dateOrNull(row.startedAt),
    finishedAt: dateOrNull(row.finishedAt),
    resolvedAt: dateOrNull(row.resolvedAt),
    updatedAt: new Date(row.updatedAt),
  });

const toDocument = (row: Omit<RefinementDocumentRecord, "kind"> & { kind: string }): RefinementDocumentRecord => ({ ...row, kind: row.kind as DocumentKind });

/**
 * Sessions, their documents and their progress events. Every status change goes with its
 * event in one transaction, and only from the statuses the caller expects (compare-and-set),
 * so two instances, or a cancel racing a completion, never both win.
 */
export class RefinementRepository extends TxRepository {
  constructor(
    db: Db,
    bound = false,
    /**
     * The prepared-statement reader, for the sweep's reads (at every start, then every few
     * seconds): through Prisma they alone loaded its query compiler in a server that only
     * serves prompts, about 30 MiB of resident memory.
     */
    private readonly reader?: SyncReader,
  ) {
    super(db, bound);
  }

  withTx(tx: Tx): RefinementRepository {
    return TxRepository.bindTo((db, bound) => new RefinementRepository(db, bound), tx);
  }

  /** Runs `fn` in one transaction with this repository bound to it (apply: new version + session). */
  transaction<T>(fn: (repo: RefinementRepository, tx: Tx) => Promise<T>): Promise<T> {
    return this.run((tx) => fn(this.withTx(tx), tx));
  }

  async create(
    data: Omit<RefinementSessionRecord, "id" | "status" | "errorCode" | "error" | "cancelRequested" | "appliedVersionNumber" | "resolvedBy" | "rejectionReason" | "lastSequence" | "createdAt" | "startedAt" | "finishedAt" | "resolvedAt" | "updatedAt">,
  ): Promise<{ session: RefinementSessionRecord; event: RefinementProgressPayload }> {
    const now = new Date();
    return this.run(async (tx) => {
      const row = await tx.refinementSession.create({
        data: { ...data, id: newId(), examples: JSON.stringify(data.examples), status: "QUEUED", createdAt: now, updatedAt: now },
      });
      const bound = this.withTx(tx);
      const event = await bound.appendEvent(toSession(row), { kind: "STATUS", delta: null, proposal: null, message: null, final: false });
      return { session: (await bound.findById(row.id))!, event };
    });
  }

  async findById(id: string): Promise<RefinementSessionRecord | null> {
    const row = await this.db.refinementSession.findUnique({ where: { id } });
    return row ? toSession(row) : null;
  }

  async findByIds(ids: readonly string[]): Promise<RefinementSessionRecord[]> {
    const rows = await this.db.refinementSession.findMany({ where: { id: { in: [...ids] } } });
    return rows.map(toSession);
  }

  /** Sessions of a prompt (or of all prompts), newest first, before a (createdAt, id) cursor. */
  async list(filter: { promptId: string | null; status: RefinementStatus | null }, limit: number, before?: { createdAt: Date; id: string }) {
    const rows = await this.db.refinementSession.findMany({
      where: {
        AND: [
          filter.promptId ? { promptId: filter.promptId } : {},
          filter.status ? { status: filter.status } : {},
          before ? { OR: [{ createdAt: { lt: before.createdAt } }, { createdAt: before.createdAt, id: { lt: before.id } }] } : {},
        ],
      },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: limit,
    });
    return rows.map(toSession);
  }

  count(filter: { promptId: string | null; status: RefinementStatus | null }): Promise<number> {
    return this.db.refinementSession.count({
      where: { ...(filter.promptId ? { promptId: filter.promptId } : {}), ...(filter.status ? { status: filter.status } : {}) },
    });
  }

  /** Children of many sessions, oldest first (one statement). */
  async childrenOf(parentIds: readonly string[]): Promise<Map<string, RefinementSessionRecord[]>> {
    const rows = await this.db.refinementSession.findMany({ where: { parentId: { in: [...parentIds] } }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
    const byParent = new Map<string, RefinementSessionRecord[]>(parentIds.map((id) => [id, []]));
    for (const row of rows) byParent.get(row.parentId!)?.push(toSession(row));
    return byParent;
  }

  /** The sessions that created these versions (PromptVersion.refinementSession), one statement. */
  async byAppliedVersions(keys: readonly { promptId: string; number: number }[]): Promise<RefinementSessionRecord[]> {
    if (keys.length === 0) return [];
    const rows = await this.db.refinementSession.findMany({
      where: { OR: keys.map((k) => ({ promptId: k.promptId, appliedVersionNumber: k.number })) },
    });
    return rows.map(toSession);
  }

  /** Running sessions whose heartbeat stopped before `before` (their process is gone). */
  async staleRunning(before: Date): Promise<RefinementSessionRecord[]> {
    if (this.reader) return this.reader.all<RawSessionRow>(STALE_RUNNING, sqlDate(before)).map(fromRawSession);
    const rows = await this.db.refinementSession.findMany({ where: { status: "RUNNING", updatedAt: { lt: before } } });
    return rows.map(toSession);
  }

  async queued(): Promise<RefinementSessionRecord[]> {
    if (this.reader) return this.reader.all<RawSessionRow>(QUEUED).map(fromRawSession);
    const rows = await this.db.refinementSession.findMany({ where: { status: "QUEUED" }, orderBy: { createdAt: "asc" } });
    return rows.map(toSession);
  }

  async documents(sessionIds: readonly string[]): Promise<Map<string, RefinementDocumentRecord[]>> {
    const rows = await this.db.refinementDocument.findMany({ where: { sessionId: { in: [...sessionIds] } }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
    const bySession = new Map<string, RefinementDocumentRecord[]>(sessionIds.map((id) => [id, []]));
    for (const row of rows) bySession.get(row.sessionId)?.push(toDocument(row));
    return bySession;
  }

  async document(id: string): Promise<RefinementDocumentRecord | null> {
    const row = await this.db.refinementDocument.findUnique({ where: { id } });
    return row ? toDocument(row) : null;
  }

  async proposalOf(sessionId: string): Promise<string | null> {
    const row = await this.db.refinementDocument.findUnique({ where: { sessionId_kind: { sessionId, kind: "PROPOSAL" } } });
    return row?.content ?? null;
  }

  /**
   * Moves a session from one of `from` to `to` with its STATUS event (and documents), in one
   * transaction. Null when the session was not in `from` any more (someone else moved it).
   */
  async transition(
    id: string,
    from: RefinementStatus[],
    to: RefinementStatus,
    changes: Partial<Pick<RefinementSessionRecord, "errorCode" | "error" | "startedAt" | "finishedAt" | "appliedVersionNumber" | "resolvedBy" | "rejectionReason" | "resolvedAt">>,
    event: EventBody,
    documents: NewDocument[] = [],
  ): Promise<{ session: RefinementSessionRecord; event: RefinementProgressPayload } | null> {
    return this.run(async (tx) => {
      const ended = to !== "QUEUED" && to !== "RUNNING";
      const { count } = await tx.refinementSession.updateMany({
        where: { id, status: { in: from } },
        data: { ...changes, status: to, updatedAt: new Date(), ...(ended && { cancelRequested: false }) },
      });
      if (count === 0) return null;
      const bound = this.withTx(tx);
      const now = new Date();
      if (documents.length > 0) {
        await tx.refinementDocument.createMany({ data: documents.map((d) => ({ ...d, id: newId(), sessionId: id, createdAt: now })) });
      }
      const session = (await bound.findById(id))!;
      return { session, event: await bound.appendEvent(session, event) };
    });
  }

  /** Says a running session is alive (the sweep fails running sessions nobody touches); true when a cancel was asked for. */
  async touch(id: string): Promise<boolean> {
    await this.db.refinementSession.updateMany({ where: { id, status: "RUNNING" }, data: { updatedAt: new Date() } });
    const row = await this.db.refinementSession.findUnique({ where: { id }, select: { cancelRequested: true } });
    return row?.cancelRequested ?? false;
  }

  async requestCancel(id: string): Promise<boolean> {
    // Not updatedAt: that is the running session's heartbeat.
    const { count } = await this.db.refinementSession.updateMany({ where: { id, status: { in: ["QUEUED", "RUNNING"] } }, data: { cancelRequested: true } });
    return count > 0;
  }

  /** Persists a progress event with the session's next sequence number (and says the session is alive). */
  async appendEvent(session: Pick<RefinementSessionRecord, "id">, body: EventBody): Promise<RefinementProgressPayload> {
    return this.run(async (tx) => {
      const now = new Date();
      const row = await tx.refinementSession.update({ where: { id: session.id }, data: { lastSequence: { increment: 1 }, updatedAt: now } });
      const payload: RefinementProgressPayload = {
        ...body,
        sessionId: session.id,
        sequence: row.lastSequence,
        status: row.status as RefinementStatus,
        occurredAt: now.toISOString(),
      };
      await tx.refinementEvent.create({ data: { sessionId: session.id, sequence: payload.sequence, payload: JSON.stringify(payload), createdAt: now } });
      return payload;
    });
  }

  async eventsAfter(sessionId: string, sequence: number): Promise<RefinementProgressPayload[]> {
    const rows = await this.db.refinementEvent.findMany({ where: { sessionId, sequence: { gt: sequence } }, orderBy: { sequence: "asc" } });
    return rows.map((row) => JSON.parse(row.payload) as RefinementProgressPayload);
  }
}
