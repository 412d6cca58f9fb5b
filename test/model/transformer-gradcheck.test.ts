// Gradients of the summed token log-probs against central finite differences, for every parameter kind.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import type { ModelConfig } from "../../src/model/config.js";
import { selectBackend } from "../../src/model/backend.js";
import { Transformer } from "../../src/model/transformer.js";

const CONFIG: ModelConfig = {
  vocabSize: 24,
  nPositions: 16,
  nEmbd: 16,
  nLayer: 2,
  nHead: 2,
  nInner: 32,
  layerNormEpsilon: 1e-5,
  tieWordEmbeddings: false,
  previousTokenEmbedding: true,
};

/** Weights scaled up from GPT-2's tiny init so that every parameter visibly moves the loss. */
function sizableModel(): Transformer {
  const model = Transformer.init(CONFIG, { seed: 31 });
  const tensors = tf.tidy(() => {
    const out: Record<string, tf.Tensor> = {};
    let k = 0;
    for (const [name, v] of Object.entries(model.params)) {
      const noise = tf.randomNormal(v.shape, 0, 1, "float32", 100 + k++);
      if (/ln_(1|2|f)\.weight$/.test(name)) out[name] = tf.add(1, tf.mul(noise, 0.2));
      else if (/bias$/.test(name)) out[name] = tf.mul(noise, 0.1);
      else out[name] = tf.mul(noise, 0.3);
    }
    return out;
  });
  model.setWeights(tensors);
  tf.dispose(tensors);
  return model;
}

describe("gradient check", () => {
  beforeAll(async () => {
    await selectBackend({ backend: "wasm" });
  });

  it("matches central finite differences (rel. err < 1e-2) across all parameter kinds", () => {
    const model = sizableModel();
    // Right-padded batch so the mask path is differentiated too.
    const ids = tf.tensor2d([[1, 5, 9, 2, 7, 3], [4, 8, 0, 0, 0, 0]], [2, 6], "int32");
    const targets = tf.tensor2d([[5, 9, 2, 7, 3, 11], [8, 6, 0, 0, 0, 0]], [2, 6], "int32");
    const mask = tf.tensor2d([[1, 1, 1, 1, 1, 1], [1, 1, 0, 0, 0, 0]], [2, 6], "int32");
    const temperature = 0.9;
    const lossWith = (params: Record<string, tf.Tensor>): number =>
      tf.tidy(() => tf.sum(model.tokenLogprobsWith(params, ids, targets, { attentionMask: mask, temperature })).dataSync()[0]);

    const { value, grads } = tf.variableGrads(
      () => tf.sum(model.tokenLogprobs(ids, targets, { attentionMask: mask, temperature })) as tf.Scalar,
    );
    value.dispose();
    const kinds = [
      "wte.weight", "wpe.weight", "h.0.ln_1.weight", "h.0.ln_1.bias", "h.0.attn.c_attn.weight", "h.0.attn.c_attn.bias",
      "h.1.attn.c_proj.weight", "h.1.attn.c_proj.bias", "h.1.ln_2.weight", "h.1.ln_2.bias", "h.1.mlp.c_fc.weight",
      "h.1.mlp.c_fc.bias", "h.0.mlp.c_proj.weight", "h.0.mlp.c_proj.bias", "ln_f.weight", "ln_f.bias", "lm_head.weight",
      "wte_prev.weight",
    ];
    expect(new Set(kinds.map((n) => n.replace(/^h\.\d\./, ""))).size).toBe(3 + 12 + 2 + 1); // every kind once
    const step = 3e-3; // float32: large enough that rounding (~1e-6 of the loss) stays below 1e-2 of the slope
    let checked = 0;
    for (const name of kinds) {
      const analytic = grads[model.params[name].name].dataSync();
      const base = model.params[name].dataSync();
      // The two entries with the largest slope (small slopes are all rounding noise in float32).
      const order = [...analytic.keys()].sort((a, b) => Math.abs(analytic[b]) - Math.abs(analytic[a])).slice(0, 2);
      for (const index of order) {
        const shifted = (delta: number): number => {
          const values = base.slice();
          values[index] += delta;
          const replaced = tf.tensor(values, model.params[name].shape);
          const loss = lossWith({ ...model.params, [name]: replaced });
          replaced.dispose();
          return loss;
        };
        const numeric = (shifted(step) - shifted(-step)) / (2 * step);
        const rel = Math.abs(numeric - analytic[index]) / Math.max(Math.abs(numeric), Math.abs(analytic[index]));
        expect(rel, `${name}[${index}]: analytic ${analytic[index]}, numeric ${numeric}`).toBeLessThan(1e-2);
        checked++;
      }
    }
    expect(checked).toBe(2 * kinds.length);
    // Padded positions contribute nothing: other pad ids give the same gradients.
    const otherPads = tf.tensor2d([[1, 5, 9, 2, 7, 3], [4, 8, 13, 21, 2, 9]], [2, 6], "int32");
    const again = tf.variableGrads(
      () => tf.sum(model.tokenLogprobs(otherPads, targets, { attentionMask: mask, temperature })) as tf.Scalar,
    );
    for (const name of kinds) {
      const a = grads[model.params[name].name].dataSync();
      const b = again.grads[model.params[name].name].dataSync();
      expect(a.every((v, i) => Math.abs(v - b[i]) < 1e-6), name).toBe(true);
    }
    tf.dispose([again.value, otherPads]);
    tf.dispose(again.grads);
    tf.dispose(grads);
    tf.dispose([ids, targets, mask]);
    model.dispose();
  });
});
