// The JSON scalars refuse values nested deeper than MAX_JSON_DEPTH, counting the value itself as
// the first level, whether they come as variables (parseValue) or inline (parseLiteral).
import { parseValue as parseLiteralText } from "graphql";
import { describe, expect, it } from "vitest";
import { GraphQLJSON, GraphQLJSONObject, MAX_JSON_DEPTH } from "../src/resolvers/json-scalars.js";

const nested = (levels: number, arrays: boolean): unknown => {
  let value: unknown = "leaf";
  for (let i = 0; i < levels; i++) value = arrays ? [value] : { a: value };
  return value;
};

describe("JSON scalars' depth bound", () => {
  it("accepts exactly MAX_JSON_DEPTH levels of objects or arrays and refuses one more", () => {
    for (const arrays of [false, true]) {
      expect(GraphQLJSON.parseValue(nested(MAX_JSON_DEPTH, arrays))).toEqual(nested(MAX_JSON_DEPTH, arrays));
      expect(() => GraphQLJSON.parseValue(nested(MAX_JSON_DEPTH + 1, arrays))).toThrow(/at most 100 levels/);
    }
    // An object holding arrays: the object is the first level.
    expect(() => GraphQLJSONObject.parseValue({ a: nested(MAX_JSON_DEPTH - 1, true) })).not.toThrow();
    expect(() => GraphQLJSONObject.parseValue({ a: nested(MAX_JSON_DEPTH, true) })).toThrow(/at most 100 levels/);
  });

  it("finds the deep branch among wide ones, and bounds literals the same way", () => {
    const wide = Object.fromEntries(Array.from({ length: 1_000 }, (_, i) => [`k${i}`, { x: [1, 2, { y: i }] }]));
    expect(() => GraphQLJSONObject.parseValue(wide)).not.toThrow();
    expect(() => GraphQLJSONObject.parseValue({ ...wide, deep: nested(MAX_JSON_DEPTH, false) })).toThrow(/at most 100 levels/);
    const literal = (levels: number) => parseLiteralText(JSON.stringify(nested(levels, true)));
    expect(() => GraphQLJSON.parseLiteral(literal(MAX_JSON_DEPTH), {})).not.toThrow();
    expect(() => GraphQLJSON.parseLiteral(literal(MAX_JSON_DEPTH + 1), {})).toThrow(/at most 100 levels/);
  });
});
