import { pino, type Logger as PinoLogger } from "pino";
import type { LogLevel } from "./config.js";

export type Logger = PinoLogger;

/** JSON lines on stdout; pino because it formats and writes faster than console and hand-rolled JSON. */
export function createLogger(level: LogLevel): Logger {
  return pino({
    level,
    base: { service: "prompt-store" },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: pino.stdSerializers.err },
  });
}
