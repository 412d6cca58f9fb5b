/**
 * A DistributedTrainer worker thread: one policy replica on its own TensorFlow.js backend. It samples
 * its share of each rollout batch, computes the gradient of its share of each step's micro-batches,
 * and applies the same averaged update as every other replica (its own AdamW, same state).
 *
 * Started by `DistributedTrainer` with `new Worker(...)`; it only answers requests (see protocol.ts).
 */
import { parentPort } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import { GrpoError } from "../../core/errors.js";
import { selectBackend } from "../../model/backend.js";
import { sampleLocally } from "../../model/policy.js";
import { ChatTokenizer } from "../../model/tokenizer.js";
import { Transformer } from "../../model/transformer.js";
import { PassGradients } from "../gradients.js";
import { AdamW } from "../optimizer.js";
import { toArrays, weightsHash, type NamedArrays, type PassReply, type WorkerReply, type WorkerRequest } from "./protocol.js";

interface Replica {
  model: Transformer;
  tokenizer: ChatTokenizer;
  optimizer: AdamW;
  reference?: Record<string, tf.Tensor>;
  passes?: PassGradients;
}

let replica: Replica | undefined;

function tensors(arrays: NamedArrays): Record<string, tf.Tensor> {
  return Object.fromEntries(Object.entries(arrays).map(([n, a]) => [n, tf.tensor(a.data, a.shape, "float32")]));
}

function ready(): Replica {
  if (!replica) throw new GrpoError("invalid_argument", "This distributed worker has no replica yet.", { fix: "send `init` first." });
  return replica;
}

async function handle(message: WorkerRequest): Promise<unknown> {
  switch (message.type) {
    case "init": {
      await selectBackend();
      const { init } = message;
      const initial = tensors(init.params);
      let model: Transformer;
      try {
        model = Transformer.fromTensors(init.modelConfig, initial);
      } finally {
        tf.dispose(Object.values(initial));
      }
      const optimizer = new AdamW(model.params, init.optimizer);
      optimizer.setState(init.optimizerState);
      const tokenizer = ChatTokenizer.fromJSON(init.tokenizerFiles["tokenizer.json"], init.tokenizerFiles["tokenizer_config.json"]);
      replica = { model, tokenizer, optimizer, reference: init.reference ? tensors(init.reference) : undefined };
      return { backend: tf.getBackend() };
    }
    case "sample": {
      const r = ready();
      return sampleLocally(r.model, r.tokenizer, message.request);
    }
    case "prepare": {
      const r = ready();
      r.passes?.release();
      r.passes = new PassGradients(r.model, message.batches, message.loss, message.temperature, r.reference);
      r.passes.prepare();
      return null;
    }
    case "pass": {
      const r = ready();
      if (!r.passes) throw new GrpoError("invalid_argument", "`pass` before `prepare`.", { fix: "send `prepare` with the step's batches first." });
      const { grads, sums } = await r.passes.pass();
      try {
        const reply: PassReply = { grads: await toArrays(grads), sums };
        return reply;
      } finally {
        tf.dispose(Object.values(grads));
      }
    }
    case "release": {
      ready().passes?.release();
      ready().passes = undefined;
      return null;
    }
    case "update": {
      const r = ready();
      const grads = tensors(message.grads);
      try {
        r.optimizer.step(grads, message.lr);
      } finally {
        tf.dispose(Object.values(grads));
      }
      return null;
    }
    case "hash":
      return weightsHash(ready().model.params);
  }
}

/** Transferable buffers of a result (gradients travel without a copy). */
function transferList(result: unknown): ArrayBuffer[] {
  const grads = (result as Partial<PassReply> | null)?.grads;
  if (!grads) return [];
  return Object.values(grads).map((g) => g.data.buffer as ArrayBuffer);
}

// Requests are served one at a time, in order.
let queue: Promise<void> = Promise.resolve();
parentPort?.on("message", (message: WorkerRequest) => {
  queue = queue.then(async () => {
    let reply: WorkerReply;
    try {
      reply = { id: message.id, ok: true, result: await handle(message) };
    } catch (error) {
      const e = error as { message?: string; code?: string };
      reply = { id: message.id, ok: false, error: { message: e?.message ?? String(error), code: e?.code } };
    }
    parentPort?.postMessage(reply, reply.ok ? transferList(reply.result) : []);
  });
});
