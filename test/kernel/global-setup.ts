/**
 * vitest globalSetup for the kernel tests: builds dist/ once before any test file runs (the notebook
 * tests load the package as tslab does, from dist/). Register in vitest.config.ts:
 * `globalSetup: ["test/kernel/global-setup.ts"]`.
 */
import { ensureDist } from "./setup.js";

export default function setup(): void {
  ensureDist();
}
