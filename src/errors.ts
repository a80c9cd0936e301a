import { GraphQLError, type GraphQLFormattedError } from "graphql";
import { unwrapResolverError } from "@apollo/server/errors";

/** The stable `extensions.code` values clients may rely on. */
export type ErrorCode =
  | "NOT_FOUND"
  | "BAD_USER_INPUT"
  | "CONFLICT"
  | "FORBIDDEN"
  | "UNAUTHENTICATED"
  | "FAILED_PRECONDITION"
  | "RATE_LIMITED"
  | "UPSTREAM_UNAVAILABLE";

export type ErrorDetails = Record<string, unknown>;

/** An expected failure: its message and details are meant for the client. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetails = {},
  ) {
    super(message);
    this.name = "AppError";
  }
}

export const badInput = (field: string, message: string, details: ErrorDetails = {}) =>
  new AppError("BAD_USER_INPUT", message, { field, ...details });

export const notFound = (what: string, field: string, value: unknown) =>
  new AppError("NOT_FOUND", `${what} not found: ${String(value)}`, { field, value });

/**
 * Apollo's own codes for errors it raises before resolvers run (parse, validation,
 * variable coercion, bad request); they describe the client's request and pass through.
 */
const PASS_THROUGH_CODES = new Set([
  "GRAPHQL_PARSE_FAILED",
  "GRAPHQL_VALIDATION_FAILED",
  "BAD_USER_INPUT",
  "BAD_REQUEST",
  "PERSISTED_QUERY_NOT_FOUND",
  "PERSISTED_QUERY_NOT_SUPPORTED",
  "OPERATION_RESOLUTION_FAILURE",
  // Raised by the operation gate (src/http/access-plugin.ts) before execution, for the client.
  "UNAUTHENTICATED",
  "FORBIDDEN",
  "QUERY_LIMIT_EXCEEDED",
  "RATE_LIMITED",
]);

/**
 * graphql-js coerces field arguments while it executes. What it refuses there is the request's
 * fault, not ours: validation lets a nullable variable stand where a non-null argument (or input
 * field) has a default, and an explicit null for it is only refused at this point.
 */
const ARGUMENT_COERCION = /^Argument "[^"]+" (?:of non-null type "[^"]+" must not be null|has invalid value )/;

function isArgumentCoercionError(error: unknown): boolean {
  const original = unwrapResolverError(error);
  return (
    original instanceof GraphQLError &&
    original.originalError === undefined &&
    original.extensions?.code === undefined &&
    ARGUMENT_COERCION.test(original.message)
  );
}

/** True when an error is not one the client caused or may see: it is masked and logged. */
export function isUnexpected(error: unknown, formattedCode?: unknown): boolean {
  const original = unwrapResolverError(error);
  if (original instanceof AppError) return false;
  if (isArgumentCoercionError(error)) return false;
  if (typeof formattedCode === "string" && PASS_THROUGH_CODES.has(formattedCode)) return false;
  if (error instanceof GraphQLError || original instanceof GraphQLError) {
    const code = (error instanceof GraphQLError ? error : (original as GraphQLError)).extensions?.code;
    return !(typeof code === "string" && PASS_THROUGH_CODES.has(code));
  }
  return true;
}

/**
 * Maps any error to what the client sees: AppError -> its code and details; GraphQL's
 * request errors (parse, validation, variables) unchanged; anything else becomes
 * INTERNAL_SERVER_ERROR without the internal message (the caller logs it with the request id).
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  if (original instanceof AppError) {
    return {
      message: original.message,
      ...(formatted.locations ? { locations: formatted.locations } : {}),
      ...(formatted.path ? { path: formatted.path } : {}),
      extensions: { code: original.code, ...original.details },
    };
  }
  if (isArgumentCoercionError(error)) return { ...stripStack(formatted), extensions: { code: "BAD_USER_INPUT" } };
  if (!isUnexpected(error, formatted.extensions?.code)) return stripStack(formatted);
  return {
    message: "Internal server error",
    ...(formatted.locations ? { locations: formatted.locations } : {}),
    ...(formatted.path ? { path: formatted.path } : {}),
    extensions: { code: "INTERNAL_SERVER_ERROR" },
  };
}

function stripStack(formatted: GraphQLFormattedError): GraphQLFormattedError {
  if (!formatted.extensions || !("stacktrace" in formatted.extensions)) return formatted;
  const { stacktrace: _ignored, ...extensions } = formatted.extensions;
  return { ...formatted, extensions };
}
