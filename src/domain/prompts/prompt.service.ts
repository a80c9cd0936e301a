import { AppError, badInput, notFound } from "../../errors.js";
import type { EventPublisher, PromptEventType } from "../../subscriptions/topics.js";
import { pageSize, toPage, type Page } from "../shared/pagination.js";
import {
  LIMITS,
  contentHash,
  optionalText,
  validateConfig,
  validateContent,
  validateName,
  validateTags,
  type PromptContent,
} from "./prompt.logic.js";
import type { LabelMove, Tx } from "./label.repository.js";
import { buildVersion, newPrompt, versionRecordOf } from "./version.factory.js";
import { decodePromptCursor, encodePromptCursor, normalizeFilter } from "./prompt.listing.js";
import type {
  CreatePromptCommand,
  ListPromptsQuery,
  PromptRef,
  ServiceLimits,
  UpdateOptions,
  UpdatePromptCommand,
  UpdateResult,
} from "./prompt.commands.js";
import { parseIncludes, selectorOf } from "./template.logic.js";
import { batchable, namesOf, nameTaken, planBatch, settleNames, type CreateManyResult } from "./prompt.batch.js";
import { IncludeCycleError, type IncludeEdge } from "./include-graph.js";
import {
  isUniqueViolation,
  type PromptRecord,
  type PromptRepository,
  type PromptVersionRecord,
} from "./prompt.repository.js";

export class PromptService {
  constructor(
    private readonly repo: PromptRepository,
    private readonly events: EventPublisher,
    private readonly limits: ServiceLimits,
  ) {}

  /** This service inside an open transaction, publishing to `events` (flushed by the caller after commit). */
  withTx(tx: Tx, events: EventPublisher): PromptService {
    return new PromptService(this.repo.withTx(tx), events, this.limits);
  }

  /** Finds a prompt by id or by name (exactly one must be given). */
  async get(ref: PromptRef, field = "prompt"): Promise<PromptRecord> {
    const { column, value } = refLookup(ref, field);
    const prompt = column === "id" ? await this.repo.findById(value) : await this.repo.findByName(value);
    if (!prompt) throw refNotFound(ref, field);
    return prompt;
  }

  /** `get` and the prompt's latest version (null only if that row is missing), read together (the update path). */
  private async getWithLatest(ref: PromptRef): Promise<{ prompt: PromptRecord; latest: PromptVersionRecord | null }> {
    const { column, value } = refLookup(ref, "prompt");
    const found = await this.repo.findWithLatest(column, value);
    if (!found) throw refNotFound(ref, "prompt");
    return found;
  }

  /** Many prompts by id or name at once (two statements at most); unknown ones are simply absent. */
  async lookup(refs: readonly PromptRef[]): Promise<{ byId: Map<string, PromptRecord>; byName: Map<string, PromptRecord> }> {
    const ids = [...new Set(refs.flatMap((r) => (r.id ? [r.id] : [])))];
    const names = [...new Set(refs.flatMap((r) => (!r.id && r.name ? [r.name.trim()] : [])))];
    const [byIds, byNames] = await Promise.all([ids.length ? this.repo.findByIds(ids) : [], names.length ? this.repo.findByNames(names) : []]);
    return { byId: new Map(byIds.map((p) => [p.id, p])), byName: new Map(byNames.map((p) => [p.name, p])) };
  }

  async version(ref: PromptRef, number: number): Promise<PromptVersionRecord> {
    return this.versionOf(await this.get(ref), number);
  }

  /** A version of a prompt already read; NOT_FOUND when it has no such version. */
  async versionOf(prompt: PromptRecord, number: number): Promise<PromptVersionRecord> {
    const [version] = await this.repo.versionsByKeys([{ promptId: prompt.id, number }]);
    if (!version) throw notFound(`version ${number} of prompt ${prompt.name}`, "number", number);
    return version;
  }

  async create(
    command: CreatePromptCommand,
    actor: string | null = null,
  ): Promise<{ prompt: PromptRecord; version: PromptVersionRecord }> {
    const name = validateName(command.name);
    const source = command.copyFrom ? await this.get(command.copyFrom, "copyFrom") : null;
    const sourceVersion = source ? await this.repo.latestVersion(source) : null;
    const type = command.type ?? source?.type ?? "TEXT";
    if (source && command.type && command.type !== source.type && command.text == null && command.messages == null) {
      throw badInput("type", `copyFrom is a ${source.type} prompt; give content for a ${command.type} prompt`);
    }
    const contentGiven = command.text != null || command.messages != null;
    const content = contentGiven || !sourceVersion ? validateContent(type, command, this.limits.maxContentBytes) : sourceVersion.content;
    const config = command.config !== undefined && command.config !== null ? validateConfig(command.config) : (sourceVersion?.config ?? {});
    const tags = validateTags(command.tags ?? (source ? await this.tagsOf(source.id) : []));
    const now = new Date();
    const prompt = newPrompt(
      {
        name,
        type,
        description: optionalText(command.description, "description", LIMITS.descriptionLength) ?? source?.description ?? null,
        category: optionalText(command.category, "category", LIMITS.categoryLength) ?? source?.category ?? null,
      },
      now,
    );
    const version = buildVersion(1, content, config, { ...command, author: command.author ?? actor }, now);
    if (await this.repo.findByName(name)) throw this.nameTaken(name);
    const includes = await this.resolveIncludes(content, name);
    const relationships = source ? [{ targetId: source.id, type: "DERIVED_FROM", note: null, createdBy: actor }] : [];
    try {
      await this.repo.create(prompt, version, tags, { includes, relationships });
    } catch (error) {
      // Another writer took the name between the check and the insert.
      if (isUniqueViolation(error)) throw this.nameTaken(name);
      throw error;
    }
    this.publish("CREATED", prompt, 1, now, { actor });
    return { prompt, version: versionRecordOf(prompt.id, version, content, config) };
  }

  /**
   * Creates many prompts at once with the same rules as create(), for bulk jobs: each command
   * is validated on its own (its error is its result), names are checked in one query, and
   * the valid ones are written in a few multi-row statements. Commands with copyFrom or
   * includes need the one-by-one path and are refused here.
   */
  async createMany(commands: CreatePromptCommand[], actor: string | null): Promise<CreateManyResult[]> {
    const now = new Date();
    const planned = planBatch(commands, actor, now, this.limits);
    const taken = new Set((await this.repo.findByNames(namesOf(planned))).map((p) => p.name));
    const results = settleNames(planned, taken);
    const valid = results.flatMap((r) => ("error" in r ? [] : [r]));
    await this.repo.insertMany(valid);
    for (const r of valid) this.publish("CREATED", r.prompt, 1, now, { actor });
    return results.map((r) => ("error" in r ? { error: r.error } : { prompt: r.prompt }));
  }

  /** Whether createMany can take this command (no copyFrom, no includes to resolve). */
  static batchable(command: CreatePromptCommand): boolean {
    return batchable(command);
  }

  async tagsOf(promptId: string): Promise<string[]> {
    return (await this.repo.tagsByPromptIds([promptId])).get(promptId) ?? [];
  }

  /**
   * The include edges of new content: every `{{> name}}` must name an existing prompt (and an
   * existing version when pinned to one). Cycles are checked where the edges are written.
   */
  private async resolveIncludes(content: PromptContent, selfName: string): Promise<IncludeEdge[]> {
    const refs = parseIncludes(content);
    if (refs.length === 0) return [];
    const self = refs.find((ref) => ref.name === selfName);
    if (self) throw badInput("content", `include cycle: ${selfName} includes itself`, { cycle: [selfName, selfName] });
    const targets = new Map((await this.repo.findByNames(refs.map((r) => r.name))).map((p) => [p.name, p]));
    const edges = new Map<string, IncludeEdge>();
    for (const ref of refs) {
      const target = targets.get(ref.name);
      if (!target) throw badInput("content", `${ref.raw} includes an unknown prompt: ${ref.name}`, { include: ref.name });
      if (ref.version !== null && ref.version > target.latestVersionNumber) {
        throw badInput("content", `${ref.raw}: ${ref.name} has no version ${ref.version}`, { include: ref.name });
      }
      if (!edges.has(target.id)) edges.set(target.id, { includedId: target.id, selector: selectorOf(ref) });
    }
    return [...edges.values()];
  }

  async update(ref: PromptRef, command: UpdatePromptCommand, options: UpdateOptions = {}): Promise<UpdateResult> {
    const actor = options.actor ?? null;
    const { prompt, latest } = await this.getWithLatest(ref);
    if (prompt.archivedAt) {
      throw new AppError("FAILED_PRECONDITION", `prompt ${prompt.name} is archived; restore it before changing it`, {
        field: "prompt",
      });
    }
    if (command.expectedVersion != null && command.expectedVersion !== prompt.latestVersionNumber) {
      throw this.conflict(prompt, command.expectedVersion);
    }
    if (!latest) throw new Error(`prompt ${prompt.id} has no version ${prompt.latestVersionNumber}`);

    const contentGiven = command.text != null || command.messages != null;
    const content = contentGiven ? validateContent(prompt.type, command, this.limits.maxContentBytes) : latest.content;
    const config = command.config !== undefined ? validateConfig(command.config) : latest.config;
    const description = optionalText(command.description, "description", LIMITS.descriptionLength);
    const category = optionalText(command.category, "category", LIMITS.categoryLength);
    const tags = command.tags != null ? validateTags(command.tags) : undefined;
    optionalText(command.commitMessage, "commitMessage", LIMITS.commitMessageLength);
    optionalText(command.author, "author", LIMITS.authorLength);

    const now = new Date();
    const newHash = contentHash(content, config);
    const version =
      newHash === latest.contentHash
        ? null
        : buildVersion(prompt.latestVersionNumber + 1, content, config, { ...command, author: command.author ?? actor }, now);
    const includes = version ? await this.resolveIncludes(content, prompt.name) : undefined;
    const targetVersion = version ? version.number : prompt.latestVersionNumber;
    const labelMoves: LabelMove[] = (options.moveLabels?.labels ?? []).map((label) => ({
      label,
      toVersion: targetVersion,
      actor,
      reason: options.moveLabels?.reason ?? null,
    }));
    const metadataChanged =
      (description !== undefined && description !== prompt.description) ||
      (category !== undefined && category !== prompt.category) ||
      tags !== undefined;
    if (!version && !metadataChanged && labelMoves.length === 0) return { prompt, version: null };

    let applied;
    try {
      applied = await this.repo.update(
        prompt.id,
        prompt.latestVersionNumber,
        { description, category, tags, updatedAt: now },
        version,
        { includes, labelMoves },
      );
    } catch (error) {
      if (error instanceof IncludeCycleError) throw badInput("content", error.message, { cycle: error.path });
      throw error;
    }
    // Lost the compare-and-set: another writer created a version, or archived the prompt, after we read it.
    if (!applied) {
      const current = await this.repo.findById(prompt.id);
      if (current?.archivedAt) {
        throw new AppError("FAILED_PRECONDITION", `prompt ${prompt.name} was archived meanwhile; restore it before changing it`, { field: "prompt" });
      }
      throw this.conflict(prompt, prompt.latestVersionNumber);
    }

    const updated: PromptRecord = {
      ...prompt,
      description: description === undefined ? prompt.description : description,
      category: category === undefined ? prompt.category : category,
      latestVersionNumber: version ? version.number : prompt.latestVersionNumber,
      updatedAt: now,
    };
    if (version) this.publish("VERSION_CREATED", updated, version.number, now, { actor });
    else if (metadataChanged) this.publish("UPDATED", updated, updated.latestVersionNumber, now, { actor });
    for (const moved of applied.labelEvents) {
      this.publish("LABEL_MOVED", updated, moved.toVersion, now, { label: moved.label, fromVersion: moved.fromVersion, actor });
    }
    return { prompt: updated, version: version && versionRecordOf(updated.id, version, content, config) };
  }

  /** Archived prompts leave default listings and cannot be changed; archiving twice is a no-op. */
  async archive(ref: PromptRef): Promise<PromptRecord> {
    const prompt = await this.get(ref);
    if (prompt.archivedAt) return prompt;
    const archived = await this.repo.setArchivedAt(prompt.id, new Date());
    this.publish("ARCHIVED", archived, archived.latestVersionNumber, archived.updatedAt);
    return archived;
  }

  async restore(ref: PromptRef): Promise<PromptRecord> {
    const prompt = await this.get(ref);
    if (!prompt.archivedAt) return prompt;
    const restored = await this.repo.setArchivedAt(prompt.id, null);
    this.publish("RESTORED", restored, restored.latestVersionNumber, restored.updatedAt);
    return restored;
  }

  /** Deletes the prompt and all its versions for good. */
  async delete(ref: PromptRef): Promise<PromptRecord> {
    const prompt = await this.get(ref);
    const dependents = (await this.repo.includedBy([prompt.id])).get(prompt.id) ?? [];
    if (dependents.length > 0) {
      const names = (await this.repo.findByIds(dependents)).map((p) => p.name).sort();
      throw new AppError("FAILED_PRECONDITION", `prompt ${prompt.name} is included by ${names.join(", ")}; remove those includes first`, {
        field: "prompt",
        dependents: names,
      });
    }
    if (!(await this.repo.delete(prompt.id))) throw notFound("prompt", "prompt", prompt.id);
    this.publish("DELETED", prompt, prompt.latestVersionNumber, new Date());
    return prompt;
  }

  async list(query: ListPromptsQuery): Promise<Page<PromptRecord> & { cursor: (p: PromptRecord) => string }> {
    const limit = pageSize(query.first);
    const order = query.orderBy ?? "NAME";
    const direction = query.direction ?? (order === "NAME" ? "ASC" : "DESC");
    const filter = normalizeFilter(query);
    const after = query.after ? decodePromptCursor(query.after, order, direction) : undefined;
    const rows = limit === 0 ? [] : await this.repo.list(filter, order, direction, limit + 1, after);
    const cursor = (p: PromptRecord) => encodePromptCursor(p, order, direction);
    return { ...toPage(rows, limit, after !== undefined), cursor };
  }

  count(query: ListPromptsQuery): Promise<number> {
    return this.repo.count(normalizeFilter(query));
  }

  private nameTaken(name: string) {
    return nameTaken(name);
  }

  private conflict(prompt: PromptRecord, expected: number) {
    return new AppError(
      "CONFLICT",
      `prompt ${prompt.name} changed since version ${expected}; reload it and apply your change again`,
      { field: "expectedVersion", expectedVersion: expected, latestVersion: prompt.latestVersionNumber },
    );
  }

  private publish(
    type: PromptEventType,
    prompt: PromptRecord,
    versionNumber: number | null,
    at: Date,
    extra: { label?: string; fromVersion?: number | null; actor?: string | null } = {},
  ) {
    this.events.publish("prompt.events", {
      type,
      promptId: prompt.id,
      promptName: prompt.name,
      versionNumber,
      occurredAt: at.toISOString(),
      label: extra.label ?? null,
      fromVersion: extra.fromVersion ?? null,
      actor: extra.actor ?? null,
    });
  }
}


/** Which column a reference names: exactly one of id and name (a name is trimmed). */
function refLookup(ref: PromptRef, field: string): { column: "id" | "name"; value: string } {
  const hasId = ref.id != null && ref.id !== "";
  const hasName = ref.name != null && ref.name !== "";
  if (hasId === hasName) throw badInput(field, `give exactly one of ${field}.id and ${field}.name`);
  return hasId ? { column: "id", value: ref.id! } : { column: "name", value: ref.name!.trim() };
}

function refNotFound(ref: PromptRef, field: string): AppError {
  return ref.id != null && ref.id !== "" ? notFound("prompt", `${field}.id`, ref.id) : notFound("prompt", `${field}.name`, ref.name);
}
