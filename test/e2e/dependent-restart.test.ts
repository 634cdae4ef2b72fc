// After configure restarts containerd, dockerd (which runs its containers through it) answers
// `docker info` at once but reaches containerd again only when its gRPC connection retries, after a
// back-off that grows while containerd is away (seconds after a slow containerd 2.x start); a
// container started in between exits without a word (issue 13: "first --fix fails after restarting
// containerd"). configure returns only once dockerd reaches containerd again. A throwaway pair.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { openSync } from "node:fs";
import { join } from "node:path";
import { BED, startDockerBed, waitFor, type DockerBed } from "../bed/bed.ts";
import { containerdPidsFor } from "../bed/containerd-bed.ts";
import { gvd } from "../helpers/cli.ts";

const d = BED.ok ? describe : describe.skip;
d(`configure containerd --restart waits for dockerd${BED.ok ? "" : ` (skipped: ${BED.reason})`}`, () => {
  let bed: DockerBed;
  const config = () => join(bed.dir, "containerd.toml");
  beforeAll(async () => {
    bed = await startDockerBed({ containerdCri: true });
  }, 120_000);
  afterAll(async () => {
    // configure restarted containerd: the bed knows only the first pid.
    if (bed) for (const pid of containerdPidsFor(config())) process.kill(pid, "SIGTERM");
    await bed?.stop();
  }, 120_000);

  test("returns only once dockerd reaches the restarted containerd (docker info names its commit)", async () => {
    const commit = () => bed.docker(["info", "--format", "{{.ContainerdCommit.ID}}"]).stdout.trim();
    const before = commit();
    expect(before).not.toBe("N/A");
    // containerd away for a while, as a slow start makes it: dockerd's retry back-off grows to seconds.
    process.kill(bed.containerdPid, "SIGTERM");
    await waitFor("containerd to stop", () => containerdPidsFor(config()).length === 0, 15_000);
    await Bun.sleep(8_000);
    const log = openSync(join(bed.dir, "containerd.log"), "a");
    spawn("containerd", ["--config", config()], { detached: true, stdio: ["ignore", log, log] }).unref();
    await waitFor("containerd to answer", () => containerdPidsFor(config()).length === 1 && commit() !== "", 20_000);
    const r = gvd(
      ["configure", "containerd", "--config", config(), "--restart", "--wrapper-dir", join(bed.dir, "bin"), "--json"],
      { env: bed.env },
    );
    // Asked at once: the code before this test returned while dockerd still said "N/A".
    const after = commit();
    expect({ code: r.code, err: r.code ? r.stderr.slice(-2000) : "" }).toEqual({ code: 0, err: "" });
    const engine = r.json.engines[0];
    expect(engine.reload.action).toBe("restarted");
    expect(after).toBe(before);
    expect(engine.notes.join("\n")).toMatch(
      /Docker answered again [\d.]+ s after the restart: dockerd pid \d+ answers/,
    );
  }, 120_000);
});
