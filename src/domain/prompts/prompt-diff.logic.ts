// Compares two prompt versions for review: line hunks with word-level detail, aligned chat
// messages, config changes by path, variable changes and counts. The diff algorithms are
// jsdiff's (the `diff` package); this module only shapes their output into plain, JSON-safe
// data (null for absent values, no unions of shapes) that maps 1:1 onto GraphQL object types.
//
// Text model, applied everywhere a string is diffed:
// - "\r\n" counts as "\n", so a line-ending-only change shows no hunks (but `identical`,
//   which compares the stored values exactly, is false). A lone "\r" stays part of its line.
// - Lines are the text split on "\n", as an editor shows them: "" has no lines, and a trailing
//   newline leaves an empty last line, so adding or dropping it is an ADDED/REMOVED empty line
//   instead of a hidden "no newline at end of file" flag.
import { type Change, diffArrays, diffWordsWithSpace, structuredPatch } from "diff";
import {
  canonicalJson,
  extractVariables,
  type ChatMessage,
  type ChatRole,
  type JsonObject,
  type PromptContent,
  type PromptType,
} from "./prompt.logic.js";

export const DEFAULT_DIFF_CONTEXT = 3;

/**
 * jsdiff's Myers algorithm is O(N*D): two long, very different texts could hold the event
 * loop for minutes. Past these budgets (ms) a diff degrades instead: lines or messages become
 * one removal plus one addition, a changed line loses its word detail.
 */
const LINE_DIFF_MS = 500;
const WORD_DIFF_MS = 50;

/** The whole old text removed and the whole new text added, as one unified-diff hunk. */
function wholeReplacement(oldCount: number, newCount: number) {
  return {
    hunks: [
      {
        oldStart: 1,
        oldLines: oldCount,
        newStart: 1,
        newLines: newCount,
        lines: [...Array.from({ length: oldCount }, () => "-"), ...Array.from({ length: newCount }, () => "+")],
      },
    ],
  };
}

export type LineChangeKind = "ADDED" | "REMOVED" | "UNCHANGED";
export type MessageChangeKind = "ADDED" | "REMOVED" | "CHANGED" | "UNCHANGED";
export type ConfigChangeKind = "ADDED" | "REMOVED" | "CHANGED";

export interface DiffSide {
  content: PromptContent;
  config: JsonObject;
}

/** A piece of a changed line; the texts of a line's segments concatenate to the line's text. */
export interface DiffSegment {
  kind: LineChangeKind;
  text: string;
}

export interface DiffLine {
  kind: LineChangeKind;
  text: string;
  /** 1-based; null on an ADDED line. */
  oldLineNumber: number | null;
  /** 1-based; null on a REMOVED line. */
  newLineNumber: number | null;
  /**
   * Word-level detail, only on a REMOVED line paired with an ADDED line (see `pairLines`):
   * the REMOVED line gets UNCHANGED and REMOVED segments, the ADDED line UNCHANGED and ADDED ones.
   */
  segments: DiffSegment[] | null;
}

/** Unified-diff numbering: a side with 0 lines has its start on the line before the hunk (0 at the top). */
export interface DiffHunk {
  oldStart: number;
  oldLines: number;
  newStart: number;
  newLines: number;
  lines: DiffLine[];
}

export interface MessageChange {
  kind: MessageChangeKind;
  oldIndex: number | null;
  newIndex: number | null;
  oldRole: ChatRole | null;
  newRole: ChatRole | null;
  oldContent: string | null;
  newContent: string | null;
  /** Content hunks: all ADDED for an added message, all REMOVED for a removed one, none when the content is the same. */
  hunks: DiffHunk[];
}

export interface ConfigChange {
  kind: ConfigChangeKind;
  /** Keys joined with "." (a key containing "." is not escaped). */
  path: string;
  /** JSON values; null when absent on that side (the kind tells absent from a JSON null). */
  oldValue: unknown;
  newValue: unknown;
}

export interface DiffStats {
  linesAdded: number;
  linesRemoved: number;
  linesUnchanged: number;
  messagesAdded: number;
  messagesRemoved: number;
  messagesChanged: number;
  configChanges: number;
}

export interface PromptDiff {
  fromType: PromptType;
  toType: PromptType;
  /** TEXT vs CHAT: `hunks` then compares the text with the messages rendered as `role: content` lines. */
  typeChanged: boolean;
  /** Content and config exactly equal (line endings included). */
  identical: boolean;
  /** Line hunks of the text; empty when both sides are CHAT (see `messages`). */
  hunks: DiffHunk[];
  /** Every message of both sides, aligned; empty unless both sides are CHAT. */
  messages: MessageChange[];
  /** Sorted by path. */
  config: ConfigChange[];
  variablesAdded: string[];
  variablesRemoved: string[];
  stats: DiffStats;
}

export function diffPromptContent(from: DiffSide, to: DiffSide, options?: { context?: number }): PromptDiff {
  // NaN and negative contexts fall back to 0; Infinity (one hunk with everything) is allowed.
  const context = Math.max(0, Math.floor(options?.context ?? DEFAULT_DIFF_CONTEXT)) || 0;
  const stats: DiffStats = {
    linesAdded: 0, linesRemoved: 0, linesUnchanged: 0,
    messagesAdded: 0, messagesRemoved: 0, messagesChanged: 0, configChanges: 0,
  };
  const a = from.content;
  const b = to.content;
  let hunks: DiffHunk[] = [];
  let messages: MessageChange[] = [];
  if (a.type === "CHAT" && b.type === "CHAT") messages = diffMessages(a.messages, b.messages, context, stats);
  else hunks = diffText(asText(a), asText(b), context, stats);

  const config = diffConfig(from.config, to.config, "").sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  stats.configChanges = config.length;
  const oldVariables = extractVariables(a);
  const newVariables = extractVariables(b);
  return {
    fromType: a.type,
    toType: b.type,
    typeChanged: a.type !== b.type,
    identical: config.length === 0 && canonicalJson(a) === canonicalJson(b),
    hunks,
    messages,
    config,
    variablesAdded: newVariables.filter((name) => !oldVariables.includes(name)),
    variablesRemoved: oldVariables.filter((name) => !newVariables.includes(name)),
    stats,
  };
}

function asText(content: PromptContent): string {
  return content.type === "TEXT" ? content.text : content.messages.map((m) => `${m.role}: ${m.content}`).join("\n");
}

function toLines(text: string): string[] {
  return text === "" ? [] : text.replace(/\r\n/g, "\n").split("\n");
}

const MARKERS: Partial<Record<string, LineChangeKind>> = { " ": "UNCHANGED", "-": "REMOVED", "+": "ADDED" };

function diffText(oldText: string, newText: string, context: number, stats: DiffStats): DiffHunk[] {
  const oldLines = toLines(oldText);
  const newLines = toLines(newText);
  // Terminating every line keeps jsdiff's end-of-file newline handling out of the picture:
  // our model already made a trailing newline an explicit empty line.
  const terminated = (lines: string[]) => lines.map((line) => `${line}\n`).join("");
  let removed = 0;
  const patch =
    structuredPatch("", "", terminated(oldLines), terminated(newLines), undefined, undefined, { context, timeout: LINE_DIFF_MS }) ??
    wholeReplacement(oldLines.length, newLines.length);
  const hunks = patch.hunks.map((hunk): DiffHunk => {
    let oldNumber = hunk.oldStart;
    let newNumber = hunk.newStart;
    const lines: DiffLine[] = [];
    // Only the marker is read from the patch; the text comes from our own line arrays.
    for (const marked of hunk.lines) {
      const kind = MARKERS[marked[0]!];
      if (kind === undefined) continue;
      const oldLineNumber = kind === "ADDED" ? null : oldNumber++;
      const newLineNumber = kind === "REMOVED" ? null : newNumber++;
      const text = newLineNumber === null ? oldLines[oldLineNumber! - 1]! : newLines[newLineNumber - 1]!;
      lines.push({ kind, text, oldLineNumber, newLineNumber, segments: null });
      if (kind === "ADDED") stats.linesAdded++;
      if (kind === "REMOVED") removed++;
    }
    pairLines(lines);
    return {
      oldStart: hunk.oldLines === 0 ? hunk.oldStart - 1 : hunk.oldStart,
      oldLines: hunk.oldLines,
      newStart: hunk.newLines === 0 ? hunk.newStart - 1 : hunk.newStart,
      newLines: hunk.newLines,
      lines,
    };
  });
  stats.linesRemoved += removed;
  stats.linesUnchanged += oldLines.length - removed;
  return hunks;
}

/**
 * Within each contiguous block of REMOVED and ADDED lines, the i-th REMOVED line is paired
 * with the i-th ADDED line (positionally; the surplus of the longer side stays unpaired) and
 * both get word segments from jsdiff's `diffWordsWithSpace`. Its tokenizer treats accented
 * Latin letters as word characters and every other non-ASCII character (CJK, emoji) as a
 * token of its own, so such text is compared character by character.
 */
function pairLines(lines: DiffLine[]): void {
  let start = 0;
  while (start < lines.length) {
    let end = start;
    while (end < lines.length && lines[end]!.kind !== "UNCHANGED") end++;
    const block = lines.slice(start, end);
    const removed = block.filter((line) => line.kind === "REMOVED");
    const added = block.filter((line) => line.kind === "ADDED");
    for (let i = 0; i < Math.min(removed.length, added.length); i++) {
      // Past the time budget a changed line keeps no word detail rather than stall the server.
      const changes = diffWordsWithSpace(removed[i]!.text, added[i]!.text, { timeout: WORD_DIFF_MS });
      if (!changes) continue;
      removed[i]!.segments = segments(changes.filter((change) => !change.added));
      added[i]!.segments = segments(changes.filter((change) => !change.removed));
    }
    start = end + 1;
  }
}

function segments(changes: Change[]): DiffSegment[] {
  return changes.map((change) => ({
    kind: change.added ? "ADDED" : change.removed ? "REMOVED" : "UNCHANGED",
    text: change.value,
  }));
}

/**
 * Messages are aligned by jsdiff's `diffArrays` (equal = same role and same content, line
 * endings normalized). Within each contiguous block of removed and added messages, the i-th
 * removed is paired with the i-th added as CHANGED; the surplus stays REMOVED or ADDED.
 */
function diffMessages(from: ChatMessage[], to: ChatMessage[], context: number, stats: DiffStats): MessageChange[] {
  const normalized = (text: string) => text.replace(/\r\n/g, "\n");
  const same = (x: ChatMessage, y: ChatMessage) => x.role === y.role && normalized(x.content) === normalized(y.content);
  const out: MessageChange[] = [];
  const emit = (kind: MessageChangeKind, oldIndex: number | null, newIndex: number | null) => {
    const before = oldIndex === null ? null : from[oldIndex]!;
    const after = newIndex === null ? null : to[newIndex]!;
    const hunks = diffText(before?.content ?? "", after?.content ?? "", context, stats);
    if (kind === "ADDED") stats.messagesAdded++;
    if (kind === "REMOVED") stats.messagesRemoved++;
    if (kind === "CHANGED") stats.messagesChanged++;
    out.push({
      kind, oldIndex, newIndex,
      oldRole: before?.role ?? null, newRole: after?.role ?? null,
      oldContent: before?.content ?? null, newContent: after?.content ?? null,
      hunks,
    });
  };
  let oldIndex = 0;
  let newIndex = 0;
  let removed: number[] = [];
  let added: number[] = [];
  const flush = () => {
    const pairs = Math.min(removed.length, added.length);
    for (let i = 0; i < pairs; i++) emit("CHANGED", removed[i]!, added[i]!);
    for (const index of removed.slice(pairs)) emit("REMOVED", index, null);
    for (const index of added.slice(pairs)) emit("ADDED", null, index);
    removed = [];
    added = [];
  };
  const aligned = diffArrays(from, to, { comparator: same, timeout: LINE_DIFF_MS }) ?? [
    { value: from, count: from.length, removed: true, added: false },
    { value: to, count: to.length, removed: false, added: true },
  ];
  for (const change of aligned) {
    for (let i = 0; i < change.count; i++) {
      if (change.removed) removed.push(oldIndex++);
      else if (change.added) added.push(newIndex++);
      else {
        flush();
        emit("UNCHANGED", oldIndex++, newIndex++);
      }
    }
  }
  flush();
  return out;
}

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Recurses only where both sides hold an object: an added or removed subtree is one change. */
function diffConfig(from: JsonObject, to: JsonObject, prefix: string): ConfigChange[] {
  const out: ConfigChange[] = [];
  for (const key of new Set([...Object.keys(from), ...Object.keys(to)])) {
    const path = prefix + key;
    // hasOwn keeps inherited names ("toString") out; `undefined` would vanish from JSON, so it is absent too.
    const oldValue = Object.hasOwn(from, key) ? from[key] : undefined;
    const newValue = Object.hasOwn(to, key) ? to[key] : undefined;
    if (oldValue === undefined) out.push({ kind: "ADDED", path, oldValue: null, newValue });
    else if (newValue === undefined) out.push({ kind: "REMOVED", path, oldValue, newValue: null });
    else if (isObject(oldValue) && isObject(newValue)) out.push(...diffConfig(oldValue, newValue, `${path}.`));
    else if (canonicalJson(oldValue) !== canonicalJson(newValue)) out.push({ kind: "CHANGED", path, oldValue, newValue });
  }
  return out;
}
