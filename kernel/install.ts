/**
 * Kernel setup: registers our Jupyter kernel ("GRPO TypeScript", `kernel/main.ts`: tslab's
 * TypeScript behind a complete Jupyter protocol, see `server.ts`) and starts Jupyter on the
 * tutorials. Used by `npx grpo kernel install` and `npx grpo notebook` (see src/cli/).
 *
 * A Jupyter kernel is a folder with a `kernel.json` that says how to start it. We write it with
 * absolute paths to this Node and this package's built kernel (`dist/kernel/main.js`), so Jupyter
 * finds the kernel even when `node` is not on its PATH (VS Code, desktop launchers).
 *
 * Where it goes:
 * - default, project-local: `<project>/.jupyter/share/jupyter/kernels/grpo-typescript/`; Jupyter
 *   sees it when `JUPYTER_PATH=<project>/.jupyter/share/jupyter` (`npx grpo notebook` sets it);
 * - `--user`: the user's Jupyter data folder (every Jupyter of this user sees it);
 * - `--prefix DIR`: `DIR/share/jupyter/kernels/grpo-typescript/` (with `JUPYTER_PATH=DIR/share/jupyter`).
 *
 * Notebooks import the package by name. tslab's compiler type-checks cells with Node10 module
 * resolution, which cannot see a package from inside its own folder, so inside this repository we
 * link `node_modules/grpo-agent-framework` to the repository root (an installed package needs nothing).
 */
import { spawn } from "node:child_process";
import { accessSync, constants, existsSync, lstatSync, readFileSync, symlinkSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { GrpoError } from "../src/core/errors.js";

const require = createRequire(import.meta.url);

/** The kernel name notebooks ask for (`metadata.kernelspec.name`). */
export const KERNEL_NAME = "grpo-typescript";
/** What Jupyter's kernel menu shows. */
export const KERNEL_DISPLAY_NAME = "GRPO TypeScript";

/** Options of {@link installKernel}. */
export interface KernelInstallOptions {
  /** The project folder (default: the nearest folder with a package.json, from the working directory). */
  projectDir?: string;
  /** Install for the current user instead of the project (default false). */
  user?: boolean;
  /** Install under this prefix instead (`DIR/share/jupyter/kernels/grpo-typescript`). */
  prefix?: string;
}

/** What {@link installKernel} did. */
export interface KernelInstallResult {
  /** The kernel folder written. */
  kernelDir: string;
  /** The kernel.json written. */
  kernelJson: { argv: string[]; display_name: string; language: string; interrupt_mode: string };
  /** The `JUPYTER_PATH` entry Jupyter needs to see the kernel (undefined for `--user`). */
  jupyterPath?: string;
  /** The self-link created inside this repository, if one was needed. */
  linked?: string;
  /** Lines telling the user what was done and how to use it. */
  message: string[];
}

/** The nearest folder at or above `from` that has a package.json (else `from`). */
export function findProjectDir(from = process.cwd()): string {
  let dir = path.resolve(from);
  for (;;) {
    if (existsSync(path.join(dir, "package.json"))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve(from);
    dir = parent;
  }
}

/** The project-local Jupyter data folder: `<project>/.jupyter/share/jupyter`. */
export function projectJupyterPath(projectDir: string): string {
  return path.join(projectDir, ".jupyter", "share", "jupyter");
}

/** The tslab entry script this package depends on. */
export function tslabBin(): string {
  return path.join(path.dirname(require.resolve("tslab/package.json")), "bin", "tslab");
}

/** The built kernel entry of this package (`<package>/dist/kernel/main.js`), from source or from dist/. */
export function kernelMain(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, "package.json")) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.join(dir, "dist", "kernel", "main.js");
}

/** The user's Jupyter data folder (what `jupyter --data-dir` prints), per platform. */
export function userJupyterDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.JUPYTER_DATA_DIR) return env.JUPYTER_DATA_DIR;
  if (process.platform === "win32") return path.join(env.APPDATA ?? path.join(homedir(), "AppData", "Roaming"), "jupyter");
  if (process.platform === "darwin") return path.join(homedir(), "Library", "Jupyter");
  return path.join(env.XDG_DATA_HOME ?? path.join(homedir(), ".local", "share"), "jupyter");
}

/**
 * Inside this package's own repository, notebooks need `node_modules/grpo-agent-framework` (see the
 * module documentation): creates it as a relative link to the root. Returns its path when created.
 */
export function ensureSelfLink(projectDir: string): string | undefined {
  let name: unknown;
  try {
    name = JSON.parse(readFileSync(path.join(projectDir, "package.json"), "utf8")).name;
  } catch {
    return undefined;
  }
  if (name !== "grpo-agent-framework") return undefined;
  const link = path.join(projectDir, "node_modules", "grpo-agent-framework");
  try {
    lstatSync(link);
    return undefined; // present (a link or an installed copy)
  } catch {
    /* missing: create it */
  }
  if (!existsSync(path.join(projectDir, "node_modules"))) return undefined;
  symlinkSync("..", link, process.platform === "win32" ? "junction" : "dir");
  return link;
}

/**
 * Registers the GRPO TypeScript kernel (project-local by default) and, inside this repository, the self-link
 * notebooks need. Idempotent: running it again rewrites the same files.
 */
export async function installKernel(options: KernelInstallOptions = {}): Promise<KernelInstallResult> {
  if (options.user && options.prefix) {
    throw new GrpoError("invalid_argument", "Choose one place for the kernel.", {
      field: "--user / --prefix", value: { user: true, prefix: options.prefix },
      fix: "pass `--user` for your Jupyter, `--prefix DIR` for a prefix, or neither for this project.",
    });
  }
  const projectDir = path.resolve(options.projectDir ?? findProjectDir());
  const dataDir = options.user ? userJupyterDataDir()
    : options.prefix ? path.join(path.resolve(options.prefix), "share", "jupyter")
    : projectJupyterPath(projectDir);
  const kernelDir = path.join(dataDir, "kernels", KERNEL_NAME);
  const main = kernelMain();
  const kernelJson = {
    argv: [process.execPath, main, "{connection_file}"],
    display_name: KERNEL_DISPLAY_NAME,
    language: "typescript",
    interrupt_mode: "signal",
  };
  await mkdir(kernelDir, { recursive: true });
  await writeFile(path.join(kernelDir, "kernel.json"), `${JSON.stringify(kernelJson, null, 2)}\n`);
  const linked = ensureSelfLink(projectDir);
  const jupyterPath = options.user ? undefined : dataDir;
  const tslabVersion = (JSON.parse(readFileSync(path.join(path.dirname(tslabBin()), "..", "package.json"), "utf8")) as { version: string }).version;
  const message = [
    `Registered the Jupyter kernel "${KERNEL_NAME}" (${KERNEL_DISPLAY_NAME}: TypeScript via tslab ${tslabVersion}):`,
    `  ${path.join(kernelDir, "kernel.json")}`,
    `  starts: ${kernelJson.argv.slice(0, 2).join(" ")} {connection_file}`,
  ];
  if (!existsSync(main)) message.push(`  (build it first: ${main} is missing; run \`npm run build\`)`);
  if (linked) message.push(`Linked ${path.relative(projectDir, linked)} -> .. so notebooks here can import "grpo-agent-framework".`);
  message.push("", "Use it:");
  if (jupyterPath) {
    message.push(
      "  npm run notebook        starts Jupyter on notebooks/ with this kernel (or: npx grpo notebook)",
      `  or set JUPYTER_PATH=${jupyterPath} before starting Jupyter yourself,`,
      "  or run `npx grpo kernel install --user` to make the kernel visible to every Jupyter and VS Code.",
    );
  } else {
    message.push("  Every Jupyter (JupyterLab, Notebook, VS Code) of this user now lists the kernel.", "  npm run notebook        starts Jupyter on notebooks/");
  }
  message.push(`  In a notebook: import { display, liveplot } from "grpo-agent-framework/kernel";`);
  return { kernelDir, kernelJson, jupyterPath, linked, message };
}

// ---------------------------------------------------------------------------------------------
// Starting Jupyter

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable `name` on PATH (with Windows extensions), or undefined. */
export function which(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const exts = process.platform === "win32" ? (env.PATHEXT ?? ".EXE;.CMD;.BAT").split(";") : [""];
  for (const dir of (env.PATH ?? "").split(path.delimiter).filter(Boolean)) {
    for (const ext of exts) {
      const file = path.join(dir, name + ext);
      if (existsSync(file) && isExecutable(file)) return file;
    }
  }
  return undefined;
}

/** How to install Jupyter, for the message shown when it is missing. */
export const INSTALL_JUPYTER_HINT = [
  "Jupyter is not installed (no `jupyter` command on PATH).",
  "Install one of:",
  "  pip install jupyterlab                    (any OS, Python 3.8+)",
  "  sudo apt-get install jupyter-notebook     (Debian/Ubuntu: classic Notebook)",
  "  brew install jupyterlab                   (macOS)",
  "Then run `npm run notebook` again. Or open notebooks/*.ipynb in VS Code (Jupyter extension) and",
  "pick the TypeScript kernel after `npx grpo kernel install --user`.",
];

/** Options of {@link planNotebook}. */
export interface NotebookOptions {
  /** The project folder (default: found from the working directory). */
  projectDir?: string;
  /** The folder Jupyter opens (default `<project>/notebooks`). */
  notebookDir?: string;
  /** Port for the Jupyter server (default: Jupyter's own, 8888 or the next free). */
  port?: number;
  /** Do not open a browser (default false). */
  noBrowser?: boolean;
  /** The Jupyter executable (default `$GRPO_JUPYTER`, else `jupyter` on PATH). */
  jupyter?: string;
}

/** The Jupyter command {@link planNotebook} chose. */
export interface NotebookPlan {
  command: string;
  args: string[];
  /** Environment additions (JUPYTER_PATH with the project's kernel). */
  env: Record<string, string>;
  /** `lab` (JupyterLab) when installed, else `notebook` (classic Notebook / Notebook 7). */
  app: "lab" | "notebook";
}

/**
 * Decides how to start Jupyter on the notebooks: JupyterLab when present, else Notebook; the
 * project's kernel folder on JUPYTER_PATH. Returns undefined when Jupyter is not installed (show
 * {@link INSTALL_JUPYTER_HINT}).
 */
export function planNotebook(options: NotebookOptions = {}): NotebookPlan | undefined {
  const projectDir = path.resolve(options.projectDir ?? findProjectDir());
  const jupyter = options.jupyter ?? process.env.GRPO_JUPYTER ?? which("jupyter");
  if (!jupyter || !existsSync(jupyter)) return undefined;
  const dir = path.dirname(jupyter);
  const has = (sub: string) => existsSync(path.join(dir, `jupyter-${sub}`)) || which(`jupyter-${sub}`) !== undefined;
  const app: NotebookPlan["app"] = has("lab") ? "lab" : "notebook";
  if (app === "notebook" && !has("notebook")) return undefined;
  const args = [app, `--notebook-dir=${path.resolve(options.notebookDir ?? path.join(projectDir, "notebooks"))}`];
  if (options.port !== undefined) args.push(`--port=${options.port}`);
  if (options.noBrowser) args.push("--no-browser");
  const jupyterPath = [projectJupyterPath(projectDir), process.env.JUPYTER_PATH].filter(Boolean).join(path.delimiter);
  return { command: jupyter, args, env: { JUPYTER_PATH: jupyterPath }, app };
}

/** Runs Jupyter as planned, inheriting the terminal; resolves with its exit code. */
export function runNotebook(plan: NotebookPlan): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(plan.command, plan.args, { stdio: "inherit", env: { ...process.env, ...plan.env } });
    child.on("error", reject);
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 130 : 0)));
  });
}
