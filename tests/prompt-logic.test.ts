import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  canonicalJson,
  contentHash,
  extractVariables,
  normalizeFolder,
  validateName,
  validateTags,
} from "../src/domain/prompts/prompt.logic.js";
import { AppError } from "../src/errors.js";

describe("validateName", () => {
  it.each([
    ["greeting", "greeting"],
    ["  support/greeting ", "support/greeting"],
    ["a/b/c.d_e-f", "a/b/c.d_e-f"],
    ["Team1/v2.0", "Team1/v2.0"],
  ])("accepts %j as %j", (raw, expected) => expect(validateName(raw)).toBe(expected));

  it.each(["", "   ", "/lead", "trail/", "a//b", "-dash", "a/.hidden", "sp ace", "ü", "a\\b", "x".repeat(201)])(
    "rejects %j with BAD_USER_INPUT",
    (raw) => {
      expect(() => validateName(raw)).toThrowError(AppError);
      try {
        validateName(raw);
      } catch (error) {
        expect((error as AppError).code).toBe("BAD_USER_INPUT");
        expect((error as AppError).details.field).toBe("name");
      }
    },
  );

  it("normalizes folders to a trailing slash", () => {
    expect(normalizeFolder("support")).toBe("support/");
    expect(normalizeFolder("support/billing//")).toBe("support/billing/");
  });
});

describe("validateTags", () => {
  it("lowercases, trims, de-duplicates and sorts", () => {
    expect(validateTags([" Beta", "alpha", "beta", "v1.2:rc-1"])).toEqual(["alpha", "beta", "v1.2:rc-1"]);
  });
  it.each([[["two words"]], [[""]], [["-x"]], [["x".repeat(65)]], [Array.from({ length: 51 }, (_, i) => `t${i}`)]])(
    "rejects %j",
    (tags) => expect(() => validateTags(tags)).toThrowError(AppError),
  );
});

describe("extractVariables", () => {
  it.each([
    ["Hello {{name}}", ["name"]],
    ["{{ a }} {{b}} {{a}}", ["a", "b"]],
    ["{{user.first_name}} {{order-id}}", ["user.first_name", "order-id"]],
    ["{{> shared/header}} {{x}}", ["x"]],
    ["{{}} {{ 1x }} { {y} } {{z", []],
    ["no variables", []],
  ])("finds the variables of %j", (text, expected) => {
    expect(extractVariables({ type: "TEXT", text })).toEqual(expected);
  });

  it("reads chat messages in order", () => {
    const content = {
      type: "CHAT" as const,
      messages: [
        { role: "system" as const, content: "You are {{persona}}" },
        { role: "user" as const, content: "{{question}} for {{persona}}" },
      ],
    };
    expect(extractVariables(content)).toEqual(["persona", "question"]);
  });
});

describe("contentHash", () => {
  it("is a SHA-256 over canonical JSON of type, content and config", () => {
    const expected = createHash("sha256").update('{"config":{"a":1,"b":2},"content":"hi","type":"TEXT"}').digest("hex");
    expect(contentHash({ type: "TEXT", text: "hi" }, { b: 2, a: 1 })).toBe(expected);
  });

  it("ignores key order but not values, type or whitespace", () => {
    const base = contentHash({ type: "TEXT", text: "hi" }, { a: { x: 1, y: [1, 2] } });
    expect(contentHash({ type: "TEXT", text: "hi" }, { a: { y: [1, 2], x: 1 } })).toBe(base);
    expect(contentHash({ type: "TEXT", text: "hi" }, { a: { y: [2, 1], x: 1 } })).not.toBe(base);
    expect(contentHash({ type: "TEXT", text: "hi " }, { a: { x: 1, y: [1, 2] } })).not.toBe(base);
    expect(contentHash({ type: "CHAT", messages: [{ role: "user", content: "hi" }] }, { a: { x: 1, y: [1, 2] } })).not.toBe(base);
  });

  it("canonicalJson sorts keys at every depth", () => {
    expect(canonicalJson({ b: [{ d: 1, c: 2 }], a: null })).toBe('{"a":null,"b":[{"c":2,"d":1}]}');
  });
});
