import { AppError, badInput, notFound } from "../../errors.js";
import { isUniqueViolation } from "../prompts/prompt.repository.js";
import type { PromptRef } from "../prompts/prompt.commands.js";
import type { PromptService } from "../prompts/prompt.service.js";
import type { RelationshipRecord, RelationshipRepository } from "./relationship.repository.js";

/** The types every store understands; any other UPPER_SNAKE_CASE name is a custom type. */
export const WELL_KNOWN_TYPES = ["DERIVED_FROM", "DEPENDS_ON", "SIMILAR_TO", "ALTERNATIVE_OF"] as const;
const TYPE = /^[A-Z][A-Z0-9_]{0,49}$/;

export function validateRelationshipType(raw: string, field = "type"): string {
  const type = raw.trim().toUpperCase().replace(/[\s-]+/g, "_");
  if (!TYPE.test(type)) {
    throw badInput(field, `relationship type "${raw}" is malformed: 1 to 50 characters of A-Z, 0-9 and "_", starting with a letter`);
  }
  return type;
}

export type Direction = "OUTGOING" | "INCOMING" | "BOTH";

export class RelationshipService {
  constructor(
    private readonly repo: RelationshipRepository,
    private readonly prompts: PromptService,
  ) {}

  async create(input: { source: PromptRef; target: PromptRef; type: string; note?: string | null }, actor: string | null) {
    const type = validateRelationshipType(input.type);
    const note = input.note?.trim() || null;
    if (note && note.length > 2_000) throw badInput("note", "note must be at most 2000 characters");
    const source = await this.prompts.get(input.source, "source");
    const target = await this.prompts.get(input.target, "target");
    if (source.id === target.id) throw badInput("target", "a prompt cannot be linked to itself");
    try {
      return await this.repo.create({ sourceId: source.id, targetId: target.id, type, note, createdBy: actor });
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new AppError("CONFLICT", `${source.name} is already linked to ${target.name} as ${type}`, { field: "type" });
      }
      throw error;
    }
  }

  async delete(id: string): Promise<RelationshipRecord> {
    const found = await this.repo.findById(id);
    if (!found || !(await this.repo.delete(id))) throw notFound("relationship", "id", id);
    return found;
  }

  /** Keeps the links of one prompt that match a direction and an optional type. */
  static select(promptId: string, links: RelationshipRecord[], direction: Direction, type: string | null): RelationshipRecord[] {
    return links.filter(
      (link) =>
        (direction === "BOTH" ||
          (direction === "OUTGOING" && link.sourceId === promptId) ||
          (direction === "INCOMING" && link.targetId === promptId)) &&
        (type === null || link.type === type),
    );
  }
}
