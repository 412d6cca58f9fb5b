import { mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { verifyCheckpointDir, writeCheckpointDir } from "../../src/training/checkpoint.js";

const fresh = () => mkdtempSync(path.join(tmpdir(), "ckpt-"));

describe("checkpoint directories", () => {
  it("writes files with checksums and verifies them", async () => {
    const root = fresh();
    const dir = path.join(root, "checkpoint-1");
    await writeCheckpointDir(dir, async (tmp) => {
      mkdirSync(path.join(tmp, "model"));
      writeFileSync(path.join(tmp, "model", "a.bin"), new Uint8Array([1, 2, 3]));
      writeFileSync(path.join(tmp, "trainer_state.json"), "{}");
    });
    const manifest = JSON.parse(readFileSync(path.join(dir, "checksums.json"), "utf8"));
    expect(Object.keys(manifest)).toEqual(["model/a.bin", "trainer_state.json"]);
    await expect(verifyCheckpointDir(dir)).resolves.toBeUndefined();
    expect(readdirSync(root)).toEqual(["checkpoint-1"]);
  });

  it("detects a corrupted or missing file and names it", async () => {
    const dir = path.join(fresh(), "c");
    await writeCheckpointDir(dir, async (tmp) => writeFileSync(path.join(tmp, "trainer_state.json"), '{"step": 3}'));
    writeFileSync(path.join(dir, "trainer_state.json"), '{"step": 4}');
    await expect(verifyCheckpointDir(dir)).rejects.toThrow(/corrupted.*trainer_state\.json/);
    const dir2 = path.join(fresh(), "c");
    await writeCheckpointDir(dir2, async (tmp) => writeFileSync(path.join(tmp, "x"), "1"));
    writeFileSync(path.join(dir2, "checksums.json"), JSON.stringify({ x: "00", y: "11" }));
    await expect(verifyCheckpointDir(dir2)).rejects.toThrow(/corrupted.*x/);
  });

  it("leaves the previous checkpoint intact when writing fails", async () => {
    const root = fresh();
    const dir = path.join(root, "c");
    await writeCheckpointDir(dir, async (tmp) => writeFileSync(path.join(tmp, "v"), "old"));
    await expect(writeCheckpointDir(dir, async (tmp) => {
      writeFileSync(path.join(tmp, "v"), "new");
      throw new Error("disk full");
    })).rejects.toThrow("disk full");
    expect(readFileSync(path.join(dir, "v"), "utf8")).toBe("old");
    expect(readdirSync(root)).toEqual(["c"]);
    await writeCheckpointDir(dir, async (tmp) => writeFileSync(path.join(tmp, "v"), "new"));
    expect(readFileSync(path.join(dir, "v"), "utf8")).toBe("new");
    expect(readdirSync(root)).toEqual(["c"]);
  });

  it("reports a missing checkpoint or manifest clearly", async () => {
    await expect(verifyCheckpointDir(path.join(fresh(), "nope"))).rejects.toThrow(/Checkpoint not found/);
    const dir = fresh();
    await expect(verifyCheckpointDir(dir)).rejects.toThrow(/checksums\.json is missing/);
  });
});
