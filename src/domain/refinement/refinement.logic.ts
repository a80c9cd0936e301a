// What a reviewer needs to know about a proposal before applying it: whether every template
// placeholder survived, and how much the text changed in length.
import { badInput } from "../../errors.js";
import { diffPromptContent, type PromptDiff } from "../prompts/prompt-diff.logic.js";
import { extractVariables } from "../prompts/prompt.logic.js";
import type { PromptVersionRecord } from "../prompts/prompt.repository.js";
import { parseIncludes, selectorOf } from "../prompts/template.logic.js";

export interface RefinementChecks {
  /** `{{variable}}` names the proposal has and the base does not, and the other way round. */
  variablesAdded: string[];
  variablesRemoved: string[];
  /** Includes as `name` or `name@selector`, added or removed. */
  includesAdded: string[];
  includesRemoved: string[];
  /** True when no variable or include was added or removed: applying needs no `force`. */
  placeholdersPreserved: boolean;
  lengthBefore: number;
  lengthAfter: number;
  lengthChange: number;
  /** Change relative to the base, in percent (null when the base is empty). */
  lengthChangePercent: number | null;
}

const includesOf = (text: string) =>
  parseIncludes({ type: "TEXT", text }).map((ref) => {
    const selector = selectorOf(ref);
    return selector === null ? ref.name : `${ref.name}@${selector}`;
  });

const minus = (a: string[], b: string[]) => {
  const other = new Set(b);
  return [...new Set(a)].filter((x) => !other.has(x));
};

/** Compares a proposal with the text it refines. Lengths count characters (code points). */
export function checkProposal(base: string, proposal: string): RefinementChecks {
  const varsBefore = extractVariables({ type: "TEXT", text: base });
  const varsAfter = extractVariables({ type: "TEXT", text: proposal });
  const incBefore = includesOf(base);
  const incAfter = includesOf(proposal);
  const lengthBefore = [...base].length;
  const lengthAfter = [...proposal].length;
  const checks = {
    variablesAdded: minus(varsAfter, varsBefore),
    variablesRemoved: minus(varsBefore, varsAfter),
    includesAdded: minus(incAfter, incBefore),
    includesRemoved: minus(incBefore, incAfter),
    lengthBefore,
    lengthAfter,
    lengthChange: lengthAfter - lengthBefore,
    lengthChangePercent: lengthBefore === 0 ? null : Math.round(((lengthAfter - lengthBefore) / lengthBefore) * 1000) / 10,
  };
  const preserved = [checks.variablesAdded, checks.variablesRemoved, checks.includesAdded, checks.includesRemoved].every((list) => list.length === 0);
  return { ...checks, placeholdersPreserved: preserved };
}

/** One sentence for an error message: what the proposal breaks. */
export function describeBrokenPlaceholders(checks: RefinementChecks): string {
  const parts: string[] = [];
  if (checks.variablesRemoved.length) parts.push(`drops ${checks.variablesRemoved.map((v) => `{{${v}}}`).join(", ")}`);
  if (checks.variablesAdded.length) parts.push(`adds ${checks.variablesAdded.map((v) => `{{${v}}}`).join(", ")}`);
  if (checks.includesRemoved.length) parts.push(`drops the include ${checks.includesRemoved.map((i) => `{{> ${i}}}`).join(", ")}`);
  if (checks.includesAdded.length) parts.push(`adds the include ${checks.includesAdded.map((i) => `{{> ${i}}}`).join(", ")}`);
  return `the proposal ${parts.join("; ")}`;
}

/** The proposal against the base version, with the same comparison as diffPromptVersions (and the base's config on both sides). */
export function diffProposal(base: PromptVersionRecord, proposal: string, context?: number | null): PromptDiff & { from: PromptVersionRecord } {
  if (context != null && (!Number.isInteger(context) || context < 0 || context > 1000)) throw badInput("context", "context must be an integer from 0 to 1000");
  return { ...diffPromptContent(base, { content: { type: "TEXT", text: proposal }, config: base.config }, { context: context ?? undefined }), from: base };
}

/** The text a version holds, for checks (CHAT prompts are not refined). */
export const textOf = (version: PromptVersionRecord): string => (version.content.type === "TEXT" ? version.content.text : "");
