// Who may run which root field: one table for the whole API, checked before anything executes
// (over HTTP and graphql-ws alike), so an operation is refused as a whole instead of half-run.
// tests/auth.test.ts fails when a root field of the schema is missing here.
import { Kind, type DocumentNode, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionSetNode } from "graphql";
import { GraphQLError } from "graphql";
import type { Principal, Role } from "./principal.js";

const READERS: readonly Role[] = ["ADMIN", "EDITOR", "VIEWER"];
/** What applications need besides: serving and rendering prompts (and hearing that they changed). */
const SERVING: readonly Role[] = ["ADMIN", "EDITOR", "SERVICE", "VIEWER"];
/** What applications report back. */
const REPORTING: readonly Role[] = ["ADMIN", "EDITOR", "SERVICE"];
const EDITORS: readonly Role[] = ["ADMIN", "EDITOR"];
const ADMINS: readonly Role[] = ["ADMIN"];

export const POLICY: Readonly<Record<"Query" | "Mutation" | "Subscription", Readonly<Record<string, readonly Role[]>>>> = {
  Query: {
    prompt: SERVING,
    promptVersion: SERVING,
    resolvePrompt: SERVING,
    renderPrompt: SERVING,
    prompts: READERS,
    searchPrompts: READERS,
    similarPrompts: READERS,
    diffPromptVersions: READERS,
    document: READERS,
    bulkOperation: READERS,
    bulkOperations: READERS,
    notifications: READERS,
    refinementProviders: READERS,
    refinementSession: READERS,
    refinementSessions: READERS,
    abTest: READERS,
    abTests: READERS,
    abTestResults: READERS,
    promptAnalytics: READERS,
    versionComparison: READERS,
    topPrompts: READERS,
    usageTrends: READERS,
    userActivity: READERS,
    liveUsage: READERS,
    systemHealth: READERS,
    apiKeys: ADMINS,
    auditLog: ADMINS,
  },
  Mutation: {
    createPrompt: EDITORS,
    updatePrompt: EDITORS,
    archivePrompt: EDITORS,
    restorePrompt: EDITORS,
    deletePrompt: EDITORS,
    setPromptLabel: EDITORS,
    removePromptLabel: EDITORS,
    rollbackPrompt: EDITORS,
    createPromptRelationship: EDITORS,
    deletePromptRelationship: EDITORS,
    importPrompts: EDITORS,
    startBulkOperation: EDITORS,
    cancelBulkOperation: EDITORS,
    retryBulkOperation: EDITORS,
    startRefinement: EDITORS,
    cancelRefinement: EDITORS,
    applyRefinement: EDITORS,
    rejectRefinement: EDITORS,
    createAbTest: EDITORS,
    startAbTest: EDITORS,
    pauseAbTest: EDITORS,
    resumeAbTest: EDITORS,
    completeAbTest: EDITORS,
    recordUsage: REPORTING,
    recordAbTestOutcomes: REPORTING,
    // Only the caller's own inbox changes: a viewer may keep it tidy.
    markNotificationsRead: READERS,
    createApiKey: ADMINS,
    revokeApiKey: ADMINS,
  },
  Subscription: {
    promptEvents: SERVING,
    bulkOperationProgress: READERS,
    notificationAdded: READERS,
    refinementProgress: READERS,
    abTestUpdates: READERS,
    promptAnalyticsUpdates: READERS,
  },
};

export interface AccessOptions {
  /** Whether callers without a key may run introspection (keys always may). */
  anonymousIntrospection: boolean;
}

const ROOT = { query: "Query", mutation: "Mutation", subscription: "Subscription" } as const;

/** The operation a request runs, as graphql-js would pick it; undefined when it is ambiguous. */
export function selectOperation(document: DocumentNode, operationName?: string | null): OperationDefinitionNode | undefined {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (operationName) return operations.find((op) => op.name?.value === operationName);
  return operations.length === 1 ? operations[0] : undefined;
}

/** The root fields an operation selects, through fragments and inline fragments at the top. */
export function rootFields(document: DocumentNode, operation: OperationDefinitionNode): Set<string> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const names = new Set<string>();
  const seen = new Set<string>();
  const walk = (set: SelectionSetNode) => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) names.add(selection.name.value);
      else if (selection.kind === Kind.INLINE_FRAGMENT) walk(selection.selectionSet);
      else if (!seen.has(selection.name.value)) {
        seen.add(selection.name.value);
        const fragment = fragments.get(selection.name.value);
        if (fragment) walk(fragment.selectionSet);
      }
    }
  };
  walk(operation.selectionSet);
  return names;
}

/**
 * Null when `principal` may run the operation; otherwise the error to answer with
 * (UNAUTHENTICATED without a key, FORBIDDEN for a key whose role does not allow a field).
 * An operation graphql-js cannot select is let through: execution reports it.
 */
export function authorize(
  document: DocumentNode,
  operationName: string | null | undefined,
  principal: Principal,
  options: AccessOptions,
): GraphQLError | null {
  const operation = selectOperation(document, operationName);
  if (!operation) return null;
  const rootType = ROOT[operation.operation];
  const rules = POLICY[rootType];
  const role = principal.role;
  const refused: string[] = [];
  for (const field of rootFields(document, operation)) {
    if (field === "__typename") continue;
    if (field === "__schema" || field === "__type") {
      if (!role && !options.anonymousIntrospection) refused.push(field);
      continue;
    }
    const allowed = rules[field];
    // Unknown fields fail validation; a field without a rule is refused rather than opened by omission.
    if (!role || !allowed || !allowed.includes(role)) refused.push(field);
  }
  if (refused.length === 0) return null;
  if (!role) {
    return new GraphQLError(`${refused.join(", ")} needs an API key: send "Authorization: Bearer <key>"`, {
      extensions: { code: "UNAUTHENTICATED", fields: refused },
    });
  }
  const needs = refused.map((field) => `${field} (${(rules[field] ?? ADMINS).join(" or ")})`);
  return new GraphQLError(`role ${role} may not run ${needs.join(", ")}`, {
    extensions: { code: "FORBIDDEN", fields: refused, role },
  });
}
