// The rules behind the "builtin" refinement provider: tidy whitespace, give the prompt Role /
// Task / Constraints / Output format sections, and flag vague wording. Pure and deterministic:
// the same input always gives the same output, and refining the output again changes nothing.
// Template tags ({{variable}}, {{> include}}) and fenced code are never altered.

/** A vague phrase; `line` is 1-based, in the proposal. */
export type VagueFlag = { phrase: string; line: number; suggestion: string };
export type RulesOutcome = { proposal: string; critique: string; rationale: string; changes: string[]; flags: VagueFlag[] };

type Kind = "role" | "task" | "constraints" | "output";
const KINDS: readonly Kind[] = ["role", "task", "constraints", "output"];
const TITLE: Record<Kind, string> = { role: "Role", task: "Task", constraints: "Constraints", output: "Output format" };
/** What a missing section gets instead of invented content. */
export const SECTION_PLACEHOLDERS: Readonly<Record<Kind, string>> = {
  role: "[Describe who the model should be: expertise, audience, point of view]",
  task: "[Describe what the model should do, and with which input]",
  constraints: "[List the rules the answer must follow: what to include, what to avoid, limits]",
  output: "[Describe the format of the answer: structure, length, tone]",
};
const WHY: Record<Kind, string> = {
  role: "the model is not told who it is or whom it serves",
  task: "the model is not told plainly what to do",
  constraints: "nothing says what the answer must include or avoid",
  output: "nothing says how the answer should be shaped",
};
const CLASSIFY: [Kind, RegExp][] = [
  ["role", /^(role|persona|identity|who you are|your role)\b/],
  ["task", /^(task|instructions?|objective|goal|what to do|your task)\b/],
  ["constraints", /^(constraints?|rules|guidelines|requirements|limitations|restrictions)\b/],
  ["output", /^(output|response format|answer format|format)\b/],
];
const TAG = /\{\{[^{}]*\}\}/g;
const MASKED = /\uE000(\d+)\uE001/g;
const FENCE = /^\s*```/;
const HEADING = /^(#{1,6})\s+(.*)$/;
const LABEL =
  /^\s*\*{0,2}(role|persona|task|instructions|objective|goal|constraints|rules|requirements|guidelines|output format|response format|format)(?:\*{0,2}\s*:|\s*:\*{0,2})/i;
// "You are a/an/the ...", "Act as a ..." at the start of a sentence (\uE000 starts a masked tag).
const ROLE = /(?:^|[.!?]\s+)((?:you are|you're|act as)\s+(?:(?:an?|the)\s|\uE000))/i;

const VAGUE: [string, string][] = [
  ["if possible", "say what to do when it is not possible"],
  ["as needed", "say when exactly it is needed"],
  ["try to", "state it as a requirement, and say what to do when it cannot be met"],
  ["a few", "give a number or a range"],
  ["etc.", "list every item you mean; the model cannot guess the rest"],
  ["some", "say exactly how many or which ones"],
  ["things", "name the actual items or topics"],
  ["stuff", "name the actual items or topics"],
  ["appropriate", "state the criteria that make it appropriate"],
  ["good", "say what makes it good: the criteria the answer must meet"],
  ["nice", "describe the quality you want in concrete terms"],
  ["maybe", "decide: require it, or leave it out"],
  ["various", "list the items you mean"],
  ["really", "drop the intensifier, or give a measurable threshold"],
  ["very", "drop the intensifier, or give a measurable threshold"],
];
const SUGGESTION = new Map(VAGUE);
const VAGUE_RE = new RegExp(`(?<![\\w-])(?:${VAGUE.map(([p]) => p.replace(".", "\\.").replace(" ", " +")).join("|")})(?![\\w-])`, "gi");

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? "" : "s"}`;
const classify = (title: string): Kind | null =>
  CLASSIFY.find(([, re]) => re.test(title.toLowerCase().replace(/[*_:]/g, "").trim()))?.[0] ?? null;

function fenceMarks(lines: string[]): boolean[] {
  let inside = false;
  return lines.map((line) => {
    if (!FENCE.test(line)) return inside;
    inside = !inside;
    return true;
  });
}

/** Whitespace rules, outside code fences only (template tags are masked by the caller). */
function tidy(text: string): { text: string; changes: string[] } {
  const changes: string[] = [];
  if (text.includes("\r")) changes.push("Converted Windows line endings (CRLF) to LF.");
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  const fenced = fenceMarks(lines);
  const rows: { text: string; fenced: boolean }[] = [];
  let trailing = 0, tabs = 0, runs = 0, dropping = false;
  lines.forEach((line, i) => {
    if (fenced[i]) return void rows.push({ text: line, fenced: true });
    const trimmed = line.trimEnd();
    if (trimmed !== line) trailing++;
    tabs += trimmed.split("\t").length - 1;
    const text = trimmed.replace(/\t/g, "    ");
    const previous = rows[rows.length - 1];
    if (text === "" && previous && !previous.fenced && previous.text === "") {
      if (!dropping) runs++;
      dropping = true;
      return;
    }
    dropping = false;
    rows.push({ text, fenced: false });
  });
  // A block left open at the end would swallow every section added after it.
  const unclosed = lines.filter((line) => FENCE.test(line)).length % 2 === 1;
  if (unclosed) rows.push({ text: "```", fenced: true });
  const untrimmed = rows.map((r) => r.text).join("\n");
  while (rows.length > 0 && !rows[0]!.fenced && rows[0]!.text === "") rows.shift();
  while (rows.length > 0 && !rows[rows.length - 1]!.fenced && rows[rows.length - 1]!.text === "") rows.pop();
  if (rows[0] && !rows[0].fenced) rows[0].text = rows[0].text.trimStart();
  const result = rows.map((r) => r.text).join("\n");
  if (trailing) changes.push(`Removed trailing whitespace from ${plural(trailing, "line")}.`);
  if (tabs) changes.push(`Replaced ${plural(tabs, "tab")} with four spaces each, outside code blocks.`);
  if (runs) changes.push(`Collapsed ${plural(runs, "run")} of blank lines into a single blank line.`);
  if (result !== untrimmed) changes.push("Trimmed blank space from the start and end of the prompt.");
  if (unclosed) changes.push("Closed the code block that was left open at the end of the prompt.");
  return { text: result, changes };
}

/** Finds the first "You are ..." sentence of the lines and returns it with the lines without it. */
function takeRole(lines: string[], fenced: boolean[]): { sentence: string; rest: string[] } | null {
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const match = fenced[i] ? null : ROLE.exec(line);
    if (!match) continue;
    const start = match.index + match[0].length - match[1]!.length;
    let end = line.length;
    for (const stop of line.slice(start).matchAll(/[.!?](?=\s|$)/g)) {
      const upTo = start + stop.index + 1;
      if (/\b(?:e\.g|i\.e|etc|vs|approx)\.$/i.test(line.slice(Math.max(start, upTo - 10), upTo))) continue;
      end = upTo;
      break;
    }
    const before = line.slice(0, start).trimEnd(), after = line.slice(end).trimStart();
    const rest = before && after ? `${before} ${after}` : before + after;
    if (FENCE.test(rest) || HEADING.test(rest) || LABEL.test(rest)) return null; // moving it would change the structure
    return { sentence: line.slice(start, end), rest: [...lines.slice(0, i), ...(rest ? [rest] : []), ...lines.slice(i + 1)] };
  }
  return null;
}

/** Lines for the Constraints and Output format sections that the instructions clearly ask for. */
export function deriveFromInstructions(instructions: string): Record<"constraints" | "output", string[]> {
  const s = instructions.toLowerCase();
  const asks = (word: string) =>
    new RegExp(`\\b${word}\\b`).test(s) && !new RegExp(`\\b(?:no|not|without|never|don't|avoid)\\s+(?:\\w+\\s+)?${word}\\b`).test(s);
  const constraints: string[] = [], output: string[] = [];
  if (/\b(concise|short|brief|succinct|terse)\b/.test(s)) constraints.push("Keep the answer concise.");
  const unit = "(words?|sentences?|paragraphs?|lines?|bullet points?|characters?)";
  const limit =
    new RegExp(`\\b(?:at most|max(?:imum)?|no more than|up to|under|fewer than|less than|within|limit(?:ed)? to)\\s+(\\d+)\\s+${unit}\\b`).exec(s) ??
    new RegExp(`\\b(\\d+)\\s+${unit}\\s+(?:max(?:imum)?|or (?:less|fewer)|at most)\\b`).exec(s);
  if (limit) {
    const n = Number(limit[1]);
    constraints.push(`Use at most ${n} ${limit[2]!.replace(/s$/, "")}${n === 1 ? "" : "s"}.`);
  }
  if (asks("formal")) constraints.push("Use a formal tone.");
  if (asks("friendly")) constraints.push("Use a friendly tone.");
  if (asks("casual") || asks("informal")) constraints.push("Use a casual tone.");
  if (asks("json")) output.push("Answer in JSON.");
  if (/\b(bullet(ed)? (list|points)|as bullets)\b/.test(s)) output.push("Answer as a bulleted list.");
  if (asks("markdown")) output.push("Format the answer in Markdown.");
  return { constraints, output };
}

/** `missing`: sections the prompt lacked; `split`: role and task were separated out of one block. */
type Shape = { text: string; changes: string[]; missing: Kind[]; split: boolean; notes: string[]; derived: string[] };

function restructure(text: string, instructions: string): Shape {
  const lines = text.split("\n");
  const fenced = fenceMarks(lines);
  const heads = lines.flatMap((line, i) => {
    const m = fenced[i] ? null : HEADING.exec(line);
    return m ? [{ i, level: m[1]!.length, kind: classify(m[2]!) }] : [];
  });
  const present = new Set<Kind>(heads.flatMap((h) => (h.kind ? [h.kind] : [])));
  // A leading "# Title" that is none of the four sections stays on top.
  const top = heads[0]?.i === 0 && heads[0].level === 1 && !heads[0].kind ? 1 : 0;
  const first = heads[top]?.i ?? lines.length;
  let labelled = false, rolePhrase = false;
  lines.forEach((line, i) => {
    const label = fenced[i] ? null : LABEL.exec(line);
    const kind = label ? classify(label[1]!) : null;
    if (kind) present.add(kind);
    if (kind && i >= top && i < first) labelled = true;
    if (!fenced[i] && ROLE.test(line)) rolePhrase = true;
  });

  const shape: Shape = { text: "", changes: [], missing: [], split: false, notes: [], derived: [] };
  const preamble = lines.slice(top, first);
  const newTop: string[] = [];
  let keep = true;
  if (!labelled && preamble.some((line) => line !== "")) {
    const role = present.has("role") ? null : takeRole(preamble, fenced.slice(top, first));
    const rest = tidy((role ? role.rest : preamble).join("\n")).text;
    if (role && (rest === "" || !present.has("task"))) {
      keep = false;
      newTop.push(`## Role\n${role.sentence}`);
      present.add("role");
      shape.changes.push('Moved the role sentence ("You are ...") under a new "## Role" heading.');
    }
    if (rest !== "" && !present.has("task")) {
      keep = false;
      shape.split = role !== null;
      newTop.push(`## Task\n${rest}`);
      present.add("task");
      shape.changes.push('Put the instruction text under a new "## Task" heading.');
    }
  }
  if (rolePhrase) present.add("role");
  const added = (kind: Kind, from: string) => {
    shape.missing.push(kind);
    shape.changes.push(`Added a "## ${TITLE[kind]}" section ${from}.`);
  };
  // Nothing was moved into a Role section when the role is missing, so it goes first.
  if (!present.has("role")) {
    newTop.unshift(`## Role\n${SECTION_PLACEHOLDERS.role}`);
    added("role", "with a placeholder for you to fill in");
  }
  if (!present.has("task")) {
    newTop.push(`## Task\n${SECTION_PLACEHOLDERS.task}`);
    added("task", "with a placeholder for you to fill in");
  }

  const wanted = deriveFromInstructions(instructions);
  const appended: string[] = [];
  const inserts: { at: number; line: string }[] = [];
  for (const kind of ["constraints", "output"] as const) {
    const lower = text.toLowerCase();
    const fresh = wanted[kind].filter((line) => !lower.includes(line.toLowerCase()));
    if (!present.has(kind)) {
      shape.derived.push(...fresh);
      appended.push(`## ${TITLE[kind]}\n${fresh.length ? fresh.map((l) => `- ${l}`).join("\n") : SECTION_PLACEHOLDERS[kind]}`);
      added(kind, fresh.length ? "from your instructions" : "with a placeholder for you to fill in");
      continue;
    }
    const section = heads.findLastIndex((h) => h.kind === kind);
    if (section === -1) {
      for (const line of fresh) shape.notes.push(`Your instructions ask for "${line}"; add it to the ${TITLE[kind]} label yourself (only headed sections are extended).`);
      continue;
    }
    let end = (heads[section + 1]?.i ?? lines.length) - 1;
    while (end > heads[section]!.i && lines[end] === "" && !fenced[end]) end--;
    shape.derived.push(...fresh);
    for (const line of fresh) {
      inserts.push({ at: end + 1, line: `- ${line}` });
      shape.changes.push(`Added "${line}" to the existing ${TITLE[kind]} section, from your instructions.`);
    }
  }
  for (const { at, line } of inserts.reverse()) lines.splice(at, 0, line);

  const body =
    keep && newTop.length === 0
      ? [lines.join("\n")]
      : [lines.slice(0, top).join("\n"), keep ? tidy(preamble.join("\n")).text : "", ...newTop, lines.slice(first).join("\n")];
  shape.text = [...body, ...appended].filter((part) => part !== "").join("\n\n");
  return shape;
}

/** Vague words of the text, outside code fences and template tags. */
export function findVagueWording(text: string): VagueFlag[] {
  const lines = text.replace(TAG, (tag) => tag.replace(/[^\n]/g, " ")).split("\n");
  const fenced = fenceMarks(lines);
  const flag = (m: RegExpMatchArray, i: number) => ({ phrase: m[0], line: i + 1, suggestion: SUGGESTION.get(m[0].toLowerCase().replace(/ +/g, " "))! });
  return lines.flatMap((line, i) => (fenced[i] ? [] : [...line.matchAll(VAGUE_RE)].map((m) => flag(m, i))));
}

export function refineWithRules(content: string, instructions: string): RulesOutcome {
  const tags: string[] = [];
  const masked = content.replace(TAG, (tag) => `\uE000${tags.push(tag) - 1}\uE001`);
  const tidied = tidy(masked);
  const shape = restructure(tidied.text, instructions);
  const proposal = shape.text.replace(MASKED, (_, i: string) => tags[Number(i)]!);
  const flags = findVagueWording(proposal);
  const changes = [...tidied.changes, ...shape.changes];
  const empty = tidied.text === "";

  const items: string[] = [];
  if (empty) items.push("The prompt is empty, so a skeleton with the four sections is proposed.");
  if (shape.split) items.push("The role and the task were mixed in one block of text.");
  if (!empty) for (const kind of shape.missing) items.push(`No ${TITLE[kind]} section: ${WHY[kind]}.`);
  for (const f of flags) items.push(`Line ${f.line}: "${f.phrase}" is vague; ${f.suggestion}.`);
  const open = KINDS.filter((kind) => proposal.includes(SECTION_PLACEHOLDERS[kind]));
  if (open.length) items.push(`Fill in the bracketed placeholder${open.length > 1 ? "s" : ""} under ${open.map((k) => TITLE[k]).join(", ")}.`);
  items.push(...shape.notes);
  if (tidied.changes.length && !empty) items.push("The whitespace was untidy; it is normalised outside code blocks and template tags.");
  const critique = items.length
    ? [`Rule-based review${flags.length ? " (line numbers refer to the proposal)" : ""}:`, ...items.map((item) => `- ${item}`)].join("\n")
    : "Rule-based review: the rules found nothing to improve. The prompt has Role, Task, Constraints and Output format sections and none of the listed vague words.";

  const why = ["Rule-based rewrite (rules-v1)."];
  if (changes.length === 0) why.push("Nothing to change: the proposal is identical to the input.");
  if (shape.changes.some((change) => change.includes('"## ')))
    why.push("Separate Role, Task, Constraints and Output format sections make each part easy for the model to find and for you to review.");
  if (open.length) why.push("Where the prompt says nothing, a bracketed placeholder marks what to fill in; no content was invented.");
  if (shape.derived.length) why.push(`Taken from your instructions: ${shape.derived.join(" ")}`);
  const mapped = deriveFromInstructions(instructions);
  if (instructions.trim() && mapped.constraints.length + mapped.output.length === 0) why.push("Your instructions did not map to any rule, so only the generic rules were applied.");
  if (flags.length) why.push("Vague words are flagged in the critique, not rewritten: only you know what they should say.");
  if (changes.length) why.push("Every {{...}} tag and all fenced code are kept exactly as written.");
  return { proposal, critique, rationale: why.join(" "), changes, flags };
}
