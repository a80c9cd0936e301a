import { GraphQLJSON } from "../json-scalars.js";
import { Field, Int, ObjectType, registerEnumType } from "type-graphql";
import { ChatRoleValues, PromptTypeValues, PromptVersion } from "./prompt.types.js";

const LineChangeValues = { ADDED: "ADDED", REMOVED: "REMOVED", UNCHANGED: "UNCHANGED" } as const;
registerEnumType(LineChangeValues, {
  name: "DiffLineKind",
  description: "How a line or a piece of one differs.",
  valuesConfig: {
    ADDED: { description: "Only in the newer version." },
    REMOVED: { description: "Only in the older version." },
    UNCHANGED: { description: "In both." },
  },
});

const MessageChangeValues = { ADDED: "ADDED", REMOVED: "REMOVED", CHANGED: "CHANGED", UNCHANGED: "UNCHANGED" } as const;
registerEnumType(MessageChangeValues, {
  name: "MessageChangeKind",
  description: "How a chat message differs.",
  valuesConfig: {
    ADDED: { description: "A new message." },
    REMOVED: { description: "A message that is gone." },
    CHANGED: { description: "A message at the same place whose role or content changed." },
    UNCHANGED: { description: "The same message." },
  },
});

const ConfigChangeValues = { ADDED: "ADDED", REMOVED: "REMOVED", CHANGED: "CHANGED" } as const;
registerEnumType(ConfigChangeValues, {
  name: "ConfigChangeKind",
  description: "How a config key differs.",
  valuesConfig: {
    ADDED: { description: "A new key." },
    REMOVED: { description: "A key that is gone." },
    CHANGED: { description: "A key whose value changed." },
  },
});

@ObjectType("DiffSegment", { description: "A piece of a changed line: the segments of a line concatenate to its text." })
export class DiffSegment {
  @Field(() => LineChangeValues, { description: "Whether this piece was added, removed or kept." })
  kind!: string;

  @Field({ description: "The text of the piece." })
  text!: string;
}

@ObjectType("DiffLine", { description: "One line of a hunk." })
export class DiffLine {
  @Field(() => LineChangeValues, { description: "Added, removed or unchanged (context)." })
  kind!: string;

  @Field({ description: "The line's text, without its line break." })
  text!: string;

  @Field(() => Int, { nullable: true, description: "1-based line number in the older version; null for an added line." })
  oldLineNumber!: number | null;

  @Field(() => Int, { nullable: true, description: "1-based line number in the newer version; null for a removed line." })
  newLineNumber!: number | null;

  @Field(() => [DiffSegment], { nullable: true, description: "Word-level changes when this removed line pairs with an added one (a changed line)." })
  segments!: DiffSegment[] | null;
}

@ObjectType("DiffHunk", { description: "A group of changed lines with context, numbered like a unified diff." })
export class DiffHunk {
  @Field(() => Int, { description: "First line of the hunk in the older version." })
  oldStart!: number;

  @Field(() => Int, { description: "Lines of the hunk in the older version." })
  oldLines!: number;

  @Field(() => Int, { description: "First line of the hunk in the newer version." })
  newStart!: number;

  @Field(() => Int, { description: "Lines of the hunk in the newer version." })
  newLines!: number;

  @Field(() => [DiffLine], { description: "The lines, in order." })
  lines!: DiffLine[];
}

@ObjectType("MessageChange", { description: "How one chat message changed." })
export class MessageChange {
  @Field(() => MessageChangeValues, { description: "Added, removed, changed or unchanged." })
  kind!: string;

  @Field(() => Int, { nullable: true, description: "Position in the older version; null when added." })
  oldIndex!: number | null;

  @Field(() => Int, { nullable: true, description: "Position in the newer version; null when removed." })
  newIndex!: number | null;

  @Field(() => ChatRoleValues, { nullable: true, description: "Role in the older version." })
  oldRole!: string | null;

  @Field(() => ChatRoleValues, { nullable: true, description: "Role in the newer version." })
  newRole!: string | null;

  @Field(() => String, { nullable: true, description: "Content in the older version." })
  oldContent!: string | null;

  @Field(() => String, { nullable: true, description: "Content in the newer version." })
  newContent!: string | null;

  @Field(() => [DiffHunk], { description: "Line hunks of the content change." })
  hunks!: DiffHunk[];
}

@ObjectType("ConfigChange", { description: "How one config key changed (nested keys as dotted paths)." })
export class ConfigChange {
  @Field(() => ConfigChangeValues, { description: "Added, removed or changed." })
  kind!: string;

  @Field({ description: "The key, nested keys joined with `.` (e.g. `sampling.temperature`)." })
  path!: string;

  @Field(() => GraphQLJSON, { nullable: true, description: "The older value (null when added)." })
  oldValue!: unknown;

  @Field(() => GraphQLJSON, { nullable: true, description: "The newer value (null when removed)." })
  newValue!: unknown;
}

@ObjectType("DiffStats", { description: "Counts of a diff." })
export class DiffStats {
  @Field(() => Int, { description: "Lines only in the newer version." })
  linesAdded!: number;

  @Field(() => Int, { description: "Lines only in the older version." })
  linesRemoved!: number;

  @Field(() => Int, { description: "Lines in both." })
  linesUnchanged!: number;

  @Field(() => Int, { description: "Chat messages added." })
  messagesAdded!: number;

  @Field(() => Int, { description: "Chat messages removed." })
  messagesRemoved!: number;

  @Field(() => Int, { description: "Chat messages changed in place." })
  messagesChanged!: number;

  @Field(() => Int, { description: "Config keys added, removed or changed." })
  configChanges!: number;
}

/**
 * The comparison itself, shared by version diffs and refinement diffs. type-graphql only
 * inherits fields from a decorated class; no field returns this type, so it stays out of the schema.
 */
@ObjectType("ContentDiffBase", { description: "Fields shared by the diff types." })
export class ContentDiffFields {
  @Field(() => PromptTypeValues, { description: "Type of the older side." })
  fromType!: string;

  @Field(() => PromptTypeValues, { description: "Type of the newer side." })
  toType!: string;

  @Field({ description: "TEXT vs CHAT: hunks then compare the text with the messages as `role: content` lines." })
  typeChanged!: boolean;

  @Field({ description: "Content and config are exactly equal." })
  identical!: boolean;

  @Field(() => [DiffHunk], { description: "Line hunks of a TEXT prompt's content (empty for CHAT)." })
  hunks!: DiffHunk[];

  @Field(() => [MessageChange], { description: "Every message of both sides, aligned (CHAT prompts)." })
  messages!: MessageChange[];

  @Field(() => [ConfigChange], { description: "Config keys that changed, sorted by path." })
  config!: ConfigChange[];

  @Field(() => [String], { description: "{{variables}} only in the newer side." })
  variablesAdded!: string[];

  @Field(() => [String], { description: "{{variables}} only in the older side." })
  variablesRemoved!: string[];

  @Field(() => DiffStats, { description: "Counts." })
  stats!: DiffStats;
}

@ObjectType("PromptVersionDiff", { description: "What changed between two versions of a prompt." })
export class PromptVersionDiff extends ContentDiffFields {
  @Field(() => PromptVersion, { description: "The older side." })
  from!: object;

  @Field(() => PromptVersion, { description: "The newer side." })
  to!: object;
}
