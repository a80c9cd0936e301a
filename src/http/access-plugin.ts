// What every operation passes before it runs, over HTTP (an Apollo plugin) and graphql-ws
// (onSubscribe) alike: the caller's role against the policy, then the per-operation limits.
import { GraphQLError, type DocumentNode, type GraphQLSchema } from "graphql";
import type { ApolloServerPlugin } from "@apollo/server";
import type { AuditService } from "../audit/audit.service.js";
import { authorize, rootFields, selectOperation, type AccessOptions } from "../auth/policy.js";
import type { Principal } from "../auth/principal.js";
import type { AppContext } from "../context.js";
import { checkOperationLimits, type OperationLimits } from "../limits/query-limits.js";

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

export function createOperationGate(schema: GraphQLSchema, access: AccessOptions, limits: OperationLimits, audit: AuditService): OperationGate {
  return {
    async check({ document, operationName, variables, principal, requestId }) {
      const refused = authorize(document, operationName, principal, access);
      if (refused) {
        // A refused mutation is an attempt worth keeping.
        const operation = selectOperation(document, operationName);
        if (operation?.operation === "mutation") {
          const fields = [...rootFields(document, operation)].filter((f) => !f.startsWith("__"));
          await audit.denied(principal, fields, requestId, String(refused.extensions.code));
        }
        return [refused];
      }
      return checkOperationLimits({ schema, document, operationName, variables, limits });
    },
  };
}

const STATUS: Record<string, number> = { UNAUTHENTICATED: 401, FORBIDDEN: 403, QUERY_LIMIT_EXCEEDED: 400 };

/** The gate as an Apollo plugin: a refusal ends the request before execution, with its HTTP status. */
export function operationGatePlugin(gate: OperationGate): ApolloServerPlugin<AppContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, request, contextValue }) {
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
