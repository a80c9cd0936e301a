import { AppError, badInput } from "../../errors.js";
import type { EventPublisher } from "../../subscriptions/topics.js";
import { validateRelationshipType } from "../relationships/relationship.service.js";
import { validateLabel } from "./label.service.js";
import {
  LIMITS,
  optionalText,
  validateConfig,
  validateContent,
  validateName,
  validateTags,
  type PromptContent,
} from "./prompt.logic.js";
import type { Tx } from "./label.repository.js";
import type { IncludeEdge } from "./include-graph.js";
import { isUniqueViolation, type NewVersion, type PromptRecord, type PromptRepository } from "./prompt.repository.js";
import type { PromptService } from "./prompt.service.js";
import { parseIncludes, selectorOf } from "./template.logic.js";
import { buildVersion, newPrompt } from "./version.factory.js";
import type { TransferRepository } from "./transfer.repository.js";
import { exportDocument, exportedPrompt, type ExportedPrompt } from "./transfer.format.js";

export type ConflictMode = "SKIP" | "NEW_VERSION" | "FAIL";
export type ImportStatus = "CREATED" | "NEW_VERSION" | "UNCHANGED" | "SKIPPED" | "FAILED";

export interface ImportItem {
  index: number;
  name: string;
  status: ImportStatus;
  versionsCreated: number;
  error: { code: string; message: string } | null;
  warnings: string[];
}

/** A document prompt that passed validation, ready to write. */
interface Planned {
  index: number;
  doc: ExportedPrompt;
  name: string;
  versions: { content: PromptContent; number: number; raw: ExportedPrompt["versions"][number] }[];
  includes: string[];
}

export class ImportService {
  constructor(
    private readonly prompts: PromptService,
    private readonly repo: PromptRepository,
    private readonly transfer: TransferRepository,
    private readonly events: EventPublisher,
    private readonly limits: { maxContentBytes: number },
  ) {}

  /** This service inside an open transaction (bulk jobs); `prompts` must be bound to the same one. */
  withTx(tx: Tx, events: EventPublisher, prompts: PromptService): ImportService {
    return new ImportService(prompts, this.repo.withTx(tx), this.transfer.withTx(tx), events, this.limits);
  }

  /**
   * Imports an export document. New prompts keep their whole history; existing ones are
   * skipped, get the document's latest version as a new version, or (FAIL) stop the import
   * before anything is written. Each prompt is written in its own transaction; a bad prompt
   * is reported and the others go on.
   */
  async import(document: unknown, mode: ConflictMode, actor: string | null): Promise<ImportItem[]> {
    const parsed = exportDocument.safeParse(document);
    if (!parsed.success) throw badInput("document", `not a Prompt Store export document: ${parsed.error.issues[0]?.message}`);
    const items: ImportItem[] = [];
    const planned: Planned[] = [];
    parsed.data.prompts.forEach((raw, index) => {
      const item: ImportItem = { index, name: nameOf(raw), status: "FAILED", versionsCreated: 0, error: null, warnings: [] };
      items.push(item);
      try {
        planned.push(this.plan(raw, index));
      } catch (error) {
        item.error = errorOf(error);
      }
    });
    const seen = new Set<string>();
    for (const plan of planned) {
      if (seen.has(plan.name)) items[plan.index]!.error = { code: "BAD_USER_INPUT", message: `${plan.name} appears twice in the document` };
      seen.add(plan.name);
    }
    const valid = planned.filter((p) => items[p.index]!.error === null);
    const existing = new Map((await this.repo.findByNames(valid.map((p) => p.name))).map((p) => [p.name, p]));
    if (mode === "FAIL" && existing.size > 0) {
      throw new AppError("CONFLICT", `these prompts already exist: ${[...existing.keys()].sort().join(", ")}`, {
        field: "onConflict",
        names: [...existing.keys()].sort(),
      });
    }

    const fresh = valid.filter((p) => !existing.has(p.name));
    // Prompts of the store that new prompts include: they must exist before the includers.
    const inStore = new Map(existing);
    const outside = [...new Set(fresh.flatMap((p) => p.includes))].filter((name) => !inStore.has(name));
    for (const prompt of await this.repo.findByNames(outside)) inStore.set(prompt.name, prompt);
    const created = new Map<string, PromptRecord>();
    for (const plan of this.creationOrder(fresh, inStore, items)) {
      const item = items[plan.index]!;
      try {
        const prompt = await this.createOne(plan, created, inStore);
        created.set(plan.name, prompt);
        Object.assign(item, { status: "CREATED", versionsCreated: plan.versions.length });
        // Each prompt commits on its own: announce it now, whatever happens to the rest.
        this.events.publish("prompt.events", {
          type: "CREATED",
          promptId: prompt.id,
          promptName: prompt.name,
          versionNumber: prompt.latestVersionNumber,
          occurredAt: new Date().toISOString(),
          actor,
        });
      } catch (error) {
        item.error = errorOf(error);
      }
    }
    for (const plan of valid.filter((p) => existing.has(p.name))) {
      const item = items[plan.index]!;
      if (mode === "SKIP") {
        item.status = "SKIPPED";
        continue;
      }
      const latest = plan.versions.at(-1)!;
      try {
        const result = await this.prompts.update(
          { id: existing.get(plan.name)!.id },
          { ...contentInput(latest.content), config: latest.raw.config ?? {}, commitMessage: latest.raw.commitMessage ?? "Imported" },
          { actor },
        );
        Object.assign(item, { status: result.version ? "NEW_VERSION" : "UNCHANGED", versionsCreated: result.version ? 1 : 0 });
      } catch (error) {
        item.error = errorOf(error);
      }
    }
    await this.linkAll(valid, items, created, actor);
    return items;
  }

  private plan(raw: unknown, index: number): Planned {
    const parsed = exportedPrompt.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw badInput(`prompts[${index}].${issue.path.join(".")}`, `prompts[${index}].${issue.path.join(".")}: ${issue.message}`);
    }
    const doc = parsed.data;
    const name = validateName(doc.name);
    const versions = doc.versions.map((v, i) => {
      if (v.number !== i + 1) throw badInput("versions", `${name}: versions must be numbered 1, 2, 3... in order (found ${v.number} at ${i + 1})`);
      const content = validateContent(doc.type, { text: v.content, messages: v.messages }, this.limits.maxContentBytes);
      validateConfig(v.config ?? {});
      return { content, number: v.number, raw: v };
    });
    for (const label of doc.labels) {
      validateLabel(label.name, "labels");
      if (label.version > versions.length) throw badInput("labels", `${name}: label ${label.name} points at missing version ${label.version}`);
    }
    validateTags(doc.tags);
    doc.relationships.forEach((r) => {
      validateRelationshipType(r.type, "relationships");
      if (r.target === name) throw badInput("relationships", `${name} cannot be linked to itself`);
    });
    const includes = parseIncludes(versions.at(-1)!.content).map((ref) => ref.name);
    return { index, doc, name, versions, includes };
  }

  /**
   * Orders new prompts so that every included prompt is written before its includer
   * (the include foreign key needs it). Prompts in an include cycle, or including an
   * unknown prompt, fail, and so do the prompts that include them.
   */
  private creationOrder(fresh: Planned[], existing: Map<string, PromptRecord>, items: ImportItem[]): Planned[] {
    const byName = new Map(fresh.map((p) => [p.name, p]));
    const order: Planned[] = [];
    const state = new Map<string, "visiting" | "done" | "failed">();
    const visit = (plan: Planned, path: string[]): boolean => {
      const s = state.get(plan.name);
      if (s === "done") return true;
      if (s === "failed") return false;
      if (s === "visiting") {
        items[plan.index]!.error ??= { code: "BAD_USER_INPUT", message: `include cycle: ${[...path, plan.name].join(" -> ")}` };
        return false;
      }
      state.set(plan.name, "visiting");
      for (const target of plan.includes) {
        const dep = byName.get(target);
        const ok = dep ? visit(dep, [...path, plan.name]) : existing.has(target);
        if (!ok) {
          items[plan.index]!.error ??= { code: "BAD_USER_INPUT", message: `${plan.name} includes ${target}, which is neither in the store nor importable` };
          state.set(plan.name, "failed");
          return false;
        }
      }
      state.set(plan.name, "done");
      order.push(plan);
      return true;
    };
    fresh.forEach((plan) => visit(plan, []));
    return order;
  }

  private async createOne(plan: Planned, created: Map<string, PromptRecord>, existing: Map<string, PromptRecord>): Promise<PromptRecord> {
    const { doc } = plan;
    const now = new Date();
    const prompt = newPrompt(
      {
        name: plan.name,
        type: doc.type,
        description: optionalText(doc.description, "description", LIMITS.descriptionLength) ?? null,
        category: optionalText(doc.category, "category", LIMITS.categoryLength) ?? null,
        latestVersionNumber: plan.versions.length,
        createdAt: doc.createdAt ? new Date(doc.createdAt) : now,
        archivedAt: doc.archivedAt ? new Date(doc.archivedAt) : null,
      },
      now,
    );
    const versions: NewVersion[] = plan.versions.map(({ content, number, raw }) =>
      buildVersion(number, content, validateConfig(raw.config ?? {}), { ...raw, createdAt: raw.createdAt ? new Date(raw.createdAt) : undefined }, now),
    );
    const includes: IncludeEdge[] = [];
    for (const ref of parseIncludes(plan.versions.at(-1)!.content)) {
      const target = created.get(ref.name) ?? existing.get(ref.name);
      // Its dependency failed to import (or vanished): importing this one would leave a broken include.
      if (!target) throw badInput("content", `${plan.name} includes ${ref.name}, which could not be imported`, { include: ref.name });
      if (!includes.some((e) => e.includedId === target.id)) includes.push({ includedId: target.id, selector: selectorOf(ref) });
    }
    await this.transfer.importNew(prompt, versions, validateTags(doc.tags), doc.labels, includes);
    return prompt;
  }

  /** Relationships last, when every target that will exist does. */
  private async linkAll(valid: Planned[], items: ImportItem[], created: Map<string, PromptRecord>, actor: string | null) {
    const targets = new Map((await this.repo.findByNames([...new Set(valid.flatMap((p) => p.doc.relationships.map((r) => r.target)))])).map((p) => [p.name, p]));
    for (const plan of valid) {
      const source = created.get(plan.name);
      if (!source) continue;
      const links = [];
      for (const r of plan.doc.relationships) {
        const target = targets.get(r.target);
        if (!target) items[plan.index]!.warnings.push(`relationship ${r.type} to ${r.target} skipped: no such prompt`);
        else links.push({ targetId: target.id, type: validateRelationshipType(r.type), note: r.note ?? null, createdBy: actor });
      }
      await this.transfer.addLinks(source.id, links);
    }
  }
}

function nameOf(raw: unknown): string {
  return raw !== null && typeof raw === "object" && typeof (raw as { name?: unknown }).name === "string" ? (raw as { name: string }).name : "";
}

function errorOf(error: unknown): { code: string; message: string } {
  if (error instanceof AppError) return { code: error.code, message: error.message };
  // Another writer took the name after the import looked: that prompt conflicts, the others go on.
  if (isUniqueViolation(error)) return { code: "CONFLICT", message: "a prompt with this name was created meanwhile" };
  throw error;
}

function contentInput(content: PromptContent) {
  return content.type === "TEXT" ? { text: content.text } : { messages: content.messages };
}
