import { newId } from "../shared/ids.js";
import { Prisma } from "../../generated/prisma/client.js";
import type { Db } from "../../db/client.js";
import { TxRepository, type Tx } from "../../db/tx-repository.js";
import type { PromptReads } from "./prompt.reads.js";
import type { PromptWrites } from "./prompt.writes.js";
import { assertMayMoveLabels } from "../../auth/scope.js";

export type { Tx };

export interface LabelRecord {
  promptId: string;
  name: string;
  versionNumber: number;
  updatedAt: Date;
  updatedBy: string | null;
}

export interface LabelEventRecord {
  id: string;
  promptId: string;
  label: string;
  fromVersion: number | null;
  toVersion: number | null;
  actor: string | null;
  reason: string | null;
  createdAt: Date;
}

export interface LabelMove {
  label: string;
  /** Target version; null removes the label. */
  toVersion: number | null;
  actor: string | null;
  reason: string | null;
}

/** The history entry of a move that changes something. */
export function labelEventOf(promptId: string, move: LabelMove, fromVersion: number | null, now: Date): LabelEventRecord {
  return { id: newId(), promptId, label: move.label, fromVersion, toVersion: move.toVersion, actor: move.actor, reason: move.reason, createdAt: now };
}

/**
 * Applies label moves inside the caller's transaction and records each real move in the
 * history. Returns the moves that changed something (a label already on its target is skipped).
 */
export async function applyLabelMoves(tx: Tx, promptId: string, moves: LabelMove[], now: Date): Promise<LabelEventRecord[]> {
  assertMayMoveLabels(moves.map((move) => move.label));
  const events: LabelEventRecord[] = [];
  for (const move of moves) {
    const current = await tx.promptLabel.findUnique({ where: { promptId_name: { promptId, name: move.label } } });
    const fromVersion = current?.versionNumber ?? null;
    if (fromVersion === move.toVersion) continue;
    if (move.toVersion === null) {
      await tx.promptLabel.delete({ where: { promptId_name: { promptId, name: move.label } } });
    } else {
      await tx.promptLabel.upsert({
        where: { promptId_name: { promptId, name: move.label } },
        create: { promptId, name: move.label, versionNumber: move.toVersion, updatedAt: now, updatedBy: move.actor },
        update: { versionNumber: move.toVersion, updatedAt: now, updatedBy: move.actor },
      });
    }
    const event = labelEventOf(promptId, move, fromVersion, now);
    await tx.promptLabelEvent.create({ data: event });
    events.push(event);
  }
  return events;
}

export class LabelRepository extends TxRepository {
  constructor(
    db: Db,
    bound = false,
    /** Prepared-statement reads (lookups, batched relation loads); not used on a transaction. */
    private readonly reads?: PromptReads,
    /** Prepared-statement label moves; not used on a transaction. */
    private readonly writes?: PromptWrites,
  ) {
    super(db, bound);
  }

  /** This repository on an open transaction (bulk jobs). */
  withTx(tx: Tx): LabelRepository {
    return TxRepository.bindTo((db, bound) => new LabelRepository(db, bound), tx);
  }

  async find(promptId: string, name: string): Promise<LabelRecord | null> {
    if (this.reads) return this.reads.label(promptId, name);
    return this.db.promptLabel.findUnique({ where: { promptId_name: { promptId, name } } });
  }

  /** Moves labels in one transaction. */
  move(promptId: string, moves: LabelMove[]): Promise<LabelEventRecord[]> {
    if (this.writes) return this.writes.moveLabels(promptId, moves, new Date());
    return this.run((tx) => applyLabelMoves(tx, promptId, moves, new Date()));
  }

  async historyCount(promptId: string): Promise<number> {
    if (this.reads) return this.reads.labelHistoryCount(promptId);
    return this.db.promptLabelEvent.count({ where: { promptId } });
  }

  /** Labels of many prompts in one statement, sorted by name. */
  async labelsByPromptIds(ids: readonly string[]): Promise<Map<string, LabelRecord[]>> {
    if (this.reads) return this.reads.labelsByPromptIds(ids);
    const rows = await this.db.promptLabel.findMany({
      where: { promptId: { in: [...ids] } },
      orderBy: [{ promptId: "asc" }, { name: "asc" }],
    });
    const byPrompt = new Map<string, LabelRecord[]>(ids.map((id) => [id, []]));
    for (const row of rows) byPrompt.get(row.promptId)?.push(row);
    return byPrompt;
  }

  /**
   * One page of label history (newest first) for each of many prompts, in one statement.
   * Ordered by rowid, which grows with every insert: exact even for moves in the same millisecond.
   */
  async historyPages(
    promptIds: readonly string[],
    limit: number,
    beforeSeq: number | undefined,
  ): Promise<Map<string, (LabelEventRecord & { seq: number })[]>> {
    const pages = new Map<string, (LabelEventRecord & { seq: number })[]>(promptIds.map((id) => [id, []]));
    if (promptIds.length === 0) return pages;
    const before = beforeSeq ?? Number.MAX_SAFE_INTEGER;
    const rows = await this.db.$queryRaw<(Omit<LabelEventRecord, "createdAt"> & { createdAt: Date | string; seq: bigint | number })[]>`
      SELECT id, promptId, label, fromVersion, toVersion, actor, reason, createdAt, seq FROM (
        SELECT e.*, e.rowid AS seq, ROW_NUMBER() OVER (PARTITION BY e.promptId ORDER BY e.rowid DESC) AS rn
        FROM PromptLabelEvent e
        WHERE e.promptId IN (${Prisma.join([...promptIds])}) AND e.rowid < ${before}
      ) WHERE rn <= ${limit}
      ORDER BY promptId, seq DESC`;
    for (const row of rows) {
      pages.get(row.promptId)?.push({
        ...row,
        fromVersion: row.fromVersion === null ? null : Number(row.fromVersion),
        toVersion: row.toVersion === null ? null : Number(row.toVersion),
        createdAt: new Date(row.createdAt),
        seq: Number(row.seq),
      });
    }
    return pages;
  }
}
