import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Builds dist/ once: notebook tests load the package the way tslab does.
    globalSetup: ["test/kernel/global-setup.ts"],
    // Each test file's temporary folders live in one scratch dir that is removed afterwards.
    setupFiles: ["test/helpers/scratch-tmp.ts"],
    // tfjs tests are CPU-heavy and the machine has 2 cores: run files in 2 forked workers.
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
