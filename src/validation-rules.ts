// Validation rules beyond GraphQL's own, applied the same way over HTTP (Apollo) and over
// graphql-ws (onSubscribe), so neither door is laxer than the other.
import { GraphQLError, Kind, type ASTVisitor, type FragmentDefinitionNode, type SelectionSetNode, type ValidationContext, type ValidationRule } from "graphql";

export interface QueryLimits {
  /** Deepest field nesting an operation may have (introspection fields are not counted). */
  maxDepth: number;
}

/** Rejects operations nested deeper than `maxDepth`, following fragment spreads. */
export function depthLimit(maxDepth: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const definition of context.getDocument().definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
    }
    // A fragment's depth does not depend on where it is spread, so each is computed once: without
    // the cache, fragments that spread each other twice per level take exponential time.
    const fragmentDepth = new Map<string, number>();
    const depthOf = (set: SelectionSetNode | undefined, visiting: Set<string>): number => {
      if (!set) return 0;
      let deepest = 0;
      for (const selection of set.selections) {
        if (selection.kind === Kind.FIELD) {
          if (selection.name.value.startsWith("__")) continue;
          deepest = Math.max(deepest, selection.selectionSet ? 1 + depthOf(selection.selectionSet, visiting) : 1);
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          deepest = Math.max(deepest, depthOf(selection.selectionSet, visiting));
        } else {
          const name = selection.name.value;
          const fragment = fragments.get(name);
          // A fragment cycle is reported by GraphQL's own rules; stop here.
          if (!fragment || visiting.has(name)) continue;
          let depth = fragmentDepth.get(name);
          if (depth === undefined) {
            visiting.add(name);
            depth = depthOf(fragment.selectionSet, visiting);
            visiting.delete(name);
            fragmentDepth.set(name, depth);
          }
          deepest = Math.max(deepest, depth);
        }
      }
      return deepest;
    };
    return {
      OperationDefinition(node) {
        const depth = depthOf(node.selectionSet, new Set());
        if (depth > maxDepth) {
          context.reportError(
            new GraphQLError(`operation ${node.name?.value ?? "(anonymous)"} is ${depth} levels deep; the limit is ${maxDepth}`, {
              nodes: [node],
              extensions: { code: "GRAPHQL_VALIDATION_FAILED", limit: maxDepth, depth },
            }),
          );
        }
      },
    };
  };
}

export function validationRules(limits: QueryLimits): ValidationRule[] {
  return [depthLimit(limits.maxDepth)];
}
