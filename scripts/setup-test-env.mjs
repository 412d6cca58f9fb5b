#!/usr/bin/env node
// `npm test`'s pretest step: makes sure the Debian packages the tests need are installed.
// As root it installs them with apt-get; otherwise it stops with the exact command to run.
// Set GRPO_SKIP_SETUP=1 to skip (e.g. when you know they are present).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

if (process.env.GRPO_SKIP_SETUP === "1") process.exit(0);

// package -> a check that it is usable
const needs = [
  { pkg: "python3-torch", ok: () => pyImports("torch") },          // numeric references (test/reference/*.py)
  { pkg: "python3-numpy", ok: () => pyImports("numpy") },
  { pkg: "libopenblas0-pthread", ok: () => dpkgInstalled("libopenblas0-pthread") },
  { pkg: "jupyter-notebook", ok: () => existsSync("/usr/bin/jupyter") && dpkgInstalled("jupyter-notebook") }, // notebooks, headless
  { pkg: "python3-nbconvert", ok: () => pyImports("nbconvert") },
  { pkg: "python3-nbclient", ok: () => pyImports("nbclient") },
  { pkg: "python3-jupyter-client", ok: () => pyImports("jupyter_client") },
  { pkg: "python3-jupyter-kernel-test", ok: () => pyImports("jupyter_kernel_test") },
  { pkg: "chromium", ok: () => existsSync("/usr/bin/chromium") },  // rendered notebook checks (playwright-core)
  { pkg: "redis-server", ok: () => existsSync("/usr/bin/redis-server") }, // BullMQ rollout queue tests (started per test on loopback)
];

function pyImports(mod) {
  if (!existsSync("/usr/bin/python3")) return false;
  return spawnSync("/usr/bin/python3", ["-c", `import ${mod}`], { stdio: "ignore" }).status === 0;
}
function dpkgInstalled(pkg) {
  const r = spawnSync("dpkg-query", ["-W", "-f=${Status}", pkg], { encoding: "utf8" });
  return r.status === 0 && r.stdout.includes("install ok installed");
}

const missing = needs.filter((n) => !n.ok()).map((n) => n.pkg);
if (missing.length === 0) process.exit(0);

const cmd = ["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "-q", ...missing];
const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
if (!isRoot) {
  console.error(`The tests need Debian packages that are missing: ${missing.join(", ")}.\n` +
    `Install them with:\n  sudo apt-get update && sudo ${cmd.join(" ")}`);
  process.exit(1);
}
console.log(`Installing Debian packages for the tests: ${missing.join(", ")}`);
execFileSync("apt-get", ["-q", "update"], { stdio: "inherit" });
execFileSync(cmd[0], cmd.slice(1), { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
