// Docker or Podman with runsc: one `run --rm` with the security defaults, a name we
// own (so a signal, the timeout or a crash of the client can always find and remove
// the container), and the local probe image unless --image names another.
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sleep } from "../os/sleep.ts";
import { run } from "../os/spawn.ts";
import { reapStrayShims } from "../runsc/stray-shims.ts";
import type { ExecRequest, Launch, MethodStatus } from "./types.ts";

export const EXEC_LABEL = "gvisor-doctor.exec";

export interface EngineTarget {
  engine: "docker" | "podman";
  cli: string;
  /** docker: the runtime name registered for runsc. */
  runtime?: string;
  /** podman: the runsc binary (podman runs it by path). */
  runsc?: string;
  image: string;
  /** The image is our local probe image: never pull it. */
  localImage: boolean;
  /** podman: run runsc with --ignore-cgroups (the host cannot give it the cgroups it needs). */
  ignoreCgroups?: boolean;
  name?: string;
}

export const containerName = () => `gvd-exec-${process.pid}-${randomBytes(4).toString("hex")}`;

/** The `<engine> run …` arguments: every security default, then the image and the command. */
export function engineRunArgs(
  req: ExecRequest,
  t: EngineTarget & { name: string },
  opts: { stdin: boolean; cidfile?: string | null },
): string[] {
  const a = ["run", "--rm", "--name", t.name, "--label", `${EXEC_LABEL}=1`];
  if (opts.cidfile) a.push("--cidfile", opts.cidfile);
  if (t.engine === "docker") a.push(`--runtime=${t.runtime}`, "--log-driver=none");
  else {
    a.push("--runtime", t.runsc!, `--runtime-flag=network=${req.network}`); // podman's own --network none is not enough for runsc
    if (t.ignoreCgroups) a.push("--runtime-flag=ignore-cgroups");
  }
  a.push(
    `--network=${req.network}`,
    "--read-only",
    "--security-opt=no-new-privileges",
    "--cap-drop=ALL",
    `--pids-limit=${req.pids}`,
  );
  if (req.memoryBytes) a.push(`--memory=${req.memoryBytes}`, `--memory-swap=${req.memoryBytes}`);
  if (opts.stdin) a.push("--interactive");
  if (t.localImage) a.push("--pull=never");
  for (const m of req.mounts) a.push("--volume", `${m.source}:${m.target}:${m.writable ? "rw" : "ro"}`);
  if (req.workdir) a.push("--workdir", req.workdir);
  for (const [k, v] of Object.entries(req.env)) a.push("--env", `${k}=${v}`);
  // The command is exactly what was given: an image's ENTRYPOINT does not wrap it.
  a.push("--entrypoint=", t.image, ...req.command);
  return a;
}

/** Warnings about how the engine will treat the request. */
export function engineWarnings(req: ExecRequest, status: MethodStatus): string[] {
  const w: string[] = [];
  if (req.network === "host" && /--network=none\b/.test(status.detail.runtimeArgs ?? "")) {
    w.push(
      `the ${status.detail.runtime} runtime is registered with --network=none, so the command has no network even with --network host`,
    );
  }
  return w;
}

export function launchEngine(
  req: ExecRequest,
  target: EngineTarget,
  hostEnv: NodeJS.ProcessEnv,
  stdin: boolean,
): Launch {
  const name = target.name ?? containerName();
  const cli = target.cli;
  // Docker writes the container's id here, so a stray shim can be found by it afterwards.
  const cidfile = target.engine === "docker" ? join(tmpdir(), `${name}.cid`) : null;
  let removed = false;
  const remove = async () => {
    // docker rm -f kills at once; podman stops with a 10 s grace unless told -t 0.
    const r = await run(cli, target.engine === "podman" ? ["rm", "-f", "-t", "0", name] : ["rm", "-f", name], {
      timeoutMs: 60_000,
      env: hostEnv,
    });
    removed = true;
    return r;
  };
  return {
    method: target.engine,
    sandboxed: true,
    file: cli,
    args: engineRunArgs(req, { ...target, name }, { stdin, cidfile }),
    env: hostEnv,
    async forward(sig) {
      await run(cli, ["kill", "--signal", sig.replace(/^SIG/, ""), name], { timeoutMs: 30_000, env: hostEnv });
    },
    async teardown({ pid, exited }) {
      // Remove until the client is gone: a container created after an early `rm` would outlive us.
      let done = false;
      void exited.then(() => (done = true));
      for (let i = 0; !done; i++) {
        await remove();
        await Promise.race([exited, sleep(250)]);
        if (!done && i >= 40 && pid) {
          try {
            process.kill(pid, "SIGKILL");
          } catch {}
        }
      }
    },
    async cleanup({ code, tornDown }) {
      // After a teardown the client may have died between create and start; make sure.
      if (removed) await remove();
      if (!cidfile) return;
      // 125–127: Docker could not start the container. Reap the shim it left, if it runs here.
      if (tornDown || (code !== null && code >= 125 && code <= 127)) {
        let id = "";
        try {
          id = readFileSync(cidfile, "utf8").trim();
        } catch {}
        if (id) await reapStrayShims(id);
      }
      rmSync(cidfile, { force: true });
    },
  };
}
