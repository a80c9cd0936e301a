import { readFileSync, readdirSync } from "node:fs";
import {
  GraphQLError,
  Kind,
  buildSchema,
  getIntrospectionQuery,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  parse,
  typeFromAST,
  validate,
  type DocumentNode,
  type GraphQLInputType,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from "graphql";
import { Arg, Field, Int, ObjectType, Query, Resolver, buildSchema as buildTypeGraphQLSchema } from "type-graphql";
import { beforeAll, describe, expect, it } from "vitest";
import { checkOperationLimits, operationComplexity, type OperationLimits } from "../src/limits/query-limits.js";
import { getSchema } from "../src/resolvers/schema.js";
import { REPO_ROOT } from "./helpers/paths.js";

const UNLIMITED: OperationLimits = { maxComplexity: Infinity, maxAliases: Infinity, maxRootFields: Infinity };
// The defaults proposed with this module: every operation the app's own tests send passes them at the
// largest page size the resolvers accept, and a page of pages (100 prompts x 100 versions) does not.
const PROPOSED: OperationLimits = { maxComplexity: 25_000, maxAliases: 30, maxRootFields: 10 };
const LARGEST_PAGE = 200;

/** Parses and validates, so every document below is one the server would pass on to these checks. */
function valid(schema: GraphQLSchema, source: string): DocumentNode {
  const document = parse(source);
  expect(validate(schema, document).map((e) => e.message)).toEqual([]);
  return document;
}

function measured(
  schema: GraphQLSchema,
  source: string,
  variables?: Record<string, unknown>,
): { complexity: number; aliases: number; rootFields: number } {
  const document = valid(schema, source);
  const zero = checkOperationLimits({ schema, document, variables, limits: { maxComplexity: 0, maxAliases: 0, maxRootFields: 0 } });
  const actual = (limit: string) => (zero.find((e) => e.extensions.limit === limit)?.extensions.actual as number | undefined) ?? 0;
  return { complexity: operationComplexity(schema, document, null, variables), aliases: actual("aliases"), rootFields: actual("rootFields") };
}

// Connections and plain lists as the app has them; costs below are worked out by hand from the rules:
// 1 per field, x page size under a page argument (omitted: 20), x10 under a list without one,
// connection edges/nodes x1 (their field paid for the page), __typename free.
const small = buildSchema(`
  type Query {
    item(id: ID!): Item
    items(first: Int, last: Int, after: String): ItemConnection!
    search(query: String!, first: Int = 10): [Item!]!
    tags: [String!]!
    stats: Stats!
    node(id: ID!): Node
  }
  type Mutation { touch(id: ID!): Item }
  interface Node { id: ID! }
  type Item implements Node {
    id: ID!
    name: String!
    tags: [String!]!
    related: [Item!]!
    children(first: Int): ItemConnection!
  }
  type ItemConnection { edges: [ItemEdge!]! nodes: [Item!]! pageInfo: PageInfo! totalCount: Int! }
  type ItemEdge { cursor: String! node: Item! }
  type PageInfo { hasNextPage: Boolean! endCursor: String }
  type Stats { total: Int! }
`);
// What type-graphql's `@Query({ complexity })` puts on a field.
function declare(field: "search" | "stats", complexity: unknown) {
  (small.getQueryType()!.getFields()[field] as { extensions: Record<string, unknown> }).extensions = { complexity };
}
declare("search", 50);
declare("stats", ({ childComplexity }: { childComplexity: number }) => 100 + childComplexity);

describe("complexity on a small schema", () => {
  it.each([
    ["a plain field", `{ item(id: "1") { id name } }`, undefined, 3],
    ["a page of 5", `{ items(first: 5) { nodes { id } } }`, undefined, 1 + 5 * 2],
    ["a page of 50", `{ items(first: 50) { nodes { id } } }`, undefined, 1 + 50 * 2],
    ["an omitted page size counts as 20", `{ items { nodes { id } } }`, undefined, 1 + 20 * 2],
    ["first: 0 still costs one item", `{ items(first: 0) { totalCount } }`, undefined, 1 + 1],
    ["the larger of first and last", `{ items(first: 3, last: 7) { nodes { id } } }`, undefined, 1 + 7 * 2],
    ["edges, pageInfo and totalCount are in the page", `{ items(first: 10) { totalCount edges { cursor node { id } } pageInfo { hasNextPage } } }`, undefined, 1 + 10 * (1 + 4 + 2)],
    ["nested connections multiply", `{ items(first: 10) { nodes { id children(first: 5) { nodes { id } } } } }`, undefined, 1 + 10 * (1 + 1 + (1 + 5 * 2))],
    ["a list without a page argument counts 10 items", `{ item(id: "1") { related { id name } } }`, undefined, 1 + (1 + 10 * 2)],
    ["a list of scalars costs 1", `{ tags }`, undefined, 1],
    ["a declared complexity replaces the own cost; the schema's default page size counts", `{ search(query: "a") { id } }`, undefined, 50 + 10 * 1],
    ["... and a given page size multiplies its selection", `{ search(query: "a", first: 2) { id } }`, undefined, 50 + 2 * 1],
    ["a complexity function decides alone", `{ stats { total } }`, undefined, 100 + 1],
    ["__typename is free", `{ __typename item(id: "1") { __typename id } }`, undefined, 2],
    ["abstract types cost their selection", `{ node(id: "1") { id ... on Item { related { id } } } }`, undefined, 1 + 1 + (1 + 10)],
    ["a mutation", `mutation { touch(id: "1") { id } }`, undefined, 2],
    ["a fragment costs what its fields cost", `{ item(id: "1") { ...F } } fragment F on Item { id name related { id } }`, undefined, 1 + (1 + 1 + 11)],
    ["a fragment counts at every spread", `{ a: item(id: "1") { ...F } b: item(id: "2") { ...F } } fragment F on Item { id name related { id } }`, undefined, 2 * 14],
    ["a page size from a variable", `query Q($n: Int) { items(first: $n) { nodes { id } } }`, { n: 50 }, 1 + 50 * 2],
    ["an omitted variable without default", `query Q($n: Int) { items(first: $n) { nodes { id } } }`, {}, 1 + 20 * 2],
    ["a variable's default", `query Q($n: Int = 7) { items(first: $n) { nodes { id } } }`, {}, 1 + 7 * 2],
    ["@skip(if: true) costs nothing", `query Q($s: Boolean!) { items(first: 100) @skip(if: $s) { nodes { id } } item(id: "1") { id } }`, { s: true }, 2],
    ["@skip(if: false) costs its field", `query Q($s: Boolean!) { items(first: 100) @skip(if: $s) { nodes { id } } item(id: "1") { id } }`, { s: false }, 201 + 2],
  ])("%s", (_name, source, variables, expected) => {
    expect(measured(small, source, variables).complexity).toBe(expected);
  });

  it("costs the chosen operation only", () => {
    const document = valid(small, `query Small { tags } query Big { items(first: 100) { nodes { id } } }`);
    expect(operationComplexity(small, document, "Small")).toBe(1);
    expect(operationComplexity(small, document, "Big")).toBe(201);
  });

  it("reports a cost over the limit with the numbers a person reads", () => {
    const document = valid(small, `query Huge { items(first: 5000) { nodes { id } } }`);
    const errors = checkOperationLimits({ schema: small, document, limits: { ...UNLIMITED, maxComplexity: 10_000 } });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(GraphQLError);
    expect(errors[0]!.message).toMatch(/^operation Huge costs 10,001; the limit is 10,000\./);
    expect(errors[0]!.extensions).toEqual({ code: "QUERY_LIMIT_EXCEEDED", limit: "complexity", max: 10_000, actual: 10_001 });
    expect(errors[0]!.locations).toEqual([{ line: 1, column: 1 }]);
    expect(checkOperationLimits({ schema: small, document, limits: { ...UNLIMITED, maxComplexity: 10_001 } })).toEqual([]);
  });
});

describe("aliases and root fields", () => {
  it.each([
    ["no aliases", `{ item(id: "1") { id name } }`, 0, 1],
    ["aliases at any depth", `{ a: item(id: "1") { x: id y: name } }`, 3, 1],
    ["a fragment's aliases once per spread", `{ item(id: "1") { ...F } other: item(id: "2") { ...F } } fragment F on Item { n: name id }`, 1 + 2, 2],
    ["through nested fragments and inline fragments", `{ item(id: "1") { ...A ... on Item { i: id } } } fragment A on Item { ...B ...B } fragment B on Item { b: name }`, 1 + 2, 1],
    ["aliased __typename is an alias but not a root field", `{ t: __typename tags }`, 1, 1],
    ["root fields through fragments and inline fragments", `{ ...Q ... on Query { tags } } fragment Q on Query { item(id: "1") { id } a: tags }`, 1, 3],
    ["same-named root fields merge", `{ tags tags item(id: "1") { id } }`, 0, 2],
    ["a fragment spread twice at the top is collected once", `{ ...Q ...Q } fragment Q on Query { tags stats { total } }`, 0, 2],
    ["aliases of one field are separate root fields", `{ a: tags b: tags c: tags }`, 3, 3],
  ])("%s", (_name, source, aliases, rootFields) => {
    const counted = measured(small, source);
    expect({ aliases: counted.aliases, rootFields: counted.rootFields }).toEqual({ aliases, rootFields });
  });

  it("reports each limit it exceeds", () => {
    const document = valid(small, `query Many { a: tags b: tags c: tags }`);
    const errors = checkOperationLimits({ schema: small, document, limits: { maxComplexity: 100, maxAliases: 2, maxRootFields: 2 } });
    expect(errors.map((e) => [e.message, e.extensions])).toEqual([
      [
        "operation Many selects 3 top-level fields; the limit is 2. Split it into several operations.",
        { code: "QUERY_LIMIT_EXCEEDED", limit: "rootFields", max: 2, actual: 3 },
      ],
      ["operation Many uses 3 aliases; the limit is 2.", { code: "QUERY_LIMIT_EXCEEDED", limit: "aliases", max: 2, actual: 3 }],
    ]);
  });
});

describe("documents the checks leave to execution", () => {
  const twoOperations = `query A { tags } query B { a: tags b: tags }`;
  const tight: OperationLimits = { maxComplexity: 0, maxAliases: 0, maxRootFields: 0 };

  it("checks the named operation", () => {
    const document = valid(small, twoOperations);
    expect(checkOperationLimits({ schema: small, document, operationName: "A", limits: tight }).map((e) => e.extensions.limit)).toEqual([
      "rootFields",
      "complexity",
    ]);
    expect(checkOperationLimits({ schema: small, document, operationName: "B", limits: tight })).toHaveLength(3);
  });

  it.each([
    ["no name with several operations", twoOperations, undefined],
    ["an unknown name", twoOperations, "C"],
    ["a name for an anonymous operation", `{ tags }`, "A"],
  ])("returns nothing for %s", (_name, source, operationName) => {
    const document = valid(small, source);
    expect(checkOperationLimits({ schema: small, document, operationName, limits: tight })).toEqual([]);
    expect(() => operationComplexity(small, document, operationName)).toThrow(GraphQLError);
  });

  it.each([
    ["a string for an Int", { n: "many" }],
    ["a missing required variable", {}],
    ["null for a non-null variable", { n: null }],
  ])("does not throw on bad variables (%s): no complexity error, the others still apply", (_name, variables) => {
    const document = valid(small, `query Q($n: Int!) { items(first: $n) { nodes { id } } a: tags b: tags }`);
    const errors = checkOperationLimits({ schema: small, document, variables, limits: { maxComplexity: 0, maxAliases: 1, maxRootFields: 10 } });
    expect(errors.map((e) => e.extensions.limit)).toEqual(["aliases"]);
    expect(() => operationComplexity(small, document, "Q", variables)).toThrow(GraphQLError);
  });

  it("answers a document whose fragments spread each other twice per level, fast", () => {
    const levels = 40;
    const fragments = Array.from({ length: levels }, (_, i) =>
      i === levels - 1 ? `fragment F${i} on Query { a: tags }` : `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`,
    );
    const document = parse(`query Bomb { ...F0 } ${fragments.join(" ")}`);
    const started = performance.now();
    const errors = checkOperationLimits({ schema: small, document, limits: PROPOSED });
    const elapsed = performance.now() - started;
    // Expanded, the document has 2^39 aliases: without memoized fragments this would never return.
    expect(elapsed).toBeLessThan(1_000);
    expect(errors.map((e) => [e.extensions.limit, e.extensions.actual])).toEqual([
      ["aliases", 2 ** 39],
      ["complexity", 3 * 2 ** 39 - 1],
    ]);
    expect(errors[1]!.message).toMatch(/^operation Bomb expands to [\d,]+ selections once its fragments are inlined; operations over 10,000 are not costed/);
    expect(() => operationComplexity(small, document, "Bomb")).toThrow(/not costed/);
  });
});

describe("introspection", () => {
  const queries = {
    "graphql's default introspection query": getIntrospectionQuery(),
    "with every option (GraphiQL asks for some)": getIntrospectionQuery({
      descriptions: true,
      specifiedByUrl: true,
      directiveIsRepeatable: true,
      schemaDescription: true,
      inputValueDeprecation: true,
      oneOf: true,
    }),
  };
  it.each(Object.entries(queries))("%s stays within any sensible limit on the small and the app schema", async (_name, source) => {
    for (const schema of [small, await getSchema()]) {
      const counted = measured(schema, source);
      // Its lists of types, fields and type references are not multiplied: it is served from memory.
      expect(counted.complexity).toBeLessThan(500);
      expect(counted).toMatchObject({ aliases: 0, rootFields: 1 });
      expect(checkOperationLimits({ schema, document: parse(source), limits: PROPOSED })).toEqual([]);
    }
  });
});

describe("complexity declared with type-graphql decorators", () => {
  @ObjectType()
  class Hit {
    @Field()
    id!: string;
  }

  @Resolver()
  class HitResolver {
    @Query(() => [Hit], { complexity: 40 })
    hits(@Arg("first", () => Int, { nullable: true }) _first?: number): Hit[] {
      return [];
    }

    @Query(() => Int, { complexity: 7 })
    count(): number {
      return 0;
    }
  }

  it("reads `complexity` from the field's extensions", async () => {
    const schema = await buildTypeGraphQLSchema({ resolvers: [HitResolver], validate: false });
    expect(measured(schema, `{ hits(first: 3) { id } }`).complexity).toBe(40 + 3 * 1);
    expect(measured(schema, `{ count }`).complexity).toBe(7);
  });
});

describe("the app's schema", () => {
  let schema: GraphQLSchema;
  beforeAll(async () => {
    schema = await getSchema();
  });
  const cost = (source: string, variables?: Record<string, unknown>) => measured(schema, source, variables).complexity;

  it("a page costs in proportion to its size, whether first is a literal or a variable", () => {
    const list = `query L($first: Int) { prompts(first: $first) { totalCount edges { cursor node { id name tags } } } }`;
    const [c10, c20, c40, c100] = [10, 20, 40, 100].map((first) => cost(list, { first }));
    expect(c10).toBeLessThan(c20);
    expect(c100 - c20).toBe(4 * (c40 - c20));
    expect(cost(`{ prompts(first: 40) { totalCount edges { cursor node { id name tags } } } }`)).toBe(c40);
  });

  it("nested connections multiply: 10 more versions per prompt cost 20 times more on a page of 20 prompts", () => {
    const nested = `query N($p: Int, $v: Int) { prompts(first: $p) { nodes { name versions(first: $v) { nodes { number content } } } } }`;
    const extra = (p: number) => cost(nested, { p, v: 20 }) - cost(nested, { p, v: 10 });
    expect(extra(1)).toBeGreaterThan(0);
    expect(extra(20)).toBe(20 * extra(1));
  });

  it("counts a fragment like its fields, at every spread", () => {
    const fields = `id name tags labels { name versionNumber } latestVersion { number content variables }`;
    const inline = cost(`{ prompt(name: "a") { ${fields} } }`);
    expect(cost(`{ prompt(name: "a") { ...P } } fragment P on Prompt { ${fields} }`)).toBe(inline);
    expect(cost(`{ a: prompt(name: "a") { ...P } b: prompt(name: "b") { ...P } } fragment P on Prompt { ${fields} }`)).toBe(2 * inline);
  });

  it("counts aliases through fragments", () => {
    const counted = measured(schema, `{ prompt(name: "a") { ...P } other: prompt(name: "b") { ...P } } fragment P on Prompt { n: name v: versionCount }`);
    expect(counted).toMatchObject({ aliases: 1 + 2 * 2, rootFields: 2 });
  });

  it("bad variables for a real operation: no throw, no complexity error", () => {
    const document = valid(schema, `query L($first: Int) { prompts(first: $first) { nodes { id } } }`);
    expect(checkOperationLimits({ schema, document, variables: { first: "lots" }, limits: { ...PROPOSED, maxComplexity: 1 } })).toEqual([]);
  });

  it("refuses a page of pages under the proposed limits", () => {
    const document = valid(schema, `{ prompts(first: 100) { edges { node { name tags labels { name } versions(first: 100) { nodes { number content labels } } } } } }`);
    expect(checkOperationLimits({ schema, document, limits: PROPOSED }).map((e) => e.extensions.limit)).toEqual(["complexity"]);
  });

  it(`passes every operation of tests/operations under the proposed limits, at page size ${LARGEST_PAGE}`, () => {
    const dir = `${REPO_ROOT}tests/operations/`;
    const over: string[] = [];
    let operations = 0;
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".graphql"))) {
      const document = valid(schema, readFileSync(dir + file, "utf8"));
      for (const operation of document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)) {
        operations++;
        const variables = Object.fromEntries(
          (operation.variableDefinitions ?? []).map((v) => [v.variable.name.value, sample(schema, typeFromAST(schema, v.type as never) as GraphQLInputType, v.variable.name.value)]),
        );
        const errors = checkOperationLimits({ schema, document, operationName: operation.name?.value, variables, limits: PROPOSED });
        // A variable this sampler got wrong would silently skip the complexity check.
        expect(() => operationComplexity(schema, document, operation.name?.value, variables)).not.toThrow();
        over.push(...errors.map((e) => `${file}: ${e.message}`));
      }
    }
    expect(operations).toBeGreaterThan(50);
    expect(over).toEqual([]);
  });
});

/** A value of the variable's type: page sizes at their largest, required input fields filled in. */
function sample(schema: GraphQLSchema, type: GraphQLInputType, name: string): unknown {
  if (isNonNullType(type)) return sample(schema, type.ofType, name);
  if (isListType(type)) return [sample(schema, type.ofType, name)];
  if (isEnumType(type)) return type.getValues()[0]!.name;
  if (isInputObjectType(type)) {
    return Object.fromEntries(
      Object.values(type.getFields())
        .filter((f) => isNonNullType(f.type) && f.defaultValue === undefined)
        .map((f) => [f.name, sample(schema, f.type, f.name)]),
    );
  }
  if (isScalarType(type)) {
    const byScalar: Record<string, unknown> = { Int: name === "first" ? LARGEST_PAGE : 1, Float: 0.5, Boolean: false, DateTimeISO: "2024-01-01T00:00:00.000Z", JSONObject: {} };
    return type.name in byScalar ? byScalar[type.name] : "x";
  }
  throw new Error(`no sample for ${String(type)}`);
}

describe("variables that cannot change the cost", () => {
  it("are not coerced for costing, while page sizes and directives given by variables still count", async () => {
    const schema = await getSchema();
    const document = parse(`mutation ($events: [UsageEventInput!]!, $n: Int, $skip: Boolean!) {
      recordUsage(events: $events) { accepted }
      prompts: __typename
    }
    query Paged($n: Int, $skip: Boolean!, $filter: PromptFilter) { prompts(first: $n, filter: $filter) @skip(if: $skip) { nodes { name } } }`);
    // A value that would not even coerce: it is not looked at.
    const events = [{ prompt: "not an object" }];
    expect(() => operationComplexity(schema, document, null, { events, n: 5, skip: false })).toThrow(); // two operations, no name
    const mutation = parse(`mutation ($events: [UsageEventInput!]!) { recordUsage(events: $events) { accepted } }`);
    expect(operationComplexity(schema, mutation, null, { events })).toBeGreaterThan(0);
    const small = operationComplexity(schema, document, "Paged", { n: 5, skip: false, filter: { tags: 42 } });
    const big = operationComplexity(schema, document, "Paged", { n: 50, skip: false, filter: { tags: 42 } });
    expect(big).toBeGreaterThan(small * 5);
    expect(operationComplexity(schema, document, "Paged", { n: 50, skip: true })).toBe(0);
  });
});
