/**
 * The wire-format helpers of `grpo serve`: OpenAI's stop convention, how much of a growing
 * completion may be streamed, and request validation naming the offending parameter.
 */
import { describe, expect, it } from "vitest";
import { cutBeforeStop, HttpError, parseChatRequest, streamableLength, toChatMessages } from "../../src/server/protocol.js";

describe("stop strings", () => {
  it("cut before the earliest stop string", () => {
    expect(cutBeforeStop("hello world. bye", ["bye", "."])).toEqual({ text: "hello world", stopped: true });
    expect(cutBeforeStop("hello", ["x"])).toEqual({ text: "hello", stopped: false });
  });

  it("hold back a tail that could still become a stop string, and nothing else", () => {
    expect(streamableLength("Hello wor", ["world"])).toBe("Hello ".length);
    expect(streamableLength("Hello w", ["world", "wx"])).toBe("Hello ".length);
    expect(streamableLength("Hello", ["world"])).toBe(5);
    expect(streamableLength("Hello world!", ["world"])).toBe("Hello ".length);
    expect(streamableLength("abc", [])).toBe(3);
  });
});

describe("parseChatRequest", () => {
  const ok = { model: "m", messages: [{ role: "user", content: "hi" }] };

  it("reads OpenAI's message forms: text parts, developer as system, null content", () => {
    const request = parseChatRequest({
      ...ok,
      messages: [{ role: "developer", content: "rules" }, { role: "user", content: [{ type: "text", text: "a" }, { type: "text", text: "b" }] },
        { role: "assistant", content: null }, { role: "tool", content: "5", name: "calculator", tool_call_id: "x" }],
      presence_penalty: 0.5,
    });
    expect(toChatMessages(request)).toEqual([
      { role: "system", content: "rules" }, { role: "user", content: "ab" }, { role: "assistant", content: "" },
      { role: "tool", content: "5", name: "calculator" },
    ]);
  });

  it("names the parameter in a 400", () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...ok, top_p: 0 }, "top_p"],
      [{ ...ok, stop: ["a", "b", "c", "d", "e"] }, "stop"],
      [{ ...ok, seed: 1.5 }, "seed"],
      [{ ...ok, stream: "yes" }, "stream"],
      [{ messages: ok.messages }, "model"],
      [{ ...ok, messages: [{ role: "user", content: 3 }] }, "messages[0].content"],
    ];
    for (const [body, param] of cases) {
      let error: unknown;
      try {
        parseChatRequest(body);
      } catch (e) {
        error = e;
      }
      expect(error, param).toBeInstanceOf(HttpError);
      expect((error as HttpError).status).toBe(400);
      expect((error as HttpError).body().error).toMatchObject({ type: "invalid_request_error", param });
      expect((error as HttpError).message).toContain(`\`${param}\``);
    }
  });
});
