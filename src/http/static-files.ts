import { createReadStream, existsSync, statSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { extname, join, normalize, sep } from "node:path";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".ttf": "font/ttf",
  ".map": "application/json",
};

/**
 * Serves a built single-page bundle (the GraphiQL playground) below a URL prefix.
 * Hashed assets are immutable; index.html is revalidated so a rebuild shows at once.
 */
export class StaticBundle {
  constructor(
    private readonly root: string,
    private readonly prefix: string,
  ) {}

  get built(): boolean {
    return existsSync(join(this.root, "index.html"));
  }

  /** Answers the request when the path is inside the bundle; returns false when it is not handled. */
  serve(pathname: string, method: string, res: ServerResponse): boolean {
    if (pathname !== this.prefix && !pathname.startsWith(`${this.prefix}/`)) return false;
    if (method !== "GET" && method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" }).end("Method Not Allowed\n");
      return true;
    }
    if (!this.built) {
      res
        .writeHead(503, { "content-type": "text/plain; charset=utf-8" })
        .end("The GraphiQL bundle is not built: run `npm run build:graphiql`.\n");
      return true;
    }
    let relative: string;
    try {
      relative = decodeURIComponent(pathname.slice(this.prefix.length)).replace(/^\/+/, "");
    } catch {
      res.writeHead(400, { "content-type": "text/plain" }).end("Bad Request\n");
      return true;
    }
    if (relative === "") relative = "index.html";
    const file = normalize(join(this.root, relative));
    if (!file.startsWith(this.root + sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { "content-type": "text/plain" }).end("Not Found\n");
      return true;
    }
    const isIndex = relative === "index.html";
    res.writeHead(200, {
      "content-type": TYPES[extname(file)] ?? "application/octet-stream",
      "content-length": statSync(file).size,
      "cache-control": isIndex ? "no-cache" : "public, max-age=31536000, immutable",
      "x-content-type-options": "nosniff",
    });
    if (method === "HEAD") res.end();
    else createReadStream(file).pipe(res);
    return true;
  }
}
