// The include graph inside a write transaction: prompts whose latest version includes others.
import type { Tx } from "../../db/tx-repository.js";

/** An edge of the include graph: this prompt's latest version includes `includedId`. */
export interface IncludeEdge {
  includedId: string;
  selector: string | null;
}

/** Thrown inside a write transaction when new includes would close a cycle; nothing is written. */
export class IncludeCycleError extends Error {
  constructor(readonly path: string[]) {
    super(`include cycle: ${path.join(" -> ")}`);
  }
}

/** What the walk reads: the include edges from a set of prompts (one statement per level). */
type EdgesFrom = { promptId: string; includedId: string }[];

/**
 * Walks the include graph from the new targets, level by level: it yields each level's prompt
 * ids and is given back their edges, so the same walk runs over Prisma (async) and over
 * prepared statements (sync). Returns the cycle's ids when it reaches `promptId` again.
 */
function* walk(promptId: string, targets: string[]): Generator<string[], string[] | null, EdgesFrom> {
  const parent = new Map<string, string>(targets.map((t) => [t, promptId]));
  let frontier = [...new Set(targets)];
  while (frontier.length > 0) {
    if (frontier.includes(promptId)) {
      const path = [promptId];
      for (let node = parent.get(promptId); node !== undefined && node !== promptId; node = parent.get(node)) path.unshift(node);
      path.unshift(promptId);
      return path;
    }
    const edges = yield frontier;
    const next: string[] = [];
    for (const edge of edges) {
      if (parent.has(edge.includedId) && edge.includedId !== promptId) continue;
      parent.set(edge.includedId, edge.promptId);
      next.push(edge.includedId);
    }
    frontier = next;
  }
  return null;
}

function cycleError(path: string[], names: { id: string; name: string }[]): IncludeCycleError {
  const nameOf = new Map(names.map((n) => [n.id, n.name]));
  return new IncludeCycleError(path.map((id) => nameOf.get(id) ?? id));
}

/** Throws IncludeCycleError when `promptId` including `targets` would close a cycle. */
export async function assertNoCycle(tx: Tx, promptId: string, targets: string[]): Promise<void> {
  const steps = walk(promptId, targets);
  let step = steps.next();
  while (!step.done) step = steps.next(await tx.promptInclude.findMany({ where: { promptId: { in: step.value } } }));
  const path = step.value;
  if (path) throw cycleError(path, await tx.prompt.findMany({ where: { id: { in: path } }, select: { id: true, name: true } }));
}

/** assertNoCycle over synchronous reads (a SyncWriter transaction). */
export function assertNoCycleSync(
  read: { edgesFrom(ids: string[]): EdgesFrom; names(ids: string[]): { id: string; name: string }[] },
  promptId: string,
  targets: string[],
): void {
  const steps = walk(promptId, targets);
  let step = steps.next();
  while (!step.done) step = steps.next(read.edgesFrom(step.value));
  if (step.value) throw cycleError(step.value, read.names(step.value));
}
