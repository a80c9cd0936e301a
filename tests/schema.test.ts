import { readFileSync } from "node:fs";
import { isEnumType, isInputObjectType, isIntrospectionType, isObjectType, isSpecifiedScalarType } from "graphql";
import { describe, expect, it } from "vitest";
import { printAppSchema } from "../src/resolvers/print-schema.js";
import { getSchema } from "../src/resolvers/schema.js";
import { REPO_ROOT } from "./helpers/paths.js";

describe("the public contract", () => {
  it("schema.graphql is the schema the code builds (run `npm run schema` after an API change)", async () => {
    expect(readFileSync(`${REPO_ROOT}schema.graphql`, "utf8")).toBe(await printAppSchema());
  });

  it("documents every type, field, argument and enum value", async () => {
    const schema = await getSchema();
    const missing: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (isIntrospectionType(type) || isSpecifiedScalarType(type)) continue;
      if (!["Query", "Mutation", "Subscription"].includes(type.name) && !type.description) missing.push(type.name);
      if (isObjectType(type) || isInputObjectType(type)) {
        for (const field of Object.values(type.getFields())) {
          if (!field.description) missing.push(`${type.name}.${field.name}`);
          for (const arg of "args" in field ? field.args : []) {
            if (!arg.description) missing.push(`${type.name}.${field.name}(${arg.name})`);
          }
        }
      }
      if (isEnumType(type)) {
        for (const value of type.getValues()) if (!value.description) missing.push(`${type.name}.${value.name}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
