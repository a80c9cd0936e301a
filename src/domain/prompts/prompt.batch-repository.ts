import { sqlDate, type SyncSession } from "../../db/sync-writer.js";

import type { NewPromptRow } from "./prompt.batch.js";

/**
 * Bulk creation's statements, prepared once and run inside a SyncWriter transaction (see
 * there for why). Same rows as PromptRepository.insertMany writes; per prompt the order is
 * prompt, tags, version, so the search trigger indexes each prompt once.
 */
export class PromptBatchRepository {
  /** Which of `names` exist already, read inside the caller's transaction. */
  takenNames(session: SyncSession, names: readonly string[]): Set<string> {
    if (names.length === 0) return new Set();
    const rows = session
      .statement(`SELECT name FROM Prompt WHERE name IN (SELECT value FROM json_each(?))`)
      .pluck()
      .all(JSON.stringify(names)) as string[];
    return new Set(rows);
  }

  insert(session: SyncSession, rows: readonly NewPromptRow[]): void {
    const prompt = session.statement(
      `INSERT INTO Prompt (id, name, description, category, type, latestVersionNumber, createdAt, updatedAt, archivedAt)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const tag = session.statement(`INSERT INTO PromptTag (promptId, tag) VALUES (?, ?)`);
    const version = session.statement(
      `INSERT INTO PromptVersion (id, promptId, number, content, config, variables, commitMessage, author, contentHash, createdAt)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const { prompt: p, version: v, tags } of rows) {
      prompt.run(p.id, p.name, p.description, p.category, p.type, p.latestVersionNumber, sqlDate(p.createdAt), sqlDate(p.updatedAt), p.archivedAt ? sqlDate(p.archivedAt) : null);
      for (const t of tags) tag.run(p.id, t);
      version.run(v.id, p.id, v.number, v.content, v.config, v.variables, v.commitMessage, v.author, v.contentHash, sqlDate(v.createdAt));
    }
  }
}
