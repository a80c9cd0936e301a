import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { AppError } from "../src/errors.js";
import {
  HIGHLIGHT_CLOSE as C,
  HIGHLIGHT_OPEN as O,
  extractHighlights,
  fts5String,
  pickDistinctiveTerms,
  searchExpression,
  similarityExpression,
  termFrequencies,
  tokenize,
} from "../src/domain/search/search.logic.js";

const VALID: [query: string, expression: string][] = [
  ["welcome", '"welcome"'],
  ["  welcome   customer ", '"welcome" AND "customer"'],
  ["welcome AND customer", '"welcome" AND "customer"'],
  ['"exact words"', '"exact words"'],
  ['say "exact words" now', '"say" AND "exact words" AND "now"'],
  ["welc*", '"welc"*'],
  ['"dear cust"*', '"dear cust"*'],
  ["we*", '"we"*'],
  ["hello -spam", '"hello" NOT "spam"'],
  ['-spam hello -"junk mail"', '"hello" NOT ("spam" OR "junk mail")'],
  ["a b -c", '("a" AND "b") NOT "c"'],
  ["billing OR invoice", '("billing" OR "invoice")'],
  ["refund billing OR invoice OR receipt", '"refund" AND ("billing" OR "invoice" OR "receipt")'],
  ["a OR b c OR d -e", '(("a" OR "b") AND ("c" OR "d")) NOT "e"'],
  ["or and", '"or" AND "and"'],
  ["name:greet", 'name:"greet"'],
  ["NAME:greet Tag:billing", 'name:"greet" AND tags:"billing"'],
  ['description:"order status" content:wel*', 'description:"order status" AND content:"wel"*'],
  ["hello -tags:draft", '"hello" NOT tags:"draft"'],
  ["name:OR", 'name:"OR"'],
  ["tags:lang:en", 'tags:"lang:en"'],
  ["https://example.com", '"https://example.com"'],
  ["e-mail", '"e-mail"'],
  ["C++ tutorial", '"C++" AND "tutorial"'],
  ["(a OR b) c", '("(a" OR "b)") AND "c"'],
  ["café naïve", '"café" AND "naïve"'],
  ["NEAR(a b)", '"NEAR(a" AND "b)"'],
  ["x:y", '"x:y"'],
  ["^start", '"^start"'],
  ["a --b", '"a" NOT "-b"'],
];

const MALFORMED: [query: string, message: RegExp][] = [
  ["", /empty/],
  ["   ", /empty/],
  ['"unclosed phrase', /unbalanced quote/],
  ['hello "world', /unbalanced quote/],
  ['say "hi" to "x', /unbalanced quote/],
  ['foo"bar"', /unexpected quote/],
  ['"a"b', /space after the phrase/],
  ["-spam", /only excludes/],
  ["-a -b", /only excludes/],
  ["--double", /only excludes/],
  ["hello -", /must be followed by a word/],
  ["- hello", /must be followed by a word/],
  ["OR", /between two terms/],
  ["a OR", /between two terms/],
  ["OR a", /between two terms/],
  ["a OR OR b", /between two terms/],
  ["a AND", /between two terms/],
  ["a OR -b", /exclusion cannot be part of an OR/],
  ["-a OR b", /exclusion cannot be part of an OR/],
  ["name:", /must be followed by a word or phrase/],
  ["name: greet", /must be followed by a word or phrase/],
  ["*", /no letters or digits/],
  ["a*b", /only allowed once, at the end/],
  ["wel**", /only allowed once, at the end/],
  ["w*", /at least 2 letters or digits/],
  ["C++*", /at least 2 letters or digits/],
  ['"a b"*', /at least 2 letters or digits/],
  ['""', /no letters or digits/],
  ["!!!", /no letters or digits/],
  ["🙂", /no letters or digits/],
  ["x".repeat(501), /too long/],
  [Array.from({ length: 33 }, (_, i) => `w${i}`).join(" "), /too many terms/],
];

function reason(query: string): AppError {
  try {
    searchExpression(query);
  } catch (error) {
    return error as AppError;
  }
  throw new Error(`expected "${query}" to be rejected`);
}

/** An FTS5 table like the real one, to prove every expression we build is valid FTS5. */
function fts5() {
  const db = new Database(":memory:");
  db.exec("CREATE VIRTUAL TABLE s USING fts5(name, description, tags, content, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3 4 5 6 7 8')");
  const insert = db.prepare("INSERT INTO s(name, description, tags, content) VALUES (?, ?, ?, ?)");
  insert.run("support/greet", "Greets customers by e-mail", "billing lang:en", "Welcome, dear customer! Say the exact words now.");
  insert.run("sales/naive", "Naïve café", "draft", "Refund or invoice: hello (a or b) c");
  return { match: (expression: string) => db.prepare("SELECT rowid FROM s WHERE s MATCH ?").all(expression).length, close: () => db.close() };
}

describe("searchExpression", () => {
  it.each(VALID)("%j -> %s", (query, expression) => {
    expect(searchExpression(query)).toBe(expression);
  });

  it.each(MALFORMED)("rejects %j with BAD_USER_INPUT on field query", (query, message) => {
    const error = reason(query);
    expect(error).toBeInstanceOf(AppError);
    expect(error.code).toBe("BAD_USER_INPUT");
    expect(error.details.field).toBe("query");
    expect(error.message).toMatch(message);
  });

  it("builds only expressions FTS5 accepts, and they find what they say", () => {
    const db = fts5();
    try {
      for (const [query] of VALID) expect(() => db.match(searchExpression(query)), query).not.toThrow();
      expect(db.match(searchExpression('"exact words"'))).toBe(1);
      expect(db.match(searchExpression('"words exact"'))).toBe(0);
      expect(db.match(searchExpression("welc*"))).toBe(1);
      expect(db.match(searchExpression("tags:lang:en"))).toBe(1);
      expect(db.match(searchExpression("name:billing"))).toBe(0);
      expect(db.match(searchExpression("cafe naive"))).toBe(1);
      expect(db.match(searchExpression("customer OR refund"))).toBe(2);
      expect(db.match(searchExpression("customer OR refund -draft"))).toBe(1);
      expect(db.match(searchExpression("e-mail"))).toBe(1);
    } finally {
      db.close();
    }
  });

  it("quotes user text so FTS5 operators and quotes are plain words", () => {
    expect(fts5String('say "hi"')).toBe('"say ""hi"""');
    expect(searchExpression("NOT")).toBe('"NOT"');
    expect(searchExpression("NEAR")).toBe('"NEAR"');
    expect(searchExpression("rank:1")).toBe('"rank:1"');
  });
});

describe("extractHighlights", () => {
  const CASES: [marked: string, text: string, ranges: [number, number][]][] = [
    ["no match here", "no match here", []],
    [`${O}Welcome${C}, dear customer`, "Welcome, dear customer", [[0, 7]]],
    [`…say the ${O}exact words${C} now`, "…say the exact words now", [[9, 11]]],
    [`${O}a${C} b ${O}c${C}`, "a b c", [[0, 1], [4, 1]]],
    [`😀 ${O}café${C}`, "😀 café", [[3, 4]]],
    [`stray ${C}close and ${O}open`, "stray close and open", []],
    [`${O}${C}empty`, "empty", []],
    [`${O}a ${O}b${C}`, "a b", [[2, 1]]],
  ];
  it.each(CASES)("%j", (marked, text, ranges) => {
    const result = extractHighlights(marked);
    expect(result.text).toBe(text);
    expect(result.highlights).toEqual(ranges.map(([start, length]) => ({ start, length })));
    for (const { start, length } of result.highlights) expect(result.text.slice(start, start + length)).not.toMatch(/^\s|\s$/);
  });
});

describe("distinctive terms", () => {
  it("tokenizes like unicode61 with diacritics removed", () => {
    expect(tokenize("Héllo, WORLD! e-mail {{customer_name}} Ünïcödé 42")).toEqual([
      "hello",
      "world",
      "e",
      "mail",
      "customer",
      "name",
      "unicode",
      "42",
    ]);
  });

  it("counts terms without stop words, single letters and numbers, most frequent first", () => {
    const tf = termFrequencies("The refund, the REFUND and a refund policy for 2024: policy x", 10);
    expect([...tf]).toEqual([
      ["refund", 3],
      ["policy", 2],
    ]);
    expect([...termFrequencies("alpha beta gamma beta", 2)]).toEqual([
      ["beta", 2],
      ["alpha", 1],
    ]);
  });

  it("ranks by tf * ln(N / df) and skips terms no other prompt has or every prompt has", () => {
    const tf = new Map([
      ["refund", 3], // 3 * ln(100/10) = 6.91
      ["invoice", 1], // 1 * ln(100/2) = 3.91
      ["policy", 2], // 2 * ln(100/50) = 1.39
      ["unique", 5], // df 1: only this prompt
      ["everywhere", 9], // df 100: every prompt
      ["unknown", 4], // not in the vocabulary
      ["receipt", 1], // 1 * ln(100/2) = 3.91, ties with invoice: alphabetical
    ]);
    const df = new Map([
      ["refund", 10],
      ["invoice", 2],
      ["policy", 50],
      ["unique", 1],
      ["everywhere", 100],
      ["receipt", 2],
    ]);
    expect(pickDistinctiveTerms(tf, df, 100, 12)).toEqual(["refund", "invoice", "receipt", "policy"]);
    expect(pickDistinctiveTerms(tf, df, 100, 2)).toEqual(["refund", "invoice"]);
    expect(pickDistinctiveTerms(tf, new Map(), 100)).toEqual([]);
  });

  it("searches the terms in content with OR", () => {
    expect(similarityExpression(["refund", "invoice"])).toBe('content:("refund" OR "invoice")');
    const db = fts5();
    try {
      expect(db.match(similarityExpression(["refund", "welcome"]))).toBe(2);
      expect(db.match(similarityExpression(["billing"]))).toBe(0); // a tag, not content
    } finally {
      db.close();
    }
  });
});
