// Client side of the agent's unix-socket protocol, for meridian-cni and the CLI.
import http from "node:http";

export class AgentUnreachableError extends Error {
  constructor(
    readonly socketPath: string,
    cause: Error,
  ) {
    super(`cannot reach the meridian agent at ${socketPath}: ${cause.message}`);
    this.name = "AgentUnreachableError";
  }
}

export interface LocalResponse {
  status: number;
  body: unknown;
}

export function callAgent(
  socketPath: string,
  method: "GET" | "POST",
  urlPath: string,
  body?: unknown,
  timeoutMs = 120_000,
): Promise<LocalResponse> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        socketPath,
        method,
        path: urlPath,
        headers: payload
          ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }
          : {},
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = text;
          if ((res.headers["content-type"] ?? "").includes("json")) {
            try {
              parsed = JSON.parse(text);
            } catch {
              // leave as text: the caller reports it verbatim
            }
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (err: NodeJS.ErrnoException) => {
      // Connection-level failures mean "agent not there (yet)"; the runtime should retry.
      if (["ENOENT", "ECONNREFUSED", "ECONNRESET", "EACCES"].includes(err.code ?? "") || !err.code) {
        reject(new AgentUnreachableError(socketPath, err));
      } else reject(err);
    });
    req.end(payload);
  });
}

/** Streams newline-delimited JSON (used by `flows --follow`). Resolves when the stream ends. */
export function streamAgent(
  socketPath: string,
  urlPath: string,
  onItem: (item: unknown) => void,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method: "GET", path: urlPath, signal }, (res) => {
      let buf = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        buf += chunk;
        let nl = buf.indexOf("\n");
        while (nl >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line) onItem(JSON.parse(line));
          nl = buf.indexOf("\n");
        }
      });
      res.on("end", () => resolve());
      res.on("error", reject);
    });
    req.on("error", (err: NodeJS.ErrnoException) => {
      if (err.name === "AbortError") resolve();
      else reject(new AgentUnreachableError(socketPath, err));
    });
    req.end();
  });
}
