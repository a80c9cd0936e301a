// Logic-less templates: `{{variable}}` placeholders and `{{> other/prompt}}` includes
// (optionally `@label` or `@version`). Nothing in a template ever runs as code.
import type { PromptContent } from "./prompt.logic.js";

export interface IncludeRef {
  /** The tag as written, e.g. `{{> shared/header@production}}`. */
  raw: string;
  name: string;
  /** A label name, or null. */
  label: string | null;
  /** A version number, or null. */
  version: number | null;
}

const INCLUDE = /\{\{>\s*([A-Za-z0-9][A-Za-z0-9._/-]*?)(?:@([a-z0-9_-]+))?\s*\}\}/g;
const VARIABLE = /\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}/g;

function texts(content: PromptContent): string[] {
  return content.type === "TEXT" ? [content.text] : content.messages.map((m) => m.content);
}

/** Distinct includes of the content, in order of first appearance. */
export function parseIncludes(content: PromptContent): IncludeRef[] {
  const found = new Map<string, IncludeRef>();
  for (const text of texts(content)) {
    for (const match of text.matchAll(INCLUDE)) {
      const [raw, name, selector] = match as unknown as [string, string, string | undefined];
      if (found.has(raw)) continue;
      const isVersion = selector !== undefined && /^\d+$/.test(selector);
      found.set(raw, {
        raw,
        name,
        label: selector !== undefined && !isVersion ? selector : null,
        version: isVersion ? Number(selector) : null,
      });
    }
  }
  return [...found.values()];
}

/** The selector of an include as stored in the dependency graph ("production", "3" or null). */
export const selectorOf = (ref: IncludeRef): string | null => ref.label ?? (ref.version !== null ? String(ref.version) : null);

export interface RenderOutcome {
  text: string;
  used: Set<string>;
  missing: Set<string>;
}

/**
 * Replaces includes with their already-rendered text (`included`, keyed by the raw tag) and
 * variables with their values. A missing variable is left in place and reported.
 */
export function renderText(template: string, variables: Record<string, string>, included: Map<string, string>): RenderOutcome {
  const used = new Set<string>();
  const missing = new Set<string>();
  // Variables first, on the template's own text only: an included prompt was rendered with the
  // same variables already, and its output must not be scanned again (a value containing
  // "{{x}}" must not expand).
  const parts = template.split(INCLUDE);
  // split() with 2 capture groups yields: text, name, selector, text, name, selector, ...
  let out = "";
  const tags = [...template.matchAll(INCLUDE)].map((m) => m[0]);
  for (let i = 0, tag = 0; i < parts.length; i += 3, tag++) {
    out += (parts[i] ?? "").replace(VARIABLE, (whole, name: string) => {
      if (Object.prototype.hasOwnProperty.call(variables, name)) {
        used.add(name);
        return variables[name]!;
      }
      missing.add(name);
      return whole;
    });
    if (tag < tags.length) out += included.get(tags[tag]!) ?? tags[tag]!;
  }
  return { text: out, used, missing };
}

/** Values of a render request as strings: numbers and booleans printed, objects as JSON. */
export function stringifyVariables(values: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) {
    out[key] = typeof value === "string" ? value : value === null || value === undefined ? "" : typeof value === "object" ? JSON.stringify(value) : String(value);
  }
  return out;
}
