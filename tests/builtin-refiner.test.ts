import { describe, expect, it } from "vitest";
import { extractVariables } from "../src/domain/prompts/prompt.logic.js";
import { parseIncludes } from "../src/domain/prompts/template.logic.js";
import { SECTION_PLACEHOLDERS, deriveFromInstructions, findVagueWording, refineWithRules } from "../src/domain/refinement/builtin-refiner.logic.js";
import { BuiltinRefinementProvider } from "../src/domain/refinement/builtin.provider.js";
import { ProviderError } from "../src/domain/refinement/refiner.js";

const P = SECTION_PLACEHOLDERS;

type Case = { name: string; content: string; instructions: string; proposal: string; changes: string[]; flags: [phrase: string, line: number][] };

const CASES: Case[] = [
  {
    name: "plain prompt: role moved, task wrapped, sections from instructions, whitespace tidied",
    content: "You are a helpful travel agent. Suggest some places to visit in {{city}}, etc.  \n\n\n\nKeep it short.",
    instructions: "make it concise and formal, at most 100 words, answer in json",
    proposal: [
      "## Role",
      "You are a helpful travel agent.",
      "",
      "## Task",
      "Suggest some places to visit in {{city}}, etc.",
      "",
      "Keep it short.",
      "",
      "## Constraints",
      "- Keep the answer concise.",
      "- Use at most 100 words.",
      "- Use a formal tone.",
      "",
      "## Output format",
      "- Answer in JSON.",
    ].join("\n"),
    changes: [
      "Removed trailing whitespace from 1 line.",
      "Collapsed 1 run of blank lines into a single blank line.",
      'Moved the role sentence ("You are ...") under a new "## Role" heading.',
      'Put the instruction text under a new "## Task" heading.',
      'Added a "## Constraints" section from your instructions.',
      'Added a "## Output format" section from your instructions.',
    ],
    flags: [["some", 5], ["etc.", 5]],
  },
  {
    name: "no role, no instructions: placeholders for what is missing",
    content: "Write a poem about {{topic}}.",
    instructions: "",
    proposal: `## Role\n${P.role}\n\n## Task\nWrite a poem about {{topic}}.\n\n## Constraints\n${P.constraints}\n\n## Output format\n${P.output}`,
    changes: [
      'Put the instruction text under a new "## Task" heading.',
      'Added a "## Role" section with a placeholder for you to fill in.',
      'Added a "## Constraints" section with a placeholder for you to fill in.',
      'Added a "## Output format" section with a placeholder for you to fill in.',
    ],
    flags: [],
  },
  {
    name: "CRLF, tabs and a code fence with an include after it",
    content:
      "Summarise the article below in a few bullet points.\r\nYou are an expert editor, e.g. for newspapers.\r\n\r\n```python\r\ndef f():\r\n\treturn {{ x }}   \r\n\r\n\r\n\r\n```\r\n\tSee {{> shared/footer@production}}\t\r\n",
    instructions: "",
    proposal: [
      "## Role",
      "You are an expert editor, e.g. for newspapers.",
      "",
      "## Task",
      "Summarise the article below in a few bullet points.",
      "",
      "```python",
      "def f():",
      "\treturn {{ x }}   ",
      "",
      "",
      "",
      "```",
      "    See {{> shared/footer@production}}",
      "",
      "## Constraints",
      P.constraints,
      "",
      "## Output format",
      P.output,
    ].join("\n"),
    changes: [
      "Converted Windows line endings (CRLF) to LF.",
      "Removed trailing whitespace from 1 line.",
      "Replaced 1 tab with four spaces each, outside code blocks.",
      "Trimmed blank space from the start and end of the prompt.",
      'Moved the role sentence ("You are ...") under a new "## Role" heading.',
      'Put the instruction text under a new "## Task" heading.',
      'Added a "## Constraints" section with a placeholder for you to fill in.',
      'Added a "## Output format" section with a placeholder for you to fill in.',
    ],
    flags: [["a few", 5]],
  },
  {
    name: "title and headings kept; instruction lines added to the existing Rules section",
    content:
      "# Support bot\n\nYou are a friendly support agent for {{product}}. Answer the question: {{ question }}\n\n## Rules\n- Be nice.\n- Never share internal links.\n\n## Examples\nQ: hi\nA: hello",
    instructions: "friendly tone, max 3 sentences, bullet points",
    proposal: [
      "# Support bot",
      "",
      "## Role",
      "You are a friendly support agent for {{product}}.",
      "",
      "## Task",
      "Answer the question: {{ question }}",
      "",
      "## Rules",
      "- Be nice.",
      "- Never share internal links.",
      "- Use at most 3 sentences.",
      "- Use a friendly tone.",
      "",
      "## Examples",
      "Q: hi",
      "A: hello",
      "",
      "## Output format",
      "- Answer as a bulleted list.",
    ].join("\n"),
    changes: [
      'Moved the role sentence ("You are ...") under a new "## Role" heading.',
      'Put the instruction text under a new "## Task" heading.',
      'Added "Use at most 3 sentences." to the existing Constraints section, from your instructions.',
      'Added "Use a friendly tone." to the existing Constraints section, from your instructions.',
      'Added a "## Output format" section from your instructions.',
    ],
    flags: [["nice", 10]],
  },
  {
    name: "labels count as sections and are not moved",
    content: "Role: You are a translator.\nTask: Translate {{text}} into French.",
    instructions: "answer in json",
    proposal: `Role: You are a translator.\nTask: Translate {{text}} into French.\n\n## Constraints\n${P.constraints}\n\n## Output format\n- Answer in JSON.`,
    changes: [
      'Added a "## Constraints" section with a placeholder for you to fill in.',
      'Added a "## Output format" section from your instructions.',
    ],
    flags: [],
  },
  {
    name: "heading synonyms (Instructions, Output) are recognised; a negated request is not applied",
    content: "## Instructions\nTranslate {{text}}.\n\n## Output\nOnly the translation.",
    instructions: "no json please, be brief",
    proposal: `## Role\n${P.role}\n\n## Instructions\nTranslate {{text}}.\n\n## Output\nOnly the translation.\n\n## Constraints\n- Keep the answer concise.`,
    changes: [
      'Added a "## Role" section with a placeholder for you to fill in.',
      'Added a "## Constraints" section from your instructions.',
    ],
    flags: [],
  },
  {
    name: "a complete prompt is left alone",
    content: "## Role\nYou are X.\n\n## Task\nDo Y for {{user}}.\n\n## Constraints\n- Z.\n\n## Output format\nPlain text.",
    instructions: "",
    proposal: "## Role\nYou are X.\n\n## Task\nDo Y for {{user}}.\n\n## Constraints\n- Z.\n\n## Output format\nPlain text.",
    changes: [],
    flags: [],
  },
];

describe("refineWithRules", () => {
  it.each(CASES)("$name", ({ content, instructions, proposal, changes, flags }) => {
    const out = refineWithRules(content, instructions);
    expect(out.proposal).toBe(proposal);
    expect(out.changes).toEqual(changes);
    expect(out.flags.map((f) => [f.phrase, f.line])).toEqual(flags);
    for (const f of out.flags) expect(out.critique).toContain(`Line ${f.line}: "${f.phrase}" is vague; ${f.suggestion}.`);
    expect(out.critique.startsWith("Rule-based review")).toBe(true);
    expect(`${out.critique} ${out.rationale}`).not.toMatch(/as an ai|language model/i);
  });

  it.each(CASES)("is idempotent: $name", ({ content, instructions }) => {
    const first = refineWithRules(content, instructions);
    const second = refineWithRules(first.proposal, instructions);
    expect(second.proposal).toBe(first.proposal);
    expect(second.changes).toEqual([]);
    expect(second.rationale).toContain("Nothing to change");
  });

  it.each(CASES)("keeps every template tag as often as it appears: $name", ({ content, instructions }) => {
    const { proposal } = refineWithRules(content, instructions);
    const text = (t: string) => ({ type: "TEXT" as const, text: t });
    expect(extractVariables(text(proposal))).toEqual(extractVariables(text(content)));
    expect(parseIncludes(text(proposal))).toEqual(parseIncludes(text(content)));
    const count = (t: string) => (t.match(/\{\{[^{}]*\}\}/g) ?? []).sort();
    expect(count(proposal)).toEqual(count(content));
  });

  it("never touches fenced code or the inside of a tag", () => {
    const fence = "```\n\tsome  \n\n\n\n  stuff\t\n```";
    const content = `Do this:\n\n${fence}\n\nThen {{\tspaced\t}} and {{> a/b@3}}.`;
    const { proposal, flags } = refineWithRules(content, "");
    expect(proposal).toContain(fence);
    expect(proposal).toContain("{{\tspaced\t}}");
    expect(flags).toEqual([]); // "some" and "stuff" are inside the fence
  });

  it.each(["", "   \n\t\n"])("proposes a skeleton for an empty prompt (%j)", (content) => {
    const out = refineWithRules(content, "");
    expect(out.proposal).toBe(
      `## Role\n${P.role}\n\n## Task\n${P.task}\n\n## Constraints\n${P.constraints}\n\n## Output format\n${P.output}`,
    );
    expect(out.critique).toContain("The prompt is empty");
    expect(out.changes.slice(-4)).toEqual(
      ["Role", "Task", "Constraints", "Output format"].map((s) => `Added a "## ${s}" section with a placeholder for you to fill in.`),
    );
    expect(refineWithRules(out.proposal, "").changes).toEqual([]);
  });

  it("closes a code block left open at the end, so added sections stay outside it", () => {
    const out = refineWithRules("You are a bot.\n```\nlet x = 1;", "");
    expect(out.proposal).toBe(`## Role\nYou are a bot.\n\n## Task\n\`\`\`\nlet x = 1;\n\`\`\`\n\n## Constraints\n${P.constraints}\n\n## Output format\n${P.output}`);
    expect(out.changes[0]).toBe("Closed the code block that was left open at the end of the prompt.");
  });

  it("does not extend a section given as a label, but says what to add", () => {
    const out = refineWithRules("Role: You are a judge.\nTask: Score {{essay}}.\nConstraints: be fair.\nOutput format: a number.", "be brief");
    expect(out.changes).toEqual([]);
    expect(out.critique).toContain('Your instructions ask for "Keep the answer concise."; add it to the Constraints label yourself');
  });

  it("stays linear on long lines of spaces", () => {
    const started = performance.now();
    refineWithRules(`## Role a.${" ".repeat(200_000)}b`, "");
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it("says so when the instructions map to no rule", () => {
    expect(refineWithRules("Write a poem.", "make it better for kids").rationale).toContain("did not map to any rule");
  });
});

describe("deriveFromInstructions", () => {
  it.each([
    ["", [], []],
    ["Answer in JSON please", [], ["Answer in JSON."]],
    ["don't use json", [], []],
    ["short, friendly, no more than 2 sentences", ["Keep the answer concise.", "Use at most 2 sentences.", "Use a friendly tone."], []],
    ["50 words max, informal", ["Use at most 50 words.", "Use a casual tone."], []],
    ["at most 1 paragraphs, in markdown", ["Use at most 1 paragraph."], ["Format the answer in Markdown."]],
  ])("%j", (instructions, constraints, output) => {
    expect(deriveFromInstructions(instructions)).toEqual({ constraints, output });
  });
});

describe("findVagueWording", () => {
  it("reports each phrase with its line, ignoring fences and tags", () => {
    const text = "Try to be very clear.\nList various THINGS as needed.\n```\nmaybe\n```\n{{some}} is fine; Something is not vague.";
    expect(findVagueWording(text).map((f) => [f.phrase, f.line])).toEqual([
      ["Try to", 1],
      ["very", 1],
      ["various", 2],
      ["THINGS", 2],
      ["as needed", 2],
    ]);
  });
});

describe("BuiltinRefinementProvider", () => {
  const request = { content: "Write a poem about {{topic}}.", instructions: "", examples: [] };

  it("reports itself as rules, not a model", async () => {
    const provider = new BuiltinRefinementProvider();
    expect([provider.name, provider.kind, provider.defaultModel]).toEqual(["builtin", "builtin", "rules-v1"]);
    const deltas: string[] = [];
    const result = await provider.refine(request, { signal: new AbortController().signal, onDelta: (d) => deltas.push(d) });
    const rules = refineWithRules(request.content, request.instructions);
    expect(result).toMatchObject({ proposal: rules.proposal, changes: rules.changes, model: "rules-v1", usage: null, attempts: 1, parsedAs: "rules" });
    expect(deltas).toEqual([rules.proposal]);
    expect(JSON.parse(result.raw)).toMatchObject({ proposal: rules.proposal, flags: [] });
    expect(result.timings.totalMs).toBeGreaterThanOrEqual(0);
  });

  it("mentions examples it cannot use", async () => {
    const result = await new BuiltinRefinementProvider().refine(
      { ...request, examples: [{ input: "cats", idealOutput: "..." }] },
      { signal: new AbortController().signal },
    );
    expect(result.rationale).toContain("the example was not taken into account");
  });

  it("throws a cancelled ProviderError when the signal is already aborted", async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await new BuiltinRefinementProvider().refine(request, { signal: controller.signal }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect((error as ProviderError).details.cancelled).toBe(true);
  });
});
