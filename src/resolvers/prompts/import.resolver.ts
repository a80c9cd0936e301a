import { GraphQLJSONObject } from "../json-scalars.js";
import { Arg, Ctx, Field, Int, Mutation, ObjectType, Resolver, registerEnumType } from "type-graphql";
import type { AppContext } from "../../context.js";
import type { ConflictMode, ImportService } from "../../domain/prompts/import.service.js";

export const ConflictModeValues: { [K in ConflictMode]: K } = { SKIP: "SKIP", NEW_VERSION: "NEW_VERSION", FAIL: "FAIL" };
registerEnumType(ConflictModeValues, {
  name: "ImportConflictMode",
  description: "What importPrompts does with a prompt whose name already exists.",
  valuesConfig: {
    SKIP: { description: "Leave the existing prompt alone." },
    NEW_VERSION: { description: "Add the document's latest version as the next version (nothing when identical)." },
    FAIL: { description: "Import nothing at all and answer CONFLICT naming the existing prompts." },
  },
});

const ImportStatusValues = { CREATED: "CREATED", NEW_VERSION: "NEW_VERSION", UNCHANGED: "UNCHANGED", SKIPPED: "SKIPPED", FAILED: "FAILED" } as const;
registerEnumType(ImportStatusValues, {
  name: "ImportStatus",
  description: "What happened to one prompt of an import.",
  valuesConfig: {
    CREATED: { description: "Created with its whole history (versions, labels, tags, links)." },
    NEW_VERSION: { description: "It existed; the document's latest version was added." },
    UNCHANGED: { description: "It existed with identical latest content and config." },
    SKIPPED: { description: "It existed and onConflict was SKIP." },
    FAILED: { description: "Not imported; see error." },
  },
});

@ObjectType("ImportError", { description: "An error of one import item." })
class ImportError {
  @Field({ description: "Stable error code, as in extensions.code." })
  code!: string;

  @Field({ description: "What was wrong." })
  message!: string;
}

@ObjectType("ImportItem", { description: "The outcome for one prompt of the document." })
class ImportItem {
  @Field(() => Int, { description: "Position in the document's prompts array." })
  index!: number;

  @Field({ description: "The prompt's name (empty when the document gave none)." })
  name!: string;

  @Field(() => ImportStatusValues, { description: "What happened." })
  status!: string;

  @Field(() => Int, { description: "Versions written for this prompt." })
  versionsCreated!: number;

  @Field(() => ImportError, { nullable: true, description: "Why it failed." })
  error!: ImportError | null;

  @Field(() => [String], { description: "Non-fatal problems, e.g. a relationship to a prompt that does not exist." })
  warnings!: string[];
}

@ObjectType("ImportPromptsPayload", { description: "The result of importPrompts." })
class ImportPromptsPayload {
  @Field(() => Int, { description: "Prompts created." })
  created!: number;

  @Field(() => Int, { description: "Existing prompts that got a new version." })
  updated!: number;

  @Field(() => Int, { description: "Existing prompts left as they were (SKIPPED or UNCHANGED)." })
  skipped!: number;

  @Field(() => Int, { description: "Prompts that could not be imported." })
  failed!: number;

  @Field(() => [ImportItem], { description: "One entry per prompt of the document, in order." })
  items!: ImportItem[];
}

@Resolver()
export class ImportResolver {
  constructor(private readonly importer: ImportService) {}

  @Mutation(() => ImportPromptsPayload, {
    description: "Imports a document written by GET /export: prompts with every version, labels, tags and relationships.",
  })
  async importPrompts(
    @Arg("document", () => GraphQLJSONObject, { description: "The export document." }) document: Record<string, unknown>,
    @Arg("onConflict", () => ConflictModeValues, { defaultValue: "FAIL", description: "When a prompt already exists: SKIP, NEW_VERSION or FAIL (default)." })
    onConflict: ConflictMode,
    @Ctx() ctx: AppContext,
  ) {
    const items = await this.importer.import(document, onConflict, ctx.actor);
    const count = (...statuses: string[]) => items.filter((i) => statuses.includes(i.status)).length;
    return {
      created: count("CREATED"),
      updated: count("NEW_VERSION"),
      skipped: count("SKIPPED", "UNCHANGED"),
      failed: count("FAILED"),
      items,
    };
  }
}
