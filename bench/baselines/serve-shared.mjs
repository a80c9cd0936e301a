// What S2's baselines share: the statement that answers resolvePrompt(name, label) in one go,
// the template rendering they all do alike, and the one-query schema of the Apollo baselines.

/** The label's version of the prompt: (label, name) -> type, number, content. */
export const SERVE_SQL = `
  SELECT p.type, v.number, v.content FROM Prompt p
  JOIN PromptLabel l ON l.promptId = p.id AND l.name = ?
  JOIN PromptVersion v ON v.promptId = p.id AND v.number = l.versionNumber
  WHERE p.name = ?`;

export const render = (template, variables) => template.replace(/\{\{\s*([\w.-]+)\s*\}\}/g, (_, name) => String(variables?.[name] ?? ""));

export const SERVE_TYPEDEFS = `
  scalar JSONObject
  type PromptVersion { number: Int! }
  type ResolvedPrompt { type: String! text: String label: String version: PromptVersion! }
  type Query { resolvePrompt(name: String!, label: String, variables: JSONObject): ResolvedPrompt! }`;
