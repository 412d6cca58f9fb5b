/**
 * Renders `docs/errors.md` from the bad-input table, so the page lists exactly what the tests check.
 * Regenerate with `UPDATE_ERRORS_DOC=1 npx vitest run test/reliability/bad-input-table.test.ts`.
 */
import type { BadInput } from "./bad-input-cases.js";

const INTRO = `# Errors: what goes wrong and what you are told

Every mistake a user (or the model being trained) can make comes back as a message, never as a
crash of the process or the notebook kernel. This page lists the messages, generated from the
table that \`test/reliability/bad-input-table.test.ts\` checks word for word, so it cannot drift.

## How errors look

Library errors are \`GrpoError\`s (\`instanceof GrpoError\` catches all of them). Each has a stable
\`code\`, the offending \`field\` and \`value\`, what was \`expected\`, and a \`fix\`; the message is built
from those parts: *what is wrong. Field: … Got: … Expected: … Fix: …*. The original error, if any,
is attached as \`cause\`.

| Code | Meaning |
|---|---|
| \`invalid_config\` | A configuration object or knob is wrong (training config, agent config, environment options). |
| \`invalid_scenario\`, \`invalid_task\` | A scenario or task of an environment is malformed. |
| \`invalid_reward\` | A reward function is malformed (checked when it is built). |
| \`reward_failed\` | A reward function threw, hung past its timeout, or returned something other than a finite score. |
| \`invalid_tool\` | A tool spec is malformed (checked when the agent is built). |
| \`invalid_argument\` | A call got an argument it cannot use (including CLI flags). |
| \`invalid_json\` | A JSON file given by the user does not parse. |
| \`episode_failed\` | The agent or a custom environment failed during an episode (original error attached). |
| \`model_not_found\`, \`invalid_model\`, \`invalid_weights\` | A model name does not resolve, or a model folder is missing, malformed or truncated. |
| \`checkpoint_invalid\` | A checkpoint or run folder is missing, incomplete, edited, truncated or forged. |
| \`remote_failed\` | A remote model (an OpenAI-compatible endpoint) cannot be reached, refused the request, or did not answer in time. |
| \`distributed_failed\` | A DistributedTrainer worker crashed or its replica's weights drifted, or a Redis rollout job failed. |
| \`backend_unavailable\` | A requested TensorFlow.js backend cannot load. |
| \`aborted\` | Training was stopped through an AbortSignal (Ctrl-C, a kernel interrupt). |

Outcomes that are not thrown errors:

- **\`tool_result\`**: problems with tools and tool calls go back *to the model* as the next tool turn
  (the episode continues, and GRPO can learn to avoid them): a tool that throws, a tool that takes
  longer than \`toolTimeoutMs\` (default 5000 ms per call), output longer than \`maxToolOutputChars\`
  (default 2000 characters; cut with a marker), an unknown tool, wrong arguments, a call that is not
  JSON or not closed. No tool input or model output is ever evaluated as code.
- **\`handled\`**: a limit is enforced and training carries on, as described.

## Limits and policies

- **Episode length**: an episode ends after \`maxTurns\` agent actions even if a custom environment
  never says \`done\` (status \`TRUNCATED\`).
- **Context window (truncation policy)**: before generating, each prompt keeps its *most recent*
  \`nPositions − maxNewTokens\` tokens (it is cut from the left; \`maxNewTokens\` is capped at
  \`nPositions − 1\`), so the newest turns and the generation prompt are always seen and every row has
  room for all new tokens. The tokenizer is byte-level, so no text is out of vocabulary; token ids
  outside the vocabulary are an error.
- **Reward timeouts**: \`rewardTimeoutMs\` bounds each reward call during training. Only asynchronous
  waits can be interrupted: a synchronous infinite loop in user code blocks the process.
- **Checkpoints**: written to a temporary folder, fsynced, then renamed; \`checksums.json\` records the
  SHA-256 of every file, and every file is verified before anything is loaded. Files added later,
  symbolic links and manifest paths that leave the folder are rejected. A run folder's
  \`latest.json\` names the newest complete checkpoint; the trainer keeps the last \`saveTotalLimit\`.
  Resuming a run folder whose newest checkpoint is corrupt fails with the corrupt file's name and the
  newest intact checkpoint, unless \`fallback: true\` (CLI \`--fallback\`) is given.
- **Loading** a model or checkpoint reads only JSON and safetensors files (and an optional
  \`chat_template.jinja\`, rendered by a sandboxed template engine); PyTorch pickle files are refused,
  as are paths that escape the folder.
- **Interrupts**: \`grpo train\` stops at the end of the running step on the first Ctrl-C and saves;
  a second Ctrl-C abandons the running step (an unfinished step changes nothing) and exits after
  saving. In code, pass an \`AbortSignal\` to \`trainer.run({ signal })\` or call \`trainer.stop()\`.
`;

/**
 * Escapes a message for a Markdown table cell: `|` always, `<` and `>` outside code spans (so
 * `<tool_call>` and `<tmp>` show as text, not HTML), newlines as `<br>`.
 */
function cell(text: string): string {
  const spans = text.split("`");
  const escaped = spans.map((part, i) => (i % 2 === 0 ? part.replace(/</g, "&lt;").replace(/>/g, "&gt;") : part));
  return escaped.join("`").replace(/\|/g, "\\|").replace(/\n/g, "<br>");
}

/** The whole page. */
export function renderErrorsDoc(cases: readonly BadInput[]): string {
  const areas = [...new Set(cases.map((c) => c.area))];
  const sections = areas.map((area) => {
    const rows = cases.filter((c) => c.area === area)
      .map((c) => `| ${cell(c.input)} | \`${c.code}\` | ${cell(c.message)} |`);
    return [`### ${area}`, "", "| Bad input | Code | Message |", "|---|---|---|", ...rows].join("\n");
  });
  return `${INTRO}\n## The messages (${cases.length} cases; \`<tmp>\` stands for a temporary folder)\n\n${sections.join("\n\n")}\n`;
}
