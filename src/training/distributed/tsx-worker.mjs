// Worker-thread bootstrap used only when the library runs from its TypeScript sources (tests, tsx):
// registers tsx's loader in this thread, then loads the TypeScript worker module named in workerData.
import { workerData } from "node:worker_threads";

import("tsx/esm/api").then((tsx) => {
  tsx.register();
  return import(workerData.tsWorker);
});
