import { describe, expect, it } from "vitest";
import {
  type DiffHunk,
  type DiffSide,
  type DiffStats,
  diffPromptContent,
} from "../src/domain/prompts/prompt-diff.logic.js";
import type { ChatMessage, JsonObject } from "../src/domain/prompts/prompt.logic.js";

const text = (value: string, config: JsonObject = {}): DiffSide => ({ content: { type: "TEXT", text: value }, config });
const chat = (messages: ChatMessage[], config: JsonObject = {}): DiffSide => ({ content: { type: "CHAT", messages }, config });

/**
 * Hunks in a compact, hand-writable form: the unified header, then one string per line:
 * marker (" ", "-", "+"), old line number, new line number ("." when absent), text.
 */
function render(hunks: DiffHunk[]): string[] {
  return hunks.flatMap((hunk) => [
    `@@ -${hunk.oldStart},${hunk.oldLines} +${hunk.newStart},${hunk.newLines} @@`,
    ...hunk.lines.map((line) => {
      const mark = line.kind === "ADDED" ? "+" : line.kind === "REMOVED" ? "-" : " ";
      return `${mark}${line.oldLineNumber ?? "."} ${line.newLineNumber ?? "."} ${line.text}`;
    }),
  ]);
}

const zeroStats: DiffStats = {
  linesAdded: 0,
  linesRemoved: 0,
  linesUnchanged: 0,
  messagesAdded: 0,
  messagesRemoved: 0,
  messagesChanged: 0,
  configChanges: 0,
};

describe("diffPromptContent: text", () => {
  it("gives the exact structure for one changed line, with word segments", () => {
    const diff = diffPromptContent(text("Hello\nThe quick brown fox\nBye"), text("Hello\nThe slow brown fox jumps\nBye"));
    expect(diff).toEqual({
      fromType: "TEXT",
      toType: "TEXT",
      typeChanged: false,
      identical: false,
      hunks: [
        {
          oldStart: 1,
          oldLines: 3,
          newStart: 1,
          newLines: 3,
          lines: [
            { kind: "UNCHANGED", text: "Hello", oldLineNumber: 1, newLineNumber: 1, segments: null },
            {
              kind: "REMOVED",
              text: "The quick brown fox",
              oldLineNumber: 2,
              newLineNumber: null,
              segments: [
                { kind: "UNCHANGED", text: "The " },
                { kind: "REMOVED", text: "quick" },
                { kind: "UNCHANGED", text: " brown fox" },
              ],
            },
            {
              kind: "ADDED",
              text: "The slow brown fox jumps",
              oldLineNumber: null,
              newLineNumber: 2,
              segments: [
                { kind: "UNCHANGED", text: "The " },
                { kind: "ADDED", text: "slow" },
                { kind: "UNCHANGED", text: " brown fox" },
                { kind: "ADDED", text: " jumps" },
              ],
            },
            { kind: "UNCHANGED", text: "Bye", oldLineNumber: 3, newLineNumber: 3, segments: null },
          ],
        },
      ],
      messages: [],
      config: [],
      variablesAdded: [],
      variablesRemoved: [],
      stats: { ...zeroStats, linesAdded: 1, linesRemoved: 1, linesUnchanged: 2 },
    });
  });

  it.each<{ name: string; from: string; to: string; context?: number; hunks: string[]; stats: [number, number, number] }>([
    { name: "identical text", from: "a\nb", to: "a\nb", hunks: [], stats: [0, 0, 2] },
    { name: "both empty", from: "", to: "", hunks: [], stats: [0, 0, 0] },
    {
      name: "one changed line with context 1",
      from: "one\ntwo\nthree\nfour\nfive",
      to: "one\ntwo\nTHREE\nfour\nfive",
      context: 1,
      hunks: ["@@ -2,3 +2,3 @@", " 2 2 two", "-3 . three", "+. 3 THREE", " 4 4 four"],
      stats: [1, 1, 4],
    },
    {
      name: "from empty: unified numbering puts the empty side at 0",
      from: "",
      to: "x\ny",
      hunks: ["@@ -0,0 +1,2 @@", "+. 1 x", "+. 2 y"],
      stats: [2, 0, 0],
    },
    {
      name: "to empty",
      from: "x\ny",
      to: "",
      hunks: ["@@ -1,2 +0,0 @@", "-1 . x", "-2 . y"],
      stats: [0, 2, 0],
    },
    {
      name: "a trailing newline is an added empty last line",
      from: "a\nb",
      to: "a\nb\n",
      hunks: ["@@ -1,2 +1,3 @@", " 1 1 a", " 2 2 b", "+. 3 "],
      stats: [1, 0, 2],
    },
    {
      name: "a dropped trailing newline is a removed empty last line",
      from: "a\n",
      to: "a",
      hunks: ["@@ -1,2 +1,1 @@", " 1 1 a", "-2 . "],
      stats: [0, 1, 1],
    },
    { name: "CRLF equals LF", from: "a\r\nb\r\n", to: "a\nb\n", hunks: [], stats: [0, 0, 3] },
    {
      name: "CRLF and a real change",
      from: "a\r\nb",
      to: "a\nc",
      hunks: ["@@ -1,2 +1,2 @@", " 1 1 a", "-2 . b", "+. 2 c"],
      stats: [1, 1, 1],
    },
    {
      name: "completely rewritten",
      from: "a\nb",
      to: "c\nd\ne",
      hunks: ["@@ -1,2 +1,3 @@", "-1 . a", "-2 . b", "+. 1 c", "+. 2 d", "+. 3 e"],
      stats: [3, 2, 0],
    },
    {
      name: "two hunks when changes are more than 2 * context apart",
      from: "a\nb\nc\nd\ne\nf\ng\nh\ni",
      to: "a\nB\nc\nd\ne\nf\ng\nh\ni\nj",
      hunks: [
        "@@ -1,5 +1,5 @@", " 1 1 a", "-2 . b", "+. 2 B", " 3 3 c", " 4 4 d", " 5 5 e",
        "@@ -7,3 +7,4 @@", " 7 7 g", " 8 8 h", " 9 9 i", "+. 10 j",
      ],
      stats: [2, 1, 8],
    },
    {
      name: "one hunk when they are at most 2 * context apart",
      from: "a\nb\nc\nd\ne\nf\ng",
      to: "a\nB\nc\nd\ne\nf\nG",
      context: 2,
      hunks: ["@@ -1,7 +1,7 @@", " 1 1 a", "-2 . b", "+. 2 B", " 3 3 c", " 4 4 d", " 5 5 e", " 6 6 f", "-7 . g", "+. 7 G"],
      stats: [2, 2, 5],
    },
    {
      name: "two hunks one line further apart",
      from: "a\nb\nc\nd\ne\nf\ng\nh",
      to: "a\nB\nc\nd\ne\nf\ng\nH",
      context: 2,
      hunks: ["@@ -1,4 +1,4 @@", " 1 1 a", "-2 . b", "+. 2 B", " 3 3 c", " 4 4 d", "@@ -6,3 +6,3 @@", " 6 6 f", " 7 7 g", "-8 . h", "+. 8 H"],
      stats: [2, 2, 6],
    },
    {
      name: "an insertion with context 0",
      from: "a\nb\nc",
      to: "a\nX\nb\nc",
      context: 0,
      hunks: ["@@ -1,0 +2,1 @@", "+. 2 X"],
      stats: [1, 0, 3],
    },
    {
      name: "context Infinity shows everything",
      from: "a\nb\nc\nd\ne\nf\ng\nh\ni",
      to: "a\nb\nc\nd\nE\nf\ng\nh\ni",
      context: Infinity,
      hunks: ["@@ -1,9 +1,9 @@", " 1 1 a", " 2 2 b", " 3 3 c", " 4 4 d", "-5 . e", "+. 5 E", " 6 6 f", " 7 7 g", " 8 8 h", " 9 9 i"],
      stats: [1, 1, 8],
    },
  ])("$name", ({ from, to, context, hunks, stats }) => {
    const diff = diffPromptContent(text(from), text(to), context === undefined ? undefined : { context });
    expect(render(diff.hunks)).toEqual(hunks);
    expect([diff.stats.linesAdded, diff.stats.linesRemoved, diff.stats.linesUnchanged]).toEqual(stats);
    expect(diff.identical).toBe(from === to);
  });

  it("pairs removed and added lines positionally within a block; the surplus gets no segments", () => {
    const [hunk] = diffPromptContent(text("x\nold one\nold two\ny"), text("x\nnew one\ny")).hunks;
    expect(hunk!.lines.map((line) => [line.kind, line.text, line.segments])).toEqual([
      ["UNCHANGED", "x", null],
      ["REMOVED", "old one", [{ kind: "REMOVED", text: "old" }, { kind: "UNCHANGED", text: " one" }]],
      ["REMOVED", "old two", null],
      ["ADDED", "new one", [{ kind: "ADDED", text: "new" }, { kind: "UNCHANGED", text: " one" }]],
      ["UNCHANGED", "y", null],
    ]);
  });

  it("segments unicode text: accented words whole, CJK and emoji per character", () => {
    const [hunk] = diffPromptContent(text("Grüße, 世界 🌍"), text("Grüsse, 世界 🌏")).hunks;
    expect(hunk!.lines.map((line) => line.segments)).toEqual([
      [{ kind: "REMOVED", text: "Grüße" }, { kind: "UNCHANGED", text: ", 世界 " }, { kind: "REMOVED", text: "🌍" }],
      [{ kind: "ADDED", text: "Grüsse" }, { kind: "UNCHANGED", text: ", 世界 " }, { kind: "ADDED", text: "🌏" }],
    ]);
  });

  it("keeps a lone carriage return as part of its line", () => {
    expect(render(diffPromptContent(text("a\rb"), text("a\nb")).hunks)).toEqual([
      "@@ -1,1 +1,2 @@", "-1 . a\rb", "+. 1 a", "+. 2 b",
    ]);
  });

  it("clamps a negative context to 0", () => {
    expect(render(diffPromptContent(text("a\nb\nc"), text("a\nB\nc"), { context: -5 }).hunks)).toEqual([
      "@@ -2,1 +2,1 @@", "-2 . b", "+. 2 B",
    ]);
  });

  it("reports variables added and removed in order of appearance", () => {
    const diff = diffPromptContent(text("Hi {{name}}, {{ place }} {{x}}"), text("{{x}} {{greeting}} {{name}} {{time}} {{greeting}}"));
    expect(diff.variablesAdded).toEqual(["greeting", "time"]);
    expect(diff.variablesRemoved).toEqual(["place"]);
  });
});

describe("diffPromptContent: chat", () => {
  const system: ChatMessage = { role: "system", content: "Be brief." };
  const user: ChatMessage = { role: "user", content: "Hello {{name}}" };
  const assistant: ChatMessage = { role: "assistant", content: "Hi!\nHow can I help?" };

  it("aligns a message inserted in the middle", () => {
    const inserted: ChatMessage = { role: "user", content: "Context: {{doc}}" };
    const diff = diffPromptContent(chat([system, user, assistant]), chat([system, inserted, user, assistant]));
    expect(diff.hunks).toEqual([]);
    expect(diff.messages).toEqual([
      { kind: "UNCHANGED", oldIndex: 0, newIndex: 0, oldRole: "system", newRole: "system", oldContent: "Be brief.", newContent: "Be brief.", hunks: [] },
      {
        kind: "ADDED",
        oldIndex: null,
        newIndex: 1,
        oldRole: null,
        newRole: "user",
        oldContent: null,
        newContent: "Context: {{doc}}",
        hunks: [
          {
            oldStart: 0,
            oldLines: 0,
            newStart: 1,
            newLines: 1,
            lines: [{ kind: "ADDED", text: "Context: {{doc}}", oldLineNumber: null, newLineNumber: 1, segments: null }],
          },
        ],
      },
      { kind: "UNCHANGED", oldIndex: 1, newIndex: 2, oldRole: "user", newRole: "user", oldContent: user.content, newContent: user.content, hunks: [] },
      {
        kind: "UNCHANGED",
        oldIndex: 2,
        newIndex: 3,
        oldRole: "assistant",
        newRole: "assistant",
        oldContent: assistant.content,
        newContent: assistant.content,
        hunks: [],
      },
    ]);
    expect(diff.variablesAdded).toEqual(["doc"]);
    expect(diff.stats).toEqual({ ...zeroStats, linesAdded: 1, linesUnchanged: 4, messagesAdded: 1 });
  });

  it("reports an edited message as CHANGED with line hunks and word segments", () => {
    const edited: ChatMessage = { role: "assistant", content: "Hi!\nHow may I help?" };
    const diff = diffPromptContent(chat([system, user, assistant]), chat([system, user, edited]));
    expect(diff.messages.map((m) => [m.kind, m.oldIndex, m.newIndex])).toEqual([
      ["UNCHANGED", 0, 0],
      ["UNCHANGED", 1, 1],
      ["CHANGED", 2, 2],
    ]);
    const changed = diff.messages[2]!;
    expect([changed.oldRole, changed.newRole, changed.oldContent, changed.newContent]).toEqual([
      "assistant",
      "assistant",
      "Hi!\nHow can I help?",
      "Hi!\nHow may I help?",
    ]);
    expect(render(changed.hunks)).toEqual(["@@ -1,2 +1,2 @@", " 1 1 Hi!", "-2 . How can I help?", "+. 2 How may I help?"]);
    expect(changed.hunks[0]!.lines[2]!.segments).toEqual([
      { kind: "UNCHANGED", text: "How " },
      { kind: "ADDED", text: "may" },
      { kind: "UNCHANGED", text: " I help?" },
    ]);
    expect(diff.stats).toEqual({ ...zeroStats, linesAdded: 1, linesRemoved: 1, linesUnchanged: 3, messagesChanged: 1 });
  });

  it("reports a role change as CHANGED without content hunks", () => {
    const diff = diffPromptContent(chat([system, user]), chat([{ role: "developer", content: "Be brief." }, user]));
    expect(diff.messages[0]).toEqual({
      kind: "CHANGED",
      oldIndex: 0,
      newIndex: 0,
      oldRole: "system",
      newRole: "developer",
      oldContent: "Be brief.",
      newContent: "Be brief.",
      hunks: [],
    });
    expect(diff.messages[1]!.kind).toBe("UNCHANGED");
    expect(diff.stats).toEqual({ ...zeroStats, linesUnchanged: 2, messagesChanged: 1 });
    expect(diff.identical).toBe(false);
  });

  it("pairs a block of removed and added messages positionally", () => {
    const diff = diffPromptContent(
      chat([system, user, assistant]),
      chat([system, { role: "user", content: "Hello there" }]),
    );
    expect(diff.messages.map((m) => [m.kind, m.oldIndex, m.newIndex, m.oldRole, m.newRole])).toEqual([
      ["UNCHANGED", 0, 0, "system", "system"],
      ["CHANGED", 1, 1, "user", "user"],
      ["REMOVED", 2, null, "assistant", null],
    ]);
    expect(render(diff.messages[2]!.hunks)).toEqual(["@@ -1,2 +0,0 @@", "-1 . Hi!", "-2 . How can I help?"]);
    expect(diff.variablesRemoved).toEqual(["name"]);
    expect(diff.stats).toEqual({
      ...zeroStats,
      linesAdded: 1,
      linesRemoved: 3,
      linesUnchanged: 1,
      messagesChanged: 1,
      messagesRemoved: 1,
    });
  });

  it("treats a CRLF-only difference as unchanged but not identical", () => {
    const diff = diffPromptContent(chat([assistant]), chat([{ role: "assistant", content: "Hi!\r\nHow can I help?" }]));
    expect(diff.messages.map((m) => m.kind)).toEqual(["UNCHANGED"]);
    expect(diff.identical).toBe(false);
  });

  it("is identical for equal messages and equal config in another key order", () => {
    const diff = diffPromptContent(chat([system, user], { a: 1, b: { c: 2, d: 3 } }), chat([system, user], { b: { d: 3, c: 2 }, a: 1 }));
    expect(diff.identical).toBe(true);
    expect(diff.messages.map((m) => m.kind)).toEqual(["UNCHANGED", "UNCHANGED"]);
    expect(diff.config).toEqual([]);
    expect(diff.stats).toEqual({ ...zeroStats, linesUnchanged: 2 });
  });
});

describe("diffPromptContent: type change", () => {
  it("compares the text with the messages rendered as role: content lines", () => {
    const diff = diffPromptContent(
      text("system: Be brief.\nuser: Hi {{name}}"),
      chat([
        { role: "system", content: "Be brief." },
        { role: "user", content: "Hello {{name}}" },
      ]),
    );
    expect(diff.typeChanged).toBe(true);
    expect([diff.fromType, diff.toType]).toEqual(["TEXT", "CHAT"]);
    expect(diff.identical).toBe(false);
    expect(diff.messages).toEqual([]);
    expect(render(diff.hunks)).toEqual(["@@ -1,2 +1,2 @@", " 1 1 system: Be brief.", "-2 . user: Hi {{name}}", "+. 2 user: Hello {{name}}"]);
    expect(diff.stats).toEqual({ ...zeroStats, linesAdded: 1, linesRemoved: 1, linesUnchanged: 1 });
  });

  it("works from CHAT to TEXT too", () => {
    const diff = diffPromptContent(chat([{ role: "user", content: "a\nb" }]), text("a\nb"));
    expect([diff.typeChanged, diff.fromType, diff.toType]).toEqual([true, "CHAT", "TEXT"]);
    expect(render(diff.hunks)).toEqual(["@@ -1,2 +1,2 @@", "-1 . user: a", "+. 1 a", " 2 2 b"]);
  });
});

describe("diffPromptContent: config", () => {
  it("lists key-level changes with dotted paths, sorted by path", () => {
    const from = {
      model: "gpt-4o",
      sampling: { temperature: 0.2, top_p: 1 },
      stop: ["\n"],
      tools: { search: true },
      legacy: true,
      examples: [{ a: 1, b: 2 }],
      nothing: null,
    };
    const to = {
      model: "gpt-4o-mini",
      sampling: { temperature: 0.7, top_p: 1, seed: 7 },
      stop: ["\n", "END"],
      tools: "none",
      response_format: { type: "json" },
      examples: [{ b: 2, a: 1 }],
      nothing: 0,
      toString: "x",
    };
    const diff = diffPromptContent(text("same", from), text("same", to));
    expect(diff.config).toEqual([
      { kind: "REMOVED", path: "legacy", oldValue: true, newValue: null },
      { kind: "CHANGED", path: "model", oldValue: "gpt-4o", newValue: "gpt-4o-mini" },
      { kind: "CHANGED", path: "nothing", oldValue: null, newValue: 0 },
      { kind: "ADDED", path: "response_format", oldValue: null, newValue: { type: "json" } },
      { kind: "ADDED", path: "sampling.seed", oldValue: null, newValue: 7 },
      { kind: "CHANGED", path: "sampling.temperature", oldValue: 0.2, newValue: 0.7 },
      { kind: "CHANGED", path: "stop", oldValue: ["\n"], newValue: ["\n", "END"] },
      { kind: "ADDED", path: "toString", oldValue: null, newValue: "x" },
      { kind: "CHANGED", path: "tools", oldValue: { search: true }, newValue: "none" },
    ]);
    expect(diff.stats).toEqual({ ...zeroStats, linesUnchanged: 1, configChanges: 9 });
    expect(diff.hunks).toEqual([]);
    expect(diff.identical).toBe(false);
  });

  it("recurses several levels deep and compares arrays as whole values", () => {
    const diff = diffPromptContent(
      text("t", { a: { b: { c: 1, d: [1, 2] } } }),
      text("t", { a: { b: { c: 2, d: [2, 1] } } }),
    );
    expect(diff.config).toEqual([
      { kind: "CHANGED", path: "a.b.c", oldValue: 1, newValue: 2 },
      { kind: "CHANGED", path: "a.b.d", oldValue: [1, 2], newValue: [2, 1] },
    ]);
  });

  it("output is JSON-safe: a JSON round trip changes nothing", () => {
    const diff = diffPromptContent(
      chat([{ role: "user", content: "x" }], { a: 1 }),
      chat([{ role: "tool", content: "y\n" }], { b: { c: null } }),
    );
    expect(JSON.parse(JSON.stringify(diff))).toEqual(diff);
  });
});

describe("diff cost is bounded", () => {
  it("gives up word detail on a huge, wholly different line instead of stalling", () => {
    const words = (seed: string) => Array.from({ length: 20_000 }, (_, i) => `${seed}${i}`).join(" ");
    const diff = diffPromptContent({ content: { type: "TEXT", text: words("a") }, config: {} }, { content: { type: "TEXT", text: words("b") }, config: {} });
    const lines = diff.hunks.flatMap((h) => h.lines);
    expect(lines.map((l) => l.kind)).toEqual(["REMOVED", "ADDED"]);
    // Without the time budget this word diff takes minutes; with it the line keeps no segments.
    expect(lines.map((l) => l.segments)).toEqual([null, null]);
    expect(diff.stats).toMatchObject({ linesAdded: 1, linesRemoved: 1 });
  });
});
