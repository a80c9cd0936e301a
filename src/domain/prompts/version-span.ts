// Pages of versions as ranges of numbers (Prompt.versions, Prompt.latestVersion): shared by the
// Prisma and the prepared-statement reads of PromptRepository.versionRanges.
import type { PromptType } from "./prompt.logic.js";
import type { PromptVersionRecord } from "./prompt.repository.js";

/**
 * Versions `from` to `to` (inclusive) of a prompt of type `type`. Numbers run 1, 2, 3... without
 * gaps: a version is only ever added as the latest plus one, an import is refused unless its
 * versions are numbered so, and versions are never deleted one by one.
 */
export type VersionSpan = { promptId: string; from: number; to: number; type: PromptType };

/** Spans as the JSON array the span statements read with json_each: [promptId, from, to, type]. */
export const spansJson = (spans: readonly VersionSpan[]) => JSON.stringify(spans.map((s) => [s.promptId, s.from, s.to, s.type]));

/** Rows tagged with their span's index, as one list per span, newest first. */
export function bySpan<R extends { span: number | bigint; number: number | bigint }>(
  count: number,
  rows: readonly R[],
  map: (row: R) => PromptVersionRecord,
): PromptVersionRecord[][] {
  const lists = Array.from({ length: count }, (): PromptVersionRecord[] => []);
  for (const row of rows) lists[Number(row.span)]?.push(map(row));
  for (const list of lists) list.sort((a, b) => b.number - a.number);
  return lists;
}

/**
 * The fewest spans that cover `ranges`: the ranges of one prompt that overlap or touch become one
 * span (a prompt's latest version and its first page of versions are read together). spanOf[i]
 * is the index of the span that holds ranges[i].
 */
export function mergeSpans(ranges: readonly VersionSpan[]): { spans: VersionSpan[]; spanOf: number[] } {
  // Usually one or two ranges per prompt: group them (a Map keeps the first-seen order), then
  // merge each prompt's few ranges in order of `from`.
  const byPrompt = new Map<string, number[]>();
  ranges.forEach((range, i) => {
    const indexes = byPrompt.get(range.promptId);
    if (indexes) indexes.push(i);
    else byPrompt.set(range.promptId, [i]);
  });
  const spans: VersionSpan[] = [];
  const spanOf = new Array<number>(ranges.length);
  for (const indexes of byPrompt.values()) {
    if (indexes.length > 1) indexes.sort((a, b) => ranges[a]!.from - ranges[b]!.from);
    let last: VersionSpan | undefined;
    for (const i of indexes) {
      const range = ranges[i]!;
      if (last && range.from <= last.to + 1) last.to = Math.max(last.to, range.to);
      else spans.push((last = { ...range }));
      spanOf[i] = spans.length - 1;
    }
  }
  return { spans, spanOf };
}
