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

/**
 * Walks the include graph from the new targets, level by level (one statement per level);
 * reaching `promptId` again means the new includes would close a cycle.
 */
export async function assertNoCycle(tx: Tx, promptId: string, targets: string[]): Promise<void> {
  const parent = new Map<string, string>(targets.map((t) => [t, promptId]));
  let frontier = [...new Set(targets)];
  while (frontier.length > 0) {
    if (frontier.includes(promptId)) {
      const path = [promptId];
      for (let node = parent.get(promptId); node !== undefined && node !== promptId; node = parent.get(node)) path.unshift(node);
      path.unshift(promptId);
      const names = await tx.prompt.findMany({ where: { id: { in: path } }, select: { id: true, name: true } });
      const nameOf = new Map(names.map((n) => [n.id, n.name]));
      throw new IncludeCycleError(path.map((id) => nameOf.get(id) ?? id));
    }
    const edges = await tx.promptInclude.findMany({ where: { promptId: { in: frontier } } });
    const next: string[] = [];
    for (const edge of edges) {
      if (parent.has(edge.includedId) && edge.includedId !== promptId) continue;
      parent.set(edge.includedId, edge.promptId);
      next.push(edge.includedId);
    }
    frontier = next;
  }
}
