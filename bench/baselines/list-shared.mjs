// What S3's baseline and its bare-Apollo reference share: the page of prompts(filter: {folder},
// first) answered from 1 + 3 hand-written statements (the page, then its versions, labels and
// tags, each batched over the page's ids), and the schema of that query for the reference.
import Database from "better-sqlite3";

/** answer({ folder, first }) -> the query's `data`, from the database file at `file`. */
export function listAnswerer(file) {
  const db = new Database(file, { readonly: true });
  const page = db.prepare("SELECT id, name FROM Prompt WHERE name > ? AND name < ? AND archivedAt IS NULL ORDER BY name LIMIT ?");
  // The newest five versions of each prompt (the first of them is the latest).
  const versions = db.prepare(`
    SELECT promptId, number, content, contentHash FROM (
      SELECT promptId, number, content, contentHash, row_number() OVER (PARTITION BY promptId ORDER BY number DESC) AS position
      FROM PromptVersion WHERE promptId IN (SELECT value FROM json_each(?))
    ) WHERE position <= 5 ORDER BY promptId, number DESC`);
  const labels = db.prepare("SELECT promptId, name, versionNumber FROM PromptLabel WHERE promptId IN (SELECT value FROM json_each(?)) ORDER BY promptId, name");
  const tags = db.prepare("SELECT promptId, tag FROM PromptTag WHERE promptId IN (SELECT value FROM json_each(?)) ORDER BY promptId, tag");

  return function answer({ folder, first }) {
    const prompts = page.all(`${folder}/`, `${folder}0`, first);
    const ids = JSON.stringify(prompts.map((p) => p.id));
    const v = group(versions.all(ids));
    const l = group(labels.all(ids));
    const t = group(tags.all(ids));
    const nodes = prompts.map((p) => {
      const own = v.get(p.id) ?? [];
      return {
        name: p.name,
        tags: (t.get(p.id) ?? []).map((r) => r.tag),
        latestVersion: { number: own[0].number, content: own[0].content },
        versions: { nodes: own.map((r) => ({ number: r.number, contentHash: r.contentHash })) },
        // The server lists the implicit `latest` label with the others, by name.
        labels: [{ name: "latest", versionNumber: own[0].number }, ...(l.get(p.id) ?? []).map((r) => ({ name: r.name, versionNumber: r.versionNumber }))].sort((a, b) =>
          a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
        ),
      };
    });
    return { prompts: { nodes } };
  };
}

function group(rows) {
  const by = new Map();
  for (const row of rows) {
    let list = by.get(row.promptId);
    if (!list) by.set(row.promptId, (list = []));
    list.push(row);
  }
  return by;
}

/** The listing query's part of the schema, for the bare-Apollo reference. */
export const LIST_TYPEDEFS = `
  input PromptFilter { folder: String }
  type Version { number: Int! content: String contentHash: String! }
  type VersionPage { nodes: [Version!]! }
  type Label { name: String! versionNumber: Int! }
  type Prompt { name: String! tags: [String!]! latestVersion: Version! versions(first: Int): VersionPage! labels: [Label!]! }
  type PromptPage { nodes: [Prompt!]! }
  type Query { prompts(filter: PromptFilter, first: Int): PromptPage! }`;
