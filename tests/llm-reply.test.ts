import { describe, expect, it } from "vitest";
import { buildRefinementMessages, parseRefinementReply, type RefinementMessage } from "../src/domain/refinement/llm-reply.logic.js";
import { LlmRefinementProvider, type Completion, type CompletionClient, type CompletionOptions } from "../src/domain/refinement/llm.provider.js";
import { ProviderError, type RefineRequest } from "../src/domain/refinement/refiner.js";

const NO_PROMPT = 'expected a JSON object with a "prompt" field or a <prompt> section';

describe("parseRefinementReply: accepted replies", () => {
  it.each<[string, string, { proposal: string; critique: string; rationale: string; changes: string[]; parsedAs: string }]>([
    [
      "a JSON object alone",
      '{"critique": "Vague.", "rationale": "Clearer.", "changes": ["Added a role."], "prompt": "You are {{role}}."}',
      { proposal: "You are {{role}}.", critique: "Vague.", rationale: "Clearer.", changes: ["Added a role."], parsedAs: "json" },
    ],
    [
      "JSON in a ```json fence, other key casing, fenced prompt value",
      'Sure!\n```json\n{"Critique": "c", "Improved_Prompt": "```\\nHi {{x}}\\n```", "Rationale": "r"}\n```\nHope this helps.',
      { proposal: "Hi {{x}}", critique: "c", rationale: "r", changes: [], parsedAs: "json" },
    ],
    [
      "JSON among prose, camelCase synonym, braces inside strings, list critique",
      'Here you go: {"rewrittenPrompt": "Reply with {\\"a\\": 1} for {{name}}", "feedback": ["x", "y"], "changes": "- one\\n- two"} Bye.',
      { proposal: 'Reply with {"a": 1} for {{name}}', critique: "x\ny", rationale: "", changes: ["one", "two"], parsedAs: "json" },
    ],
    [
      "revised_prompt key",
      '{"revised_prompt": "Do {{> shared/x@production}} now"}',
      { proposal: "Do {{> shared/x@production}} now", critique: "", rationale: "", changes: [], parsedAs: "json" },
    ],
    [
      "tagged sections",
      "<critique>Too vague</critique>\n<rationale>Names the role.</rationale>\n<prompt>\nYou are {{role}}.\n</prompt>",
      { proposal: "You are {{role}}.", critique: "Too vague", rationale: "Names the role.", changes: [], parsedAs: "sections" },
    ],
    [
      "markdown headings with the prompt in a fence (its own headings are kept)",
      "## Critique\nVague.\n\n## Rewritten prompt\n```markdown\n## Role\nYou are X.\n\n## Task\nDo {{y}}.\n```\n\n## Changes\n- one\n- two",
      { proposal: "## Role\nYou are X.\n\n## Task\nDo {{y}}.", critique: "Vague.", rationale: "", changes: ["one", "two"], parsedAs: "sections" },
    ],
    [
      "bold titles, text on the title line",
      "**Critique:** too long\n\n**Improved prompt:**\nDo {{x}} now.\n\n**Rationale:** shorter",
      { proposal: "Do {{x}} now.", critique: "too long", rationale: "shorter", changes: [], parsedAs: "sections" },
    ],
    [
      "prose with exactly one code block",
      "The prompt is vague. Try this:\n```\nSummarise {{text}}.\n```\nThat is clearer.",
      { proposal: "Summarise {{text}}.", critique: "The prompt is vague. Try this:\nThat is clearer.", rationale: "", changes: [], parsedAs: "prose" },
    ],
    [
      "prose whose single block contains a JSON example and an include",
      'Better:\n```\n{{> header}}\nAnswer as {"ok": true}.\n```',
      { proposal: '{{> header}}\nAnswer as {"ok": true}.', critique: "Better:", rationale: "", changes: [], parsedAs: "prose" },
    ],
  ])("%s", (_name, raw, expected) => {
    expect(parseRefinementReply(raw)).toEqual({ ok: true, ...expected });
  });
});

describe("parseRefinementReply: refused replies say why", () => {
  it.each([
    ["empty", "  \n", `the reply is empty; ${NO_PROMPT}`],
    ["no prompt anywhere", "I cannot help with that.", `the reply has no rewritten prompt: ${NO_PROMPT}`],
    ["JSON without a prompt field", '{"critique": "c"}', `the JSON object has no "prompt" field (its keys: critique); ${NO_PROMPT}`],
    ["JSON with an empty prompt", '{"prompt": "  "}', `the JSON "prompt" field is empty; ${NO_PROMPT}`],
    ["JSON with a non-string prompt", '{"prompt": ["a"]}', `the JSON "prompt" field is not a string; ${NO_PROMPT}`],
    ["an empty prompt section", "## Improved prompt\n\n## Critique\nok", "the reply's prompt section is empty"],
    ["two code blocks", "Either\n```\nA\n```\nor\n```\nB\n```", `the reply has 2 code blocks and no marked prompt, so the rewritten prompt is ambiguous; ${NO_PROMPT}`],
  ])("%s", (_name, raw, reason) => {
    expect(parseRefinementReply(raw)).toEqual({ ok: false, reason });
  });

  it("stays linear on long runs of spaces", () => {
    const started = performance.now();
    parseRefinementReply(`## Critique a${" ".repeat(200_000)}b\n**Prompt${" ".repeat(200_000)}`);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it.each([
    ["a trailing comma", '{"prompt": "x",}'],
    ["smart quotes", "{“prompt”: “x”}"],
    ["a broken object in a json fence", '```json\n{"prompt": "x",}\n```'],
  ])("invalid JSON (%s) is not repaired", (_name, raw) => {
    const parsed = parseRefinementReply(raw);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toMatch(/^the reply contains a JSON object that is not valid JSON \(.+\); expected a JSON object/);
  });
});

const request: RefineRequest = {
  content: "Greet {{name}} and add {{> shared/footer@production}}. Greet {{name}} again.",
  instructions: "Make it friendlier.",
  examples: [{ input: "name=Ada", idealOutput: "Hi Ada! Lovely to see you." }],
};

describe("buildRefinementMessages", () => {
  const [system, user] = buildRefinementMessages(request) as [RefinementMessage, RefinementMessage];

  it("asks for a JSON answer and for every tag to be preserved", () => {
    expect(system.role).toBe("system");
    expect(system.content).toContain("prompt engineer");
    expect(system.content).toContain("Preserve every template tag exactly as written");
    expect(system.content).toContain('{"critique": string, "rationale": string, "changes": string[], "prompt": string}');
    expect(system.content).toContain("no code fence");
  });

  it("carries the prompt, the instructions and the examples", () => {
    expect(user.role).toBe("user");
    expect(user.content).toContain(`<prompt>\n${request.content}\n</prompt>`);
    expect(user.content).toContain("Template tags that must appear unchanged in the rewritten prompt: {{name}}, {{> shared/footer@production}}");
    expect(user.content).toContain("<instructions>\nMake it friendlier.\n</instructions>");
    expect(user.content).toContain('<example number="1">\n<input>\nname=Ada\n</input>\n<ideal_output>\nHi Ada! Lovely to see you.\n</ideal_output>\n</example>');
  });

  it("says when there are no instructions or examples", () => {
    const [, bare] = buildRefinementMessages({ content: "Hi", instructions: " ", examples: [] });
    expect(bare!.content).toContain("Instructions: none given.");
    expect(bare!.content).not.toContain("<example");
    expect(bare!.content).not.toContain("Template tags");
  });
});

/** An in-memory client that records its calls and answers with a fixed reply (or error). */
function fakeClient(reply: Partial<Completion> | Error) {
  const calls: { messages: RefinementMessage[]; options: CompletionOptions }[] = [];
  const client: CompletionClient = {
    async complete(messages, options) {
      calls.push({ messages, options });
      if (reply instanceof Error) throw reply;
      options.onDelta?.(reply.content ?? "");
      return { content: "", model: "gpt-test-0613", usage: null, firstTokenMs: 12, totalMs: 34, attempts: 1, finishReason: "stop", ...reply };
    },
  };
  return { client, calls };
}
const hooks = () => ({ signal: new AbortController().signal });

describe("LlmRefinementProvider", () => {
  const json = '{"critique": "c", "rationale": "r", "changes": ["x"], "prompt": "Hello {{name}}"}';

  it("sends the messages with the model and temperature, and returns the parsed reply", async () => {
    const usage = { promptTokens: 10, completionTokens: 5, totalTokens: 15 };
    const { client, calls } = fakeClient({ content: json, usage, attempts: 2 });
    const provider = new LlmRefinementProvider({ name: "openai", defaultModel: "gpt-test", client });
    expect([provider.name, provider.kind, provider.defaultModel]).toEqual(["openai", "openai-compatible", "gpt-test"]);
    const deltas: string[] = [];
    const result = await provider.refine({ ...request, temperature: 0.2 }, { ...hooks(), onDelta: (d) => deltas.push(d) });
    expect(calls[0]!.messages).toEqual(buildRefinementMessages(request));
    expect(calls[0]!.options).toMatchObject({ model: "gpt-test", temperature: 0.2 });
    expect(deltas).toEqual([json]);
    expect(result).toEqual({
      proposal: "Hello {{name}}",
      critique: "c",
      rationale: "r",
      changes: ["x"],
      raw: json,
      model: "gpt-test-0613",
      usage,
      timings: { firstTokenMs: 12, totalMs: 34 },
      parsedAs: "json",
      attempts: 2,
    });
  });

  it("uses the requested model instead of the default", async () => {
    const { client, calls } = fakeClient({ content: json });
    await new LlmRefinementProvider({ name: "o", defaultModel: "a", client }).refine({ ...request, model: "b" }, hooks());
    expect(calls[0]!.options.model).toBe("b");
    expect(calls[0]!.options).not.toHaveProperty("temperature");
  });

  it("throws a ProviderError with the raw reply when the reply cannot be used", async () => {
    const { client } = fakeClient({ content: "Sorry, no.", finishReason: "length", attempts: 1 });
    const error = await new LlmRefinementProvider({ name: "o", defaultModel: "m", client }).refine(request, hooks()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect((error as ProviderError).message).toBe(
      `the model's reply could not be used: the reply has no rewritten prompt: ${NO_PROMPT} (the reply was cut off at the model's length limit)`,
    );
    expect((error as ProviderError).details.raw).toBe("Sorry, no.");
  });

  it("passes ProviderErrors through and wraps anything else", async () => {
    const upstream = new ProviderError("upstream said 503", { status: 503 });
    const passed = await new LlmRefinementProvider({ name: "o", defaultModel: "m", client: fakeClient(upstream).client }).refine(request, hooks()).catch((e: unknown) => e);
    expect(passed).toBe(upstream);
    const wrapped = await new LlmRefinementProvider({ name: "o", defaultModel: "m", client: fakeClient(new TypeError("fetch failed")).client })
      .refine(request, hooks())
      .catch((e: unknown) => e);
    expect(wrapped).toBeInstanceOf(ProviderError);
    expect((wrapped as ProviderError).message).toBe("the model could not be reached: fetch failed");
  });

  it("does not call the client when already cancelled", async () => {
    const { client, calls } = fakeClient({ content: json });
    const controller = new AbortController();
    controller.abort();
    const error = await new LlmRefinementProvider({ name: "o", defaultModel: "m", client }).refine(request, { signal: controller.signal }).catch((e: unknown) => e);
    expect((error as ProviderError).details.cancelled).toBe(true);
    expect(calls).toEqual([]);
  });
});
