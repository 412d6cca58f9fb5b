/**
 * Resolves an agent's `modelName` to a policy:
 * - `builtin:<name>`: a model shipped in this package's `models/<name>/` folder;
 * - a path to a local Hugging Face GPT-2 or GPT-NeoX folder (config.json, model.safetensors, tokenizer files);
 * - `openai:<model>`: a model behind an OpenAI-compatible endpoint (src/remote/; agents only);
 * - anything else is a clear error listing what is accepted (and the built-in models present).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { setPolicyResolver, type AgentConfig } from "../core/agent.js";
import { GrpoError } from "../core/errors.js";
import { resolveRemotePolicy } from "../remote/resolver.js";
import { TfPolicy } from "./policy.js";

/** The package root (the folder of our package.json), found from this file's location. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, "package.json");
    if (existsSync(pkg)) {
      try {
        if (JSON.parse(readFileSync(pkg, "utf8")).name === "grpo-agent-framework") return dir;
      } catch {
        /* not ours: keep looking */
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("grpo-agent-framework: cannot find the package root");
    dir = parent;
  }
}

/** The folder of built-in models. */
export function builtinModelsDir(): string {
  return path.join(packageRoot(), "models");
}

/** Names of the built-in models present (folders of `models/` with a config.json). */
export function listBuiltinModels(): string[] {
  const dir = builtinModelsDir();
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(path.join(dir, e.name, "config.json")))
    .map((e) => e.name)
    .sort();
}

/** The folder a model name points to, or a clear error. */
export function resolveModelFolder(modelName: string): string {
  const accepted = () => {
    const builtins = listBuiltinModels();
    return `\`builtin:<name>\` (available: ${builtins.length ? builtins.map((b) => `builtin:${b}`).join(", ") : "none built yet"}) ` +
      "or a path to a local Hugging Face GPT-2 or GPT-NeoX folder with config.json, model.safetensors and tokenizer.json";
  };
  if (typeof modelName !== "string" || modelName.trim() === "") {
    throw new GrpoError("model_not_found", "No model name given.", { field: "modelName", value: modelName, expected: accepted() });
  }
  if (modelName.startsWith("builtin:")) {
    const name = modelName.slice("builtin:".length);
    if (!/^[A-Za-z0-9._-]+$/.test(name) || name.startsWith(".")) {
      throw new GrpoError("model_not_found", "Not a valid built-in model name.", { field: "modelName", value: modelName, expected: accepted() });
    }
    const dir = path.join(builtinModelsDir(), name);
    if (!existsSync(path.join(dir, "config.json"))) {
      throw new GrpoError("model_not_found", `There is no built-in model "${name}".`, {
        field: "modelName", value: modelName, expected: accepted(),
        fix: "build the built-in models with `npm run pretrain`, or pick one of those listed.",
      });
    }
    return dir;
  }
  if (existsSync(path.join(modelName, "config.json"))) return modelName;
  throw new GrpoError("model_not_found", `Cannot resolve the model "${modelName}".`, {
    field: "modelName",
    value: modelName,
    expected: accepted(),
    fix: existsSync(modelName) ? "the folder exists but has no config.json." : "check the name or the path.",
  });
}

/** Loads the policy a model name points to. */
export async function loadPolicy(modelName: string, options: { seed?: number } = {}): Promise<TfPolicy> {
  return TfPolicy.fromFolder(resolveModelFolder(modelName), { name: modelName, seed: options.seed });
}

/**
 * Makes `agent.initialize()` load TensorFlow.js policies, and remote ones for `openai:<model>`
 * names (see src/remote/), (done when the package is imported).
 */
export function registerTfPolicyResolver(): void {
  setPolicyResolver(async (config: AgentConfig) => resolveRemotePolicy(config) ?? loadPolicy(config.modelName, { seed: config.seed }));
}
