// Per-operation limits checked after validation, once the operation and its variables are known:
// the same function serves HTTP (an Apollo plugin's didResolveOperation) and graphql-ws
// (onSubscribe), so neither door is laxer than the other.
import { createRequire } from "node:module";
import {
  GraphQLError,
  Kind,
  getNamedType,
  getNullableType,
  isInterfaceType,
  isIntrospectionType,
  isListType,
  isObjectType,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionNode,
  type SelectionSetNode,
  type ArgumentNode,
  type DirectiveNode,
  type ValueNode,
  visit,
} from "graphql";
import type { ComplexityEstimator } from "graphql-query-complexity";

// The library's ESM build imports graphql's .mjs files: a second copy of graphql's classes beside
// the CommonJS one that this app, type-graphql and graphql-ws load, and getComplexity then rejects
// our schema as coming "from another realm". Its CommonJS build requires plain "graphql", our copy.
const require = createRequire(import.meta.url);
const { getComplexity, fieldExtensionsEstimator, simpleEstimator } =
  require("graphql-query-complexity/cjs") as typeof import("graphql-query-complexity");

export interface OperationLimits {
  /** Highest estimated cost (see operationComplexity). */
  maxComplexity: number;
  /** Most aliased fields, counting a fragment's aliases once per spread. */
  maxAliases: number;
  /** Most top-level fields (distinct response keys; `__typename` is free). */
  maxRootFields: number;
}

/** Arguments that bound how many items a field returns. */
const PAGE_ARGUMENTS = ["first", "last", "limit"];

/**
 * Size assumed when a page argument is omitted or null. The resolvers default to 20 in code (their
 * descriptions say so) rather than in the schema; a schema `defaultValue` would be used instead.
 */
export const DEFAULT_PAGE_SIZE = 20;

/**
 * Multiplier for a list that takes no page argument. Such lists here hang off one entity (a prompt's
 * labels, tags and relationships, a version's messages, a diff's hunks, a test's variants), so a
 * handful to a few dozen items is typical: 10 charges a typical size, not a worst case. A list that
 * can really grow long should take a page argument or declare its own complexity.
 */
export const UNBOUNDED_LIST_FACTOR = 10;

/**
 * Operations that expand, fragments inlined, to more selections than this are refused without being
 * costed: graphql-query-complexity walks a fragment again at every spread, so a document whose
 * fragments spread each other twice per level would otherwise take exponential time. GraphiQL's full
 * introspection query expands to 230-240 selections; the largest operation in tests/operations to 66.
 */
export const MAX_COSTED_SELECTIONS = 10_000;

const CODE = "QUERY_LIMIT_EXCEEDED";
const format = (n: number) => n.toLocaleString("en-US");

/** Checks one operation of a parsed, validated document. Returns errors (empty when within limits); never throws. */
export function checkOperationLimits(args: {
  schema: GraphQLSchema;
  document: DocumentNode;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
  limits: OperationLimits;
}): GraphQLError[] {
  const { schema, document, variables, limits } = args;
  // When no operation can be chosen, execution reports that itself, with GraphQL's own wording.
  const operation = selectOperation(document, args.operationName);
  if (!operation) return [];
  const fragments = fragmentsOf(document);
  const name = `operation ${operation.name?.value ?? "(anonymous)"}`;
  const exceeded = (limit: "complexity" | "aliases" | "rootFields", max: number, actual: number, message: string) =>
    new GraphQLError(message, { nodes: [operation], extensions: { code: CODE, limit, max, actual } });
  const errors: GraphQLError[] = [];

  const rootFields = countRootFields(operation, fragments);
  if (rootFields > limits.maxRootFields) {
    errors.push(
      exceeded("rootFields", limits.maxRootFields, rootFields,
        `${name} selects ${format(rootFields)} top-level fields; the limit is ${format(limits.maxRootFields)}. Split it into several operations.`),
    );
  }

  const aliases = sumOverSelections(operation, fragments, (s) => (s.kind === Kind.FIELD && s.alias ? 1 : 0));
  if (aliases > limits.maxAliases) {
    errors.push(
      exceeded("aliases", limits.maxAliases, aliases,
        `${name} uses ${format(aliases)} aliases; the limit is ${format(limits.maxAliases)}.`),
    );
  }

  const size = sumOverSelections(operation, fragments, () => 1);
  if (size > MAX_COSTED_SELECTIONS) {
    errors.push(
      exceeded("complexity", limits.maxComplexity, size,
        `${name} expands to ${format(size)} selections once its fragments are inlined; operations over ` +
          `${format(MAX_COSTED_SELECTIONS)} are not costed (the limit on cost is ${format(limits.maxComplexity)}).`),
    );
    return errors;
  }
  let cost: number | undefined;
  try {
    cost = costOf(schema, operation, fragments, variables);
  } catch {
    // Variables that cannot be coerced: execution answers with GraphQL's own message for them.
  }
  if (cost !== undefined && cost > limits.maxComplexity) {
    errors.push(
      exceeded("complexity", limits.maxComplexity, cost,
        `${name} costs ${format(cost)}; the limit is ${format(limits.maxComplexity)}. Ask for smaller pages (first) or fewer nested lists.`),
    );
  }
  return errors;
}

/**
 * Cost of an operation (exported for tests and for /metrics or logging): 1 per field, plus a field's
 * declared `complexity` in place of that 1; a field with a page argument multiplies its selection by the
 * page size, a list without one by UNBOUNDED_LIST_FACTOR; `__typename` is free and introspection is
 * counted without multipliers. Throws a GraphQLError when the operation cannot be chosen, is too big to
 * cost (MAX_COSTED_SELECTIONS) or its variables cannot be coerced.
 */
export function operationComplexity(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName?: string | null,
  variables?: Record<string, unknown> | null,
): number {
  const operation = selectOperation(document, operationName);
  if (!operation) throw new GraphQLError(`no operation ${operationName ?? "(anonymous)"} can be chosen in this document`);
  const fragments = fragmentsOf(document);
  const size = sumOverSelections(operation, fragments, () => 1);
  if (size > MAX_COSTED_SELECTIONS) {
    throw new GraphQLError(`the operation expands to ${format(size)} selections; operations over ${format(MAX_COSTED_SELECTIONS)} are not costed`);
  }
  return costOf(schema, operation, fragments, variables);
}

function costOf(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  fragments: Map<string, FragmentDefinitionNode>,
  variables: Record<string, unknown> | null | undefined,
): number {
  // The library sums every operation when given no name and fails on an anonymous one when given
  // a name, so it gets a document holding just the chosen operation and the fragments it reaches
  // (the library walks every definition it is given: a shared file of fragments costs time).
  const reachable = reachableFragments(operation, fragments);
  // Without a JSON scalar to stand in for them, every variable is coerced (slower, same answer).
  const { costed, values } = schema.getType("JSON") ? withCostVariablesOnly(operation, reachable, variables ?? {}) : { costed: operation, values: variables ?? {} };
  const query: DocumentNode = { kind: Kind.DOCUMENT, definitions: [costed, ...reachable] };
  return getComplexity({
    schema,
    query,
    variables: values,
    // Above what sumOverSelections admitted, so the library never stops half-way on its own.
    maxQueryNodes: MAX_COSTED_SELECTIONS + 1,
    estimators: [pageEstimator(schema), fieldExtensionsEstimator(), simpleEstimator({ defaultComplexity: 1 })],
  });
}

/**
 * The library coerces every variable of the operation before costing it; for a batch of 500 usage
 * events that doubled the cost of the request. Only variables given to page arguments or to
 * directives (@skip, @include) can change the cost: the others are declared as JSON and passed as 0,
 * a value GraphQL hands on as it is (a variable's value is not coerced again where it is used).
 */
function withCostVariablesOnly(
  operation: OperationDefinitionNode,
  fragments: readonly FragmentDefinitionNode[],
  variables: Record<string, unknown>,
): { costed: OperationDefinitionNode; values: Record<string, unknown> } {
  const definitions = operation.variableDefinitions ?? [];
  if (definitions.length === 0) return { costed: operation, values: variables };
  const relevant = costRelevantVariables(operation, fragments);
  if (definitions.every((d) => relevant.has(d.variable.name.value))) return { costed: operation, values: variables };
  const values: Record<string, unknown> = {};
  const costed: OperationDefinitionNode = {
    ...operation,
    variableDefinitions: definitions.map((definition) => {
      const name = definition.variable.name.value;
      if (relevant.has(name)) {
        if (Object.hasOwn(variables, name)) values[name] = variables[name];
        return definition;
      }
      values[name] = 0;
      return { ...definition, type: { kind: Kind.NAMED_TYPE, name: { kind: Kind.NAME, value: "JSON" } }, defaultValue: undefined };
    }),
  };
  return { costed, values };
}

/** The variables given to page arguments or to directives: the only ones whose values can change the cost. */
function costRelevantVariables(operation: OperationDefinitionNode, fragments: readonly FragmentDefinitionNode[]): Set<string> {
  const relevant = new Set<string>();
  const visitor = {
    Argument(node: ArgumentNode) {
      if (node.value.kind === Kind.VARIABLE && PAGE_ARGUMENTS.includes(node.name.value)) relevant.add(node.value.name.value);
    },
    Directive(node: DirectiveNode) {
      for (const argument of node.arguments ?? []) collectVariables(argument.value, relevant);
    },
  };
  visit(operation.selectionSet, visitor);
  for (const fragment of fragments) visit(fragment.selectionSet, visitor);
  return relevant;
}

/**
 * The names of the variables checkOperationLimits' answer depends on, for remembering answers:
 * with the schema's JSON scalar the others are costed as stand-ins (see withCostVariablesOnly),
 * so their values change nothing; without it, all of them. Null when no operation can be chosen.
 */
export function limitVariables(schema: GraphQLSchema, document: DocumentNode, operationName?: string | null): string[] | null {
  const operation = selectOperation(document, operationName);
  if (!operation) return null;
  const all = (operation.variableDefinitions ?? []).map((d) => d.variable.name.value);
  if (!schema.getType("JSON")) return all;
  const relevant = costRelevantVariables(operation, reachableFragments(operation, fragmentsOf(document)));
  return all.filter((name) => relevant.has(name));
}

function collectVariables(value: ValueNode, into: Set<string>): void {
  if (value.kind === Kind.VARIABLE) into.add(value.name.value);
  else if (value.kind === Kind.LIST) value.values.forEach((v) => collectVariables(v, into));
  else if (value.kind === Kind.OBJECT) value.fields.forEach((f) => collectVariables(f.value, into));
}

/**
 * Runs before fieldExtensionsEstimator, not after: that one answers `complexity + children` for a
 * numeric complexity, so a paged field that declares a higher cost would lose its page multiplier and
 * cost less than an undeclared one. Here a numeric `complexity` replaces the field's own cost of 1;
 * a function `complexity` is left to fieldExtensionsEstimator, which calls it.
 */
function pageEstimator(schema: GraphQLSchema): ComplexityEstimator {
  const pageTypes = pagedTypes(schema);
  return ({ field, args, childComplexity, type }) => {
    // Answered from the type name alone; clients such as Apollo add it to every selection.
    if (field.name === "__typename") return 0;
    // GraphiQL's introspection query nests lists of types, fields, arguments and type references:
    // multiplied like data lists it would cost millions. It is answered from memory, so it counts
    // as one per field, which keeps the full query at a few hundred.
    if (field.name.startsWith("__") || isIntrospectionType(type)) return 1 + childComplexity;
    const declared: unknown = field.extensions?.complexity;
    if (typeof declared === "function") return undefined;
    const own = typeof declared === "number" ? declared : 1;
    const size = pageSize(field, args);
    if (size !== undefined) return own + childComplexity * size;
    if (isListType(getNullableType(field.type))) {
      // A connection's edges and nodes are the page its field was already charged for.
      return own + childComplexity * (pageTypes.has(type.name) ? 1 : UNBOUNDED_LIST_FACTOR);
    }
    return undefined;
  };
}

/** Items a field asks for through its page arguments (coerced, defaults applied); undefined without any. */
function pageSize(field: GraphQLField<unknown, unknown>, args: Record<string, unknown>): number | undefined {
  const pageArgs = field.args.filter((a) => PAGE_ARGUMENTS.includes(a.name) && getNamedType(a.type).name === "Int");
  if (pageArgs.length === 0) return undefined;
  const given = pageArgs.map((a) => args[a.name]).filter((v): v is number => typeof v === "number");
  // first: 0 still runs the field (for totalCount), so it costs at least one item's worth.
  return Math.max(1, given.length > 0 ? Math.max(...given) : DEFAULT_PAGE_SIZE);
}

const pagedTypesCache = new WeakMap<GraphQLSchema, Set<string>>();

/** Types returned, as one object, by a field with a page argument: Relay connections. */
function pagedTypes(schema: GraphQLSchema): Set<string> {
  let names = pagedTypesCache.get(schema);
  if (names) return names;
  names = new Set();
  for (const type of Object.values(schema.getTypeMap())) {
    if (!(isObjectType(type) || isInterfaceType(type)) || isIntrospectionType(type)) continue;
    for (const field of Object.values(type.getFields())) {
      const paged = field.args.some((a) => PAGE_ARGUMENTS.includes(a.name));
      if (paged && !isListType(getNullableType(field.type))) names.add(getNamedType(field.type).name);
    }
  }
  pagedTypesCache.set(schema, names);
  return names;
}

function selectOperation(document: DocumentNode, operationName: string | null | undefined): OperationDefinitionNode | undefined {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  // Same rule as graphql's execute: a name picks by name, no name needs exactly one operation.
  if (operationName != null) return operations.find((o) => o.name?.value === operationName);
  return operations.length === 1 ? operations[0] : undefined;
}

function fragmentsOf(document: DocumentNode): Map<string, FragmentDefinitionNode> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  return fragments;
}

/**
 * Sums `weigh` over every selection of the operation as if its fragments were inlined (a fragment
 * counts once per spread). A fragment's sum does not depend on where it is spread, so each is computed
 * once: without that, fragments spreading each other twice per level take exponential time, as in
 * src/validation-rules.ts. Sums saturate, since such documents can exceed a double's exact range.
 */
function sumOverSelections(
  operation: OperationDefinitionNode,
  fragments: Map<string, FragmentDefinitionNode>,
  weigh: (selection: SelectionNode) => number,
): number {
  const memo = new Map<string, number>();
  const visiting = new Set<string>();
  const add = (a: number, b: number) => Math.min(Number.MAX_SAFE_INTEGER, a + b);
  const sumOf = (set: SelectionSetNode | undefined): number => {
    if (!set) return 0;
    let total = 0;
    for (const selection of set.selections) {
      total = add(total, weigh(selection));
      if (selection.kind !== Kind.FRAGMENT_SPREAD) {
        total = add(total, sumOf(selection.selectionSet));
        continue;
      }
      const name = selection.name.value;
      const fragment = fragments.get(name);
      // Unknown fragments and cycles are GraphQL's own validation errors.
      if (!fragment || visiting.has(name)) continue;
      let sum = memo.get(name);
      if (sum === undefined) {
        visiting.add(name);
        sum = sumOf(fragment.selectionSet);
        visiting.delete(name);
        memo.set(name, sum);
      }
      total = add(total, sum);
    }
    return total;
  };
  return sumOf(operation.selectionSet);
}

function reachableFragments(operation: OperationDefinitionNode, fragments: Map<string, FragmentDefinitionNode>): FragmentDefinitionNode[] {
  const reached = new Map<string, FragmentDefinitionNode>();
  const walk = (set: SelectionSetNode | undefined) => {
    for (const selection of set?.selections ?? []) {
      if (selection.kind !== Kind.FRAGMENT_SPREAD) {
        walk(selection.selectionSet);
        continue;
      }
      const fragment = fragments.get(selection.name.value);
      if (!fragment || reached.has(fragment.name.value)) continue;
      reached.set(fragment.name.value, fragment);
      walk(fragment.selectionSet);
    }
  };
  walk(operation.selectionSet);
  return [...reached.values()];
}

/**
 * Distinct response keys at the top level, the way execution collects them: same-named fields merge
 * into one resolver call and a fragment spread twice is collected once.
 */
function countRootFields(operation: OperationDefinitionNode, fragments: Map<string, FragmentDefinitionNode>): number {
  const keys = new Set<string>();
  const visited = new Set<string>();
  const collect = (set: SelectionSetNode) => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value !== "__typename") keys.add(selection.alias?.value ?? selection.name.value);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        collect(selection.selectionSet);
      } else {
        const fragment = fragments.get(selection.name.value);
        if (!fragment || visited.has(selection.name.value)) continue;
        visited.add(selection.name.value);
        collect(fragment.selectionSet);
      }
    }
  };
  collect(operation.selectionSet);
  return keys.size;
}
