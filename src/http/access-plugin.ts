// What every operation passes before it runs, over HTTP (an Apollo plugin) and graphql-ws
// (onSubscribe) alike: the caller's role against the policy, then the per-operation limits.
import { GraphQLError, type DocumentNode, type GraphQLSchema } from "graphql";
import type { ApolloServerPlugin } from "@apollo/server";
import type { AuditService } from "../audit/audit.service.js";
import { authorize, rootFields, selectOperation, type AccessOptions } from "../auth/policy.js";
import type { Principal } from "../auth/principal.js";
import type { AppContext } from "../context.js";
import { checkOperationLimits, limitVariables, type OperationLimits } from "../limits/query-limits.js";

export interface OperationGate {
  /** Errors to answer with instead of running the operation; empty when it may run. */
  check(args: {
    document: DocumentNode;
    operationName: string | null | undefined;
    variables: Record<string, unknown> | null | undefined;
    principal: Principal;
    requestId: string;
  }): Promise<GraphQLError[]>;
}

/** Most variable sets remembered per document: enough for the handful a client really sends. */
const LIMIT_RESULTS_PER_DOCUMENT = 32;
const MAX_REMEMBERED_VARIABLES = 1_024;

export function createOperationGate(schema: GraphQLSchema, access: AccessOptions, limits: OperationLimits, audit: AuditService): OperationGate {
  // Costing an operation is most of the gate's work, and the answer depends only on the document
  // (Apollo hands the same parsed DocumentNode for a repeated query), the operation and the values
  // of the few variables that can change the cost (page sizes, directive arguments): a query
  // served with a different name or variables each time is costed once.
  const known = new WeakMap<DocumentNode, Map<string, { names: string[] | null; results: Map<string, GraphQLError[]> }>>();
  const limitsOf = (document: DocumentNode, operationName: string | null | undefined, variables: Record<string, unknown> | null | undefined) => {
    let operations = known.get(document);
    if (!operations) known.set(document, (operations = new Map()));
    const operationKey = operationName ?? "";
    let entry = operations.get(operationKey);
    if (!entry) {
      // A document names few operations; a client inventing operation names gets no entries.
      if (operations.size >= LIMIT_RESULTS_PER_DOCUMENT) return checkOperationLimits({ schema, document, operationName, variables, limits });
      operations.set(operationKey, (entry = { names: limitVariables(schema, document, operationName), results: new Map() }));
    }
    // Big values (page sizes given as objects, say) are costed each time rather than kept as keys.
    let vars: string;
    try {
      // [value] or [] for a variable not given (its default applies), so null and absent differ.
      vars = JSON.stringify(entry.names?.map((name) => (variables && Object.hasOwn(variables, name) ? [variables[name]] : [])) ?? []);
    } catch {
      // Too deep to serialise: the JSON scalars refuse such a value when the variables are coerced.
      return checkOperationLimits({ schema, document, operationName, variables, limits });
    }
    if (vars.length > MAX_REMEMBERED_VARIABLES) return checkOperationLimits({ schema, document, operationName, variables, limits });
    let errors = entry.results.get(vars);
    if (!errors) {
      errors = checkOperationLimits({ schema, document, operationName, variables, limits });
      if (entry.results.size >= LIMIT_RESULTS_PER_DOCUMENT) entry.results.delete(entry.results.keys().next().value!);
      entry.results.set(vars, errors);
    }
    return errors;
  };
  return {
    async check({ document, operationName, variables, principal, requestId }) {
      const refused = authorize(document, operationName, principal, access);
      if (refused) {
        // A key's refused mutation is an attempt worth keeping.
        const operation = selectOperation(document, operationName);
        if (operation?.operation === "mutation" && principal.role) {
          const fields = [...rootFields(document, operation)].filter((f) => !f.startsWith("__"));
          await audit.denied(principal, fields, requestId, String(refused.extensions.code));
        }
        return [refused];
      }
      return limitsOf(document, operationName, variables);
    },
  };
}

const STATUS: Record<string, number> = { UNAUTHENTICATED: 401, FORBIDDEN: 403, QUERY_LIMIT_EXCEEDED: 400 };

/** The gate as an Apollo plugin: a refusal ends the request before execution, with its HTTP status. */
export function operationGatePlugin(gate: OperationGate): ApolloServerPlugin<AppContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, request, contextValue, operation }) {
          // Subscriptions are served over graphql-ws; over HTTP their resolvers would run without an event.
          if (operation?.operation === "subscription") {
            throw new GraphQLError("subscriptions are served over WebSocket (graphql-transport-ws) at this path, not over HTTP", {
              extensions: { code: "BAD_REQUEST", http: { status: 400 } },
            });
          }
          const errors = await gate.check({
            document,
            operationName: request.operationName,
            variables: request.variables,
            principal: contextValue.viewer,
            requestId: contextValue.requestId,
          });
          if (errors.length === 0) return;
          const first = errors[0]!;
          const code = String(first.extensions.code);
          const headers = new Map<string, string>(code === "UNAUTHENTICATED" ? [["www-authenticate", 'Bearer realm="prompt-store"']] : []);
          // Apollo answers one error thrown here; the others are folded into its message.
          throw new GraphQLError(errors.map((e) => e.message).join("; "), {
            extensions: { ...first.extensions, http: { status: STATUS[code] ?? 400, headers } },
          });
        },
      };
    },
  };
}
