// The conversation sent to a chat model for a refinement, and the tolerant reading of its reply.
// Pure: no network here (llm.provider.ts does the call).
import type { RefineRequest } from "./refiner.js";

export interface RefinementMessage {
  role: "system" | "user";
  content: string;
}

export type ParsedReply =
  | { ok: true; proposal: string; critique: string; rationale: string; changes: string[]; parsedAs: "json" | "sections" | "prose" }
  | { ok: false; reason: string };

const SYSTEM = `You are an experienced prompt engineer. You improve prompts that applications send to language models.

Rules:
- Keep the prompt's purpose. Apply the person's instructions; when there are none, improve clarity, structure and specificity.
- Preserve every template tag exactly as written and as many times as it appears: variables such as {{name}} and includes such as {{> shared/header}} or {{> shared/header@production}}. Never rename, translate, reformat, add or remove them.
- Do not invent facts about the product, the audience or the data. If something important is missing, say so in the critique.
- When examples are given, the rewritten prompt should lead a model to produce the ideal output for each input.

Answer with a single JSON object and nothing else: no code fence, no text before or after it.
{"critique": string, "rationale": string, "changes": string[], "prompt": string}
- critique: what is wrong with, or could be better in, the current prompt.
- rationale: why the rewritten prompt looks the way it does.
- changes: each change you made, one sentence per item.
- prompt: the complete rewritten prompt, ready to use.`;

const TAG = /\{\{[^{}]*\}\}/g;

export function buildRefinementMessages(req: RefineRequest): RefinementMessage[] {
  const parts = [`Current prompt (between the <prompt> tags, exactly as stored):\n<prompt>\n${req.content}\n</prompt>`];
  const tags = [...new Set(req.content.match(TAG) ?? [])];
  if (tags.length > 0) parts.push(`Template tags that must appear unchanged in the rewritten prompt: ${tags.join(", ")}`);
  parts.push(
    req.instructions.trim()
      ? `Instructions:\n<instructions>\n${req.instructions.trim()}\n</instructions>`
      : "Instructions: none given. Improve the prompt in general: clarity, structure, specificity.",
  );
  if (req.examples.length > 0) {
    const examples = req.examples.map(
      (e, i) => `<example number="${i + 1}">\n<input>\n${e.input}\n</input>\n<ideal_output>\n${e.idealOutput}\n</ideal_output>\n</example>`,
    );
    parts.push(`Examples: for each input, a model given the rewritten prompt should produce the ideal output.\n${examples.join("\n")}`);
  }
  parts.push('Reply with the JSON object {"critique", "rationale", "changes", "prompt"} only.');
  return [
    { role: "system", content: SYSTEM },
    { role: "user", content: parts.join("\n\n") },
  ];
}

type Part = "prompt" | "critique" | "rationale" | "changes";
const PART_TITLES: [Part, RegExp][] = [
  ["prompt", /^(?:the |your )?(?:(?:improved|rewritten|revised|refined|new|updated|final|optimi[sz]ed)\s+)?prompt$/],
  ["critique", /^(?:critique|feedback|review|analysis|issues|problems)$/],
  ["rationale", /^(?:rationale|reasoning|explanation|why)$/],
  ["changes", /^(?:changes|changes made|list of changes|summary of changes|edits|change list)$/],
];
const partOf = (title: string): Part | null => {
  const t = title.toLowerCase().replace(/[^a-z ]+/g, " ").replace(/\s+/g, " ").trim();
  return PART_TITLES.find(([, re]) => re.test(t))?.[0] ?? null;
};
const NO_PROMPT = 'expected a JSON object with a "prompt" field or a <prompt> section';
const FENCE = /^ {0,3}(`{3,})/;

/** Removes one fence around the whole text (when the inside has no fence of the same length). */
function unfence(text: string): string {
  const t = text.trim();
  const m = /^(`{3,})[^\n`]*\n([\s\S]*?)\n?\1\s*$/.exec(t);
  if (!m || new RegExp(`^ {0,3}${m[1]}(?!\`)`, "m").test(m[2]!)) return t;
  return m[2]!.trim();
}

const text = (v: unknown): string =>
  typeof v === "string" ? v.trim() : v == null ? "" : Array.isArray(v) ? v.map(text).join("\n") : JSON.stringify(v);
const list = (v: unknown): string[] =>
  (Array.isArray(v) ? v.map(text) : text(v).split("\n").map((l) => l.replace(/^\s*(?:[-*•]|\d+[.)])\s+/, ""))).map((l) => l.trim()).filter(Boolean);

/** The end of the JSON value starting with "{" at `start` (string-aware brace matching), or -1. */
function closingBrace(s: string, start: number): number {
  let depth = 0, inString = false;
  for (let i = start; i < s.length; i++) {
    const c = s[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{") depth++;
    else if (c === "}" && --depth === 0) return i;
  }
  return -1;
}

function fromJson(raw: string): ParsedReply {
  let problem: string | null = null;
  let tries = 0;
  for (let at = raw.indexOf("{"); at !== -1 && tries < 50; at = raw.indexOf("{", at + 1)) {
    // Only what looks like an object: "{" then a quote or "}" (not "{{variable}}").
    if (!/^\{\s*["“”'‘’}]/.test(raw.slice(at, at + 200))) continue;
    tries++;
    const end = closingBrace(raw, at);
    let value: unknown;
    try {
      value = JSON.parse(raw.slice(at, end === -1 ? undefined : end + 1));
    } catch (error) {
      problem ??= `the reply contains a JSON object that is not valid JSON (${(error as Error).message})`;
      continue;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) continue;
    const fields = new Map(Object.entries(value).map(([k, v]) => [k.toLowerCase().replace(/[^a-z]/g, ""), v]));
    const get = (...keys: string[]) => fields.get(keys.find((k) => fields.has(k)) ?? "");
    const prompt = get("prompt", "improvedprompt", "rewrittenprompt", "revisedprompt", "refinedprompt", "newprompt", "updatedprompt", "proposal");
    if (typeof prompt !== "string" || !unfence(prompt)) {
      const keys = Object.keys(value).join(", ") || "none";
      problem ??=
        prompt === undefined
          ? `the JSON object has no "prompt" field (its keys: ${keys})`
          : `the JSON "prompt" field is ${typeof prompt === "string" ? "empty" : "not a string"}`;
      continue;
    }
    return {
      ok: true,
      proposal: unfence(prompt),
      critique: text(get("critique", "feedback", "review", "analysis", "issues")),
      rationale: text(get("rationale", "reasoning", "explanation", "why")),
      changes: list(get("changes", "changesmade", "changelist", "edits", "modifications")),
      parsedAs: "json",
    };
  }
  return { ok: false, reason: problem ?? "" };
}

/** `<prompt>...</prompt>`-style tags, then markdown headings, bold titles or "Title:" lines. */
function sections(raw: string): Partial<Record<Part, string>> {
  const found: Partial<Record<Part, string>> = {};
  let current: Part | null = null, inFence = false;
  for (const line of raw.split("\n")) {
    if (FENCE.test(line)) inFence = !inFence;
    else if (!inFence) {
      // "## Title", "**Title:** rest" or "Title: rest"; group 2 is the rest of the line.
      const m =
        /^\s*#{1,6}\s+(.*)$()/.exec(line) ??
        /^\s*(?:\*\*|__)(.+?)(?:\*\*|__)\s*:?\s*(.*)$/.exec(line) ??
        /^\s*([A-Za-z][A-Za-z ]{0,40}):\s*(.*)$/.exec(line);
      const part = m ? partOf(m[1]!) : null;
      if (part && found[part] === undefined) {
        current = part;
        found[part] = m![2]!;
        continue;
      }
    }
    if (current) found[current] = found[current] ? `${found[current]}\n${line}` : line;
  }
  for (const m of raw.matchAll(/<((?:[a-z]+_)?prompt|critique|feedback|rationale|reasoning|changes)>([\s\S]*?)<\/\1>/gi)) {
    const part = partOf(m[1]!);
    if (part) found[part] = m[2]!;
  }
  return found;
}

/** Reads a model's reply: a JSON object (possibly fenced or among prose), tagged or titled sections, or one code block. */
export function parseRefinementReply(raw: string): ParsedReply {
  const reply = raw.replace(/\r\n?/g, "\n").trim();
  if (!reply) return { ok: false, reason: `the reply is empty; ${NO_PROMPT}` };
  const json = fromJson(reply);
  if (json.ok) return json;

  const parts = sections(reply);
  if (parts.prompt !== undefined) {
    const proposal = unfence(parts.prompt);
    if (!proposal) return { ok: false, reason: "the reply's prompt section is empty" };
    const critique = text(parts.critique), rationale = text(parts.rationale), changes = list(parts.changes ?? "");
    return { ok: true, proposal, critique, rationale, changes, parsedAs: "sections" };
  }

  const lines = reply.split("\n");
  const blocks: { from: number; to: number; lang: string }[] = [];
  for (let i = 0, open = -1, ticks = ""; i < lines.length; i++) {
    const m = FENCE.exec(lines[i]!);
    if (!m) continue;
    if (open === -1) [open, ticks] = [i, m[1]!];
    else if (m[1] === ticks && lines[i]!.trim() === ticks) {
      blocks.push({ from: open, to: i, lang: lines[open]!.trim().slice(ticks.length).trim().toLowerCase() });
      open = -1;
    }
  }
  if (json.reason && (blocks.length === 0 || blocks.some((b) => b.lang === "json" || /^\{(?!\{)/.test(lines[b.from + 1]?.trim() ?? "")))) {
    return { ok: false, reason: `${json.reason}; ${NO_PROMPT}` };
  }
  if (blocks.length === 1) {
    const { from, to } = blocks[0]!;
    const proposal = lines.slice(from + 1, to).join("\n").trim();
    if (!proposal) return { ok: false, reason: `the reply's only code block is empty; ${NO_PROMPT}` };
    const critique = [...lines.slice(0, from), ...lines.slice(to + 1)].join("\n").trim();
    return { ok: true, proposal, critique, rationale: "", changes: [], parsedAs: "prose" };
  }
  if (blocks.length > 1) {
    return { ok: false, reason: `the reply has ${blocks.length} code blocks and no marked prompt, so the rewritten prompt is ambiguous; ${NO_PROMPT}` };
  }
  return { ok: false, reason: `the reply has no rewritten prompt: ${NO_PROMPT}` };
}
