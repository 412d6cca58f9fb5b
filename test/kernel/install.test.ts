/**
 * Kernel registration, the self-link, finding Jupyter, and the `grpo kernel install` / `grpo notebook`
 * commands (in-process, on temporary folders).
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { GrpoError } from "../../src/core/errors.js";
import { buildProgram } from "../../src/cli/main.js";
import { INSTALL_JUPYTER_HINT, KERNEL_NAME, ensureSelfLink, installKernel, kernelMain, planNotebook } from "../../kernel/index.js";

function tempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

function project(name = "my-project"): string {
  const dir = tempDir("grpo-project-");
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name }));
  mkdirSync(path.join(dir, "node_modules"));
  return dir;
}

/** A folder with fake `jupyter` executables (the names given). */
function fakeJupyter(names: string[]): string {
  const dir = tempDir("fake-jupyter-");
  for (const name of names) {
    writeFileSync(path.join(dir, name), "#!/bin/sh\necho fake\n");
    chmodSync(path.join(dir, name), 0o755);
  }
  return path.join(dir, "jupyter");
}

async function cli(args: string[]): Promise<{ out: string[]; err: string[]; exitCode: number }> {
  const out: string[] = [];
  const err: string[] = [];
  const before = process.exitCode;
  await buildProgram({ out: (l) => out.push(l), err: (l) => err.push(l) }).parseAsync(["node", "grpo", ...args]);
  const exitCode = Number(process.exitCode ?? 0);
  process.exitCode = before;
  return { out, err, exitCode };
}

const savedEnv = { ...process.env };
afterEach(() => {
  process.env = { ...savedEnv };
});

describe("installKernel", () => {
  it("writes a project-local kernel.json that starts this Node with this package's kernel", async () => {
    const dir = project();
    const result = await installKernel({ projectDir: dir });
    const kernelJson = path.join(dir, ".jupyter", "share", "jupyter", "kernels", KERNEL_NAME, "kernel.json");
    expect(result.kernelDir).toBe(path.dirname(kernelJson));
    const written = JSON.parse(readFileSync(kernelJson, "utf8"));
    expect(written).toEqual({
      argv: [process.execPath, kernelMain(), "{connection_file}"],
      display_name: "GRPO TypeScript",
      language: "typescript",
      interrupt_mode: "signal",
    });
    expect(existsSync(written.argv[1])).toBe(true);
    expect(result.jupyterPath).toBe(path.join(dir, ".jupyter", "share", "jupyter"));
    expect(result.message.join("\n")).toContain(`JUPYTER_PATH=${result.jupyterPath}`);
    expect(result.linked).toBeUndefined(); // not this repository: nothing to link
  });

  it("installs under --prefix or for the user, but not both", async () => {
    const prefix = tempDir("grpo-prefix-");
    const withPrefix = await installKernel({ prefix, projectDir: project() });
    expect(existsSync(path.join(prefix, "share", "jupyter", "kernels", KERNEL_NAME, "kernel.json"))).toBe(true);
    expect(withPrefix.jupyterPath).toBe(path.join(prefix, "share", "jupyter"));

    const userData = tempDir("grpo-user-");
    process.env.JUPYTER_DATA_DIR = userData;
    const forUser = await installKernel({ user: true, projectDir: project() });
    expect(forUser.kernelDir).toBe(path.join(userData, "kernels", KERNEL_NAME));
    expect(forUser.jupyterPath).toBeUndefined();

    await expect(installKernel({ user: true, prefix })).rejects.toThrow(GrpoError);
  });

  it("links node_modules/grpo-agent-framework to the root inside this package's own repository only", () => {
    const repo = project("grpo-agent-framework");
    const link = ensureSelfLink(repo);
    expect(link).toBe(path.join(repo, "node_modules", "grpo-agent-framework"));
    expect(realpathSync(link!)).toBe(realpathSync(repo));
    expect(ensureSelfLink(repo)).toBeUndefined(); // already there
    expect(ensureSelfLink(project("someone-else"))).toBeUndefined();
  });
});

describe("planNotebook", () => {
  it("prefers JupyterLab, falls back to Notebook, and puts the project's kernel on JUPYTER_PATH", () => {
    const dir = project();
    delete process.env.JUPYTER_PATH;
    const lab = planNotebook({ projectDir: dir, jupyter: fakeJupyter(["jupyter", "jupyter-lab", "jupyter-notebook"]), port: 9999, noBrowser: true });
    expect(lab).toMatchObject({ app: "lab", args: ["lab", `--notebook-dir=${path.join(dir, "notebooks")}`, "--port=9999", "--no-browser"] });
    expect(lab!.env.JUPYTER_PATH).toBe(path.join(dir, ".jupyter", "share", "jupyter"));
    const classic = planNotebook({ projectDir: dir, jupyter: fakeJupyter(["jupyter", "jupyter-notebook"]) });
    expect(classic?.app).toBe("notebook");
    const bare = fakeJupyter(["jupyter"]);
    process.env.PATH = path.dirname(bare); // Jupyter finds subcommands next to it and on PATH
    expect(planNotebook({ projectDir: dir, jupyter: bare })).toBeUndefined();
    expect(planNotebook({ projectDir: dir, jupyter: "/nonexistent/jupyter" })).toBeUndefined();
  });
});

describe("grpo CLI", () => {
  it("`kernel install --prefix` registers the kernel and says how to use it", async () => {
    const prefix = tempDir("grpo-cli-");
    const { out, exitCode } = await cli(["kernel", "install", "--prefix", prefix, "--project", project()]);
    expect(exitCode).toBe(0);
    expect(out[0]).toMatch(/^Registered the Jupyter kernel "grpo-typescript" \(GRPO TypeScript/);
    expect(out.join("\n")).toContain(path.join(prefix, "share", "jupyter", "kernels", KERNEL_NAME, "kernel.json"));
    expect(out.join("\n")).toContain("npm run notebook");
  });

  it("`notebook` prints how to install Jupyter when it is missing, and the command with --dry-run", async () => {
    process.env.GRPO_JUPYTER = "/nonexistent/jupyter";
    const missing = await cli(["notebook", "--project", project()]);
    expect(missing.exitCode).toBe(1);
    expect(missing.err).toEqual(INSTALL_JUPYTER_HINT);
    expect(missing.err.join("\n")).toContain("pip install jupyterlab");

    process.env.GRPO_JUPYTER = fakeJupyter(["jupyter", "jupyter-notebook"]);
    const dir = project();
    const dry = await cli(["notebook", "--dry-run", "--no-browser", "--port", "8899", "--project", dir]);
    expect(dry.exitCode).toBe(0);
    expect(dry.out[0]).toMatch(/^Registered the Jupyter kernel/); // installed on first use
    expect(existsSync(path.join(dir, ".jupyter", "share", "jupyter", "kernels", KERNEL_NAME, "kernel.json"))).toBe(true);
    expect(dry.out[dry.out.length - 1]).toBe(
      `JUPYTER_PATH=${path.join(dir, ".jupyter", "share", "jupyter")} ${process.env.GRPO_JUPYTER} notebook --notebook-dir=${path.join(dir, "notebooks")} --port=8899 --no-browser`);
  });
});
