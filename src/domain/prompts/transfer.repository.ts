// The queries of export and import: whole histories in and out, a batch of prompts at a time.
import { newId } from "../shared/ids.js";
import { TxRepository } from "../../db/tx-repository.js";
import { applyLabelMoves, type Tx } from "./label.repository.js";
import type { IncludeEdge } from "./include-graph.js";
import { toVersion, type NewRelationship, type NewVersion, type PromptRecord, type PromptVersionRecord } from "./prompt.repository.js";

export class TransferRepository extends TxRepository {
  /** This repository on an open transaction (bulk imports). */
  withTx(tx: Tx): TransferRepository {
    return TxRepository.bindTo((db, bound) => new TransferRepository(db, bound), tx);
  }


  /** Every version of many prompts, oldest first per prompt, in one statement (export). */
  async allVersions(prompts: readonly PromptRecord[]): Promise<Map<string, PromptVersionRecord[]>> {
    const types = new Map(prompts.map((p) => [p.id, p.type]));
    const rows = await this.db.promptVersion.findMany({
      where: { promptId: { in: [...types.keys()] } },
      orderBy: [{ promptId: "asc" }, { number: "asc" }],
    });
    const byPrompt = new Map<string, PromptVersionRecord[]>(prompts.map((p) => [p.id, []]));
    for (const row of rows) byPrompt.get(row.promptId)?.push(toVersion(row, types.get(row.promptId)!));
    return byPrompt;
  }

  /** Outgoing links of many prompts with their targets' names (export). */
  async outgoingLinks(ids: readonly string[]) {
    const rows = await this.db.promptRelationship.findMany({
      where: { sourceId: { in: [...ids] } },
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
      include: { target: { select: { name: true } } },
    });
    const byPrompt = new Map<string, { type: string; target: string; note: string | null }[]>(ids.map((id) => [id, []]));
    for (const row of rows) byPrompt.get(row.sourceId)?.push({ type: row.type, target: row.target.name, note: row.note });
    return byPrompt;
  }

  /**
   * Writes an imported prompt with its whole history in one transaction: versions keep their
   * numbers and times, labels their targets (each recorded as an import in the label history).
   */
  async importNew(
    prompt: PromptRecord,
    versions: NewVersion[],
    tags: string[],
    labels: { name: string; version: number }[],
    includes: IncludeEdge[],
  ): Promise<void> {
    const now = new Date();
    await this.run(async (tx) => {
      await tx.prompt.create({ data: prompt });
      await tx.promptTag.createMany({ data: tags.map((tag) => ({ promptId: prompt.id, tag })) });
      await tx.promptVersion.createMany({ data: versions.map((v) => ({ ...v, promptId: prompt.id })) });
      await tx.promptInclude.createMany({ data: includes.map((edge) => ({ promptId: prompt.id, ...edge })) });
      await applyLabelMoves(
        tx,
        prompt.id,
        labels.map((l) => ({ label: l.name, toVersion: l.version, actor: null, reason: "imported" })),
        now,
      );
    });
  }

  /** Adds links, ignoring ones that already exist (import). */
  async addLinks(sourceId: string, links: NewRelationship[]): Promise<void> {
    for (const link of links) {
      await this.db.promptRelationship.upsert({
        where: { sourceId_targetId_type: { sourceId, targetId: link.targetId, type: link.type } },
        create: { id: newId(), sourceId, ...link, createdAt: new Date() },
        update: {},
      });
    }
  }
}
