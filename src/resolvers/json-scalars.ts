// The JSON scalars of graphql-scalars, bounded in depth. Deeper values are refused while the
// request is coerced, as the client's error: resolvers and storage hand such values to
// JSON.stringify, whose recursion overflows the stack a few thousand levels down.
import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from "graphql";
import { GraphQLJSON as UnboundedJSON, GraphQLJSONObject as UnboundedJSONObject } from "graphql-scalars";

/** Far deeper than any real config, variables or export document needs. */
export const MAX_JSON_DEPTH = 100;

/**
 * Whether a value nests objects or arrays deeper than MAX_JSON_DEPTH (the value itself is level 1).
 * Recursive, but it stops one level past the limit, and allocates nothing: a bulk job's 10,000
 * items each pass through here while the request is coerced, in one turn of the event loop.
 */
function nestsTooDeep(value: unknown, depth = 1): boolean {
  if (value === null || typeof value !== "object") return false;
  if (depth > MAX_JSON_DEPTH) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (nestsTooDeep(item, depth + 1)) return true;
    return false;
  }
  for (const key in value) {
    if (Object.hasOwn(value, key) && nestsTooDeep((value as Record<string, unknown>)[key], depth + 1)) return true;
  }
  return false;
}

function literalDepth(root: ValueNode): number {
  let deepest = 0;
  const stack: [ValueNode, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node.kind !== Kind.OBJECT && node.kind !== Kind.LIST) continue;
    deepest = Math.max(deepest, depth);
    if (deepest > MAX_JSON_DEPTH) return deepest;
    for (const child of node.kind === Kind.OBJECT ? node.fields.map((field) => field.value) : node.values) stack.push([child, depth + 1]);
  }
  return deepest;
}

function bounded(scalar: GraphQLScalarType): GraphQLScalarType {
  const config = scalar.toConfig();
  const tooDeep = () => new GraphQLError(`${scalar.name} values may nest at most ${MAX_JSON_DEPTH} levels`);
  return new GraphQLScalarType({
    ...config,
    parseValue(value) {
      if (nestsTooDeep(value)) throw tooDeep();
      return config.parseValue(value);
    },
    parseLiteral(node, variables) {
      if (literalDepth(node) > MAX_JSON_DEPTH) throw tooDeep();
      return config.parseLiteral(node, variables);
    },
  });
}

export const GraphQLJSON = bounded(UnboundedJSON);
export const GraphQLJSONObject = bounded(UnboundedJSONObject);
