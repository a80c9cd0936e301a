// Open local mode makes every caller an admin; binding to 127.0.0.1 keeps other machines out, but
// not the browser on this one: a web page may open a WebSocket to 127.0.0.1 (no CORS there), or
// rebind its own host name to 127.0.0.1 and post same-origin. Both show in the request: such a
// request names a foreign Host, or a foreign Origin. Those are refused in open local mode.
import type { IncomingMessage } from "node:http";

const LOCAL_HOST = /^(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$/i;
const LOCAL_ORIGIN = /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$/i;

/** Why a request may not act as the local admin, or null when it comes from this machine's own tools. */
export function foreignRequest(req: IncomingMessage): string | null {
  const host = req.headers.host ?? "";
  if (!LOCAL_HOST.test(host)) return `open local mode answers only requests for localhost or 127.0.0.1 (Host: ${host.slice(0, 100) || "none"})`;
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== "null" && !LOCAL_ORIGIN.test(origin)) {
    return `open local mode refuses requests from web pages of other sites (Origin: ${origin.slice(0, 100)}); set PROMPT_STORE_ADMIN_KEY and use an API key`;
  }
  if (origin === "null") return "open local mode refuses requests from sandboxed or file pages (Origin: null)";
  return null;
}
