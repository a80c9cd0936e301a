// The write paths of a single prompt that every edit takes (a new version, label moves), as
// prepared statements in a SyncWriter transaction. Through Prisma each statement cost about
// 1 ms here (Prisma 6 compiles every query in wasm and prepares it again); an update of a
// prompt ran 8 of them. These write the same rows in the same order as the Prisma versions in
// prompt.repository.ts and label.repository.ts, which stay for repositories bound to a bulk
// job's transaction. Each runs as one of SyncWriter's group commits: concurrent edits share a
// COMMIT, which costs several times what their rows do.
import { assertMayMoveLabels } from "../../auth/scope.js";
import { sqlDate, type SyncSession, type SyncWriter } from "../../db/sync-writer.js";
import { assertNoCycleSync } from "./include-graph.js";
import { labelEventOf, type LabelEventRecord, type LabelMove } from "./label.repository.js";
import { newId } from "../shared/ids.js";
import type { NewVersion, PromptCreateExtras, PromptRecord, PromptUpdate, PromptUpdateExtras } from "./prompt.repository.js";

// An omitted description or category keeps its value (assigning a column its own value does not
// wake the search trigger, whose WHEN compares old and new).
const UPDATE_PROMPT = `
  UPDATE Prompt SET
    description = iif(@setDescription, @description, description),
    category = iif(@setCategory, @category, category),
    updatedAt = @updatedAt,
    latestVersionNumber = @latest
  WHERE id = @id AND latestVersionNumber = @expected AND archivedAt IS NULL`;
const INSERT_VERSION = `
  INSERT INTO PromptVersion (id, promptId, number, content, config, variables, commitMessage, author, contentHash, createdAt)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
const INSERT_PROMPT = `
  INSERT INTO Prompt (id, name, description, category, type, latestVersionNumber, createdAt, updatedAt, archivedAt)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`;
const INSERT_RELATIONSHIPS = `
  INSERT INTO PromptRelationship (id, sourceId, targetId, type, note, createdAt, createdBy)
  SELECT json_extract(value, '$.id'), ?, json_extract(value, '$.targetId'), json_extract(value, '$.type'),
         json_extract(value, '$.note'), ?, json_extract(value, '$.createdBy')
  FROM json_each(?)`;
const INCLUDE_EDGES = "SELECT promptId, includedId FROM PromptInclude WHERE promptId IN (SELECT value FROM json_each(?))";
const PROMPT_NAMES = "SELECT id, name FROM Prompt WHERE id IN (SELECT value FROM json_each(?))";
const DELETE_INCLUDES = "DELETE FROM PromptInclude WHERE promptId = ?";
const INSERT_INCLUDES = `
  INSERT INTO PromptInclude (promptId, includedId, selector)
  SELECT ?, json_extract(value, '$.includedId'), json_extract(value, '$.selector') FROM json_each(?)`;
const DELETE_TAGS = "DELETE FROM PromptTag WHERE promptId = ?";
const INSERT_TAGS = "INSERT INTO PromptTag (promptId, tag) SELECT ?, value FROM json_each(?)";
const LABEL_VERSION = "SELECT versionNumber FROM PromptLabel WHERE promptId = ? AND name = ?";
const DELETE_LABEL = "DELETE FROM PromptLabel WHERE promptId = ? AND name = ?";
const UPSERT_LABEL = `
  INSERT INTO PromptLabel (promptId, name, versionNumber, updatedAt, updatedBy) VALUES (?, ?, ?, ?, ?)
  ON CONFLICT (promptId, name) DO UPDATE SET versionNumber = excluded.versionNumber, updatedAt = excluded.updatedAt, updatedBy = excluded.updatedBy`;
const INSERT_LABEL_EVENT = `
  INSERT INTO PromptLabelEvent (id, promptId, label, fromVersion, toVersion, actor, reason, createdAt)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?)`;

export class PromptWrites {
  constructor(private readonly writer: SyncWriter) {}

  /** PromptRepository.create on prepared statements (a taken name throws a unique violation). */
  create(
    prompt: Omit<PromptRecord, "updatedAt">,
    version: NewVersion,
    tags: string[],
    extras: PromptCreateExtras = {},
  ): Promise<void> {
    const now = sqlDate(prompt.createdAt);
    return this.writer.grouped((session) => {
      // Prompt, tags, then the version: the search index row is written once, when all is there.
      const p = prompt;
      session.statement(INSERT_PROMPT).run(p.id, p.name, p.description, p.category, p.type, p.latestVersionNumber, now, now, p.archivedAt && sqlDate(p.archivedAt));
      if (tags.length > 0) session.statement(INSERT_TAGS).run(p.id, JSON.stringify(tags));
      insertVersion(session, p.id, version);
      if (extras.includes?.length) session.statement(INSERT_INCLUDES).run(p.id, JSON.stringify(extras.includes));
      if (extras.relationships?.length) {
        const rows = extras.relationships.map((r) => ({ id: newId(), ...r }));
        session.statement(INSERT_RELATIONSHIPS).run(p.id, now, JSON.stringify(rows));
      }
    });
  }

  /** PromptRepository.update on prepared statements: same contract (null on a lost race). */
  update(
    id: string,
    expectedLatest: number,
    changes: PromptUpdate,
    version: NewVersion | null,
    extras: PromptUpdateExtras = {},
  ): Promise<{ labelEvents: LabelEventRecord[] } | null> {
    return this.writer.grouped((session) => {
      const { changes: count } = session.statement(UPDATE_PROMPT).run({
        id,
        expected: expectedLatest,
        setDescription: changes.description === undefined ? 0 : 1,
        description: changes.description ?? null,
        setCategory: changes.category === undefined ? 0 : 1,
        category: changes.category ?? null,
        updatedAt: sqlDate(changes.updatedAt),
        latest: version ? version.number : expectedLatest,
      });
      if (count === 0) return null;
      if (version) {
        insertVersion(session, id, version);
        if (extras.includes) {
          assertNoCycleSync(
            {
              edgesFrom: (ids) => session.statement(INCLUDE_EDGES).all(JSON.stringify(ids)) as { promptId: string; includedId: string }[],
              names: (ids) => session.statement(PROMPT_NAMES).all(JSON.stringify(ids)) as { id: string; name: string }[],
            },
            id,
            extras.includes.map((edge) => edge.includedId),
          );
          session.statement(DELETE_INCLUDES).run(id);
          if (extras.includes.length > 0) session.statement(INSERT_INCLUDES).run(id, JSON.stringify(extras.includes));
        }
      }
      if (changes.tags) {
        session.statement(DELETE_TAGS).run(id);
        if (changes.tags.length > 0) session.statement(INSERT_TAGS).run(id, JSON.stringify(changes.tags));
      }
      return { labelEvents: moveLabels(session, id, extras.labelMoves ?? [], changes.updatedAt) };
    });
  }

  /** Label moves in a transaction of their own (LabelRepository.move). */
  moveLabels(promptId: string, moves: LabelMove[], now: Date): Promise<LabelEventRecord[]> {
    return this.writer.grouped((session) => moveLabels(session, promptId, moves, now));
  }
}

function insertVersion(session: SyncSession, promptId: string, v: NewVersion): void {
  session.statement(INSERT_VERSION).run(v.id, promptId, v.number, v.content, v.config, v.variables, v.commitMessage, v.author, v.contentHash, sqlDate(v.createdAt));
}

/** applyLabelMoves (label.repository.ts) inside a SyncWriter transaction. */
function moveLabels(session: SyncSession, promptId: string, moves: LabelMove[], now: Date): LabelEventRecord[] {
  assertMayMoveLabels(moves.map((move) => move.label));
  const events: LabelEventRecord[] = [];
  for (const move of moves) {
    const current = session.statement(LABEL_VERSION).pluck().get(promptId, move.label) as number | bigint | undefined;
    const fromVersion = current === undefined ? null : Number(current);
    if (fromVersion === move.toVersion) continue;
    if (move.toVersion === null) {
      session.statement(DELETE_LABEL).run(promptId, move.label);
    } else {
      session.statement(UPSERT_LABEL).run(promptId, move.label, move.toVersion, sqlDate(now), move.actor);
    }
    const event = labelEventOf(promptId, move, fromVersion, now);
    session.statement(INSERT_LABEL_EVENT).run(event.id, promptId, event.label, fromVersion, event.toVersion, event.actor, event.reason, sqlDate(now));
    events.push(event);
  }
  return events;
}
