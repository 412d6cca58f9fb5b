/**
 * A fake OpenAI-compatible endpoint for tests: a real local HTTP server whose chat completions
 * answer from a script (text, an HTTP error, or a slow answer), recording every request body.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** One scripted answer: reply text, an HTTP error status, and/or a delay before answering. */
export interface ScriptedAnswer {
  content?: string;
  status?: number;
  delayMs?: number;
}

export interface FakeEndpoint {
  /** The API root (`http://127.0.0.1:<port>/v1`). */
  url: string;
  /** The JSON bodies received, in order. */
  requests: Array<{ model: string; messages: Array<{ role: string; content: string }>; [key: string]: unknown }>;
  close(): Promise<void>;
}

/** Starts the endpoint; answer i comes from `script[i]` (the last one repeats). */
export async function startFakeEndpoint(script: ScriptedAnswer[]): Promise<FakeEndpoint> {
  const requests: FakeEndpoint["requests"] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as FakeEndpoint["requests"][number];
      const answer = script[Math.min(requests.length, script.length - 1)];
      requests.push(body);
      const send = () => {
        if (res.destroyed) return;
        if (answer.status !== undefined && answer.status !== 200) {
          res.writeHead(answer.status, { "content-type": "application/json" });
          res.end(JSON.stringify({ error: { message: "scripted failure", type: "server_error", param: null, code: null } }));
          return;
        }
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({
          id: `chatcmpl-${requests.length}`, object: "chat.completion", created: 0, model: body.model,
          choices: [{ index: 0, message: { role: "assistant", content: answer.content ?? "" }, finish_reason: "stop", logprobs: null }],
          usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
        }));
      };
      if (answer.delayMs) setTimeout(send, answer.delayMs);
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
