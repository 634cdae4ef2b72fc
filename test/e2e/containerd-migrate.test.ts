// containerd 2.x and a config.toml without a version line (issue 13): containerd 2.1 loads it
// and silently drops its CRI runtimes. configure refuses to add runsc there, and with --migrate
// (consent) rewrites the file with containerd's own `config migrate` first, shown as a diff
// by --dry-run. Run against a real containerd 2.x binary: $GVD_CONTAINERD2, else the one in the
// Debian sid host tree the matrix builds (test/hosts), skipped when neither is there.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { parse } from "smol-toml";
import { BED_PREFIX, reapShims, waitFor } from "../bed/bed.ts";
import { finding, gvd } from "../helpers/cli.ts";
import { FIXTURES } from "../helpers/engines.ts";

const HOSTS = "/var/cache/gvisor-doctor-tests/hosts";
function containerd2(): string | null {
  const trees = existsSync(HOSTS) ? readdirSync(HOSTS).filter((n) => n.startsWith("sid-")) : [];
  const sid = trees.map((n) => join(HOSTS, n, "usr/bin/containerd"));
  for (const bin of [process.env.GVD_CONTAINERD2 ?? "", ...sid].filter((b) => b && existsSync(b))) {
    const v = spawnSync(bin, ["--version"], { encoding: "utf8" }).stdout ?? "";
    if (/ v?[2-9]\.\d+/.test(v)) return bin;
  }
  return null;
}
const BIN = containerd2();
const RUNTIMES_V3 = ["plugins", "io.containerd.cri.v1.runtime", "containerd", "runtimes"];
const SKIP = !BIN || process.getuid?.() !== 0;
const FIXTURE = join(FIXTURES, "containerd", "v2-names-no-version.toml");

describe.skipIf(SKIP)("containerd 2.x, config without a version line: refuse, or migrate with consent", () => {
  let dir = "";
  let cfg = "";
  let env: NodeJS.ProcessEnv;
  const original = readFileSync(FIXTURE, "utf8");
  const dump = (file: string) =>
    parse(spawnSync(BIN!, ["-c", file, "config", "dump"], { encoding: "utf8" }).stdout) as any;
  const runtimes = (doc: any) => Object.keys(RUNTIMES_V3.reduce((o, k) => o?.[k], doc) ?? {}).sort();
  beforeAll(() => {
    dir = mkdtempSync("/tmp/gvd-test-migrate-");
    mkdirSync(join(dir, "bin"));
    symlinkSync(BIN!, join(dir, "bin", "containerd")); // the containerd gvisor-doctor finds on PATH
    cfg = join(dir, "config.toml");
    copyFileSync(FIXTURE, cfg);
    env = { ...process.env, PATH: `${join(dir, "bin")}:${process.env.PATH}`, NO_COLOR: "1" };
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const configure = (more: string[]) =>
    gvd(
      [
        "configure",
        "containerd",
        "--config",
        cfg,
        "--runsc",
        "/usr/bin/runsc",
        "--wrapper-dir",
        join(dir, "wrapper"),
        ...more,
      ],
      { env },
    );

  test("why: containerd 2.x loads the file and drops its runtimes (kata is gone from config dump)", () => {
    expect(runtimes(dump(cfg))).toEqual(["runc"]);
  });

  test("without --migrate configure refuses, names the cause and the consent, and writes nothing", () => {
    const r = configure(["--json"]);
    expect(r.code).toBe(1);
    const e = r.json.engines[0];
    expect(e.status).toBe("refused");
    expect(JSON.stringify(e)).toContain("silently drops its CRI runtimes");
    expect(JSON.stringify(e)).toContain("--migrate");
    expect(readFileSync(cfg, "utf8")).toBe(original);
  });

  test("--migrate --dry-run shows the migration as a diff and writes nothing", () => {
    const r = configure(["--migrate", "--dry-run"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`--- ${cfg}`);
    expect(r.stdout).toContain("+version = 3");
    expect(r.stdout).toContain('-[plugins."io.containerd.grpc.v1.cri"]');
    expect(readFileSync(cfg, "utf8")).toBe(original);
  });

  test("--migrate: version 3 via containerd config migrate, runsc added, kata kept; the original is the backup", () => {
    const r = configure(["--migrate", "--json"]);
    const e = r.json.engines[0];
    expect(e).toMatchObject({ status: "changed", verify: { ok: true } });
    expect(r.code).toBe(0);
    expect(readFileSync(cfg, "utf8")).toContain("version = 3");
    expect(runtimes(dump(cfg))).toEqual(["kata", "runc", "runsc"]);
    const backup = e.files.find((f: any) => f.path === cfg).backup;
    expect(readFileSync(backup, "utf8")).toBe(original);
    // A second run has nothing left to migrate: unchanged.
    expect(configure(["--json"]).json.engines[0].status).toBe("unchanged");
  });
});

describe.skipIf(SKIP)("containerd 2.x running on it: check offers the migration, --fix applies it with --yes", () => {
  let dir = "";
  let cfg = "";
  let env: NodeJS.ProcessEnv;
  let text = "";
  beforeAll(async () => {
    dir = mkdtempSync(`${BED_PREFIX}migrate-`); // test/bed/cleanup.sh reaps the daemon if we crash
    mkdirSync(join(dir, "bin"));
    symlinkSync(BIN!, join(dir, "bin", "containerd"));
    cfg = join(dir, "config.toml");
    text =
      `root = "${dir}/root"\nstate = "${dir}/state"\n[grpc]\n  address = "${dir}/containerd.sock"\n` +
      `[ttrpc]\n  address = "${dir}/containerd.sock.ttrpc"\n\n${readFileSync(FIXTURE, "utf8")}`;
    writeFileSync(cfg, text);
    // CONTAINERD_ADDRESS: how ctr, crictl and gvisor-doctor pick this daemon over the default one.
    const address = join(dir, "containerd.sock");
    env = {
      ...process.env,
      PATH: `${join(dir, "bin")}:${process.env.PATH}`,
      NO_COLOR: "1",
      CONTAINERD_ADDRESS: address,
    };
    const log = openSync(join(dir, "containerd.log"), "a");
    const cd = spawn(join(dir, "bin", "containerd"), ["-c", cfg], { detached: true, stdio: ["ignore", log, log], env });
    cd.unref();
    appendFileSync(join(dir, "pids"), `${cd.pid}\n`);
    await waitFor("containerd 2.x socket", () => existsSync(address), 30_000, join(dir, "containerd.log"));
  });
  afterAll(() => {
    if (!dir) return;
    reapShims(dir); // the daemon, also the one --fix restarted (its argv names dir)
    rmSync(dir, { recursive: true, force: true });
  });
  const check = (more: string[]) => gvd(["check", "--quick", "--only", "containerd", "--json", ...more], { env });

  test("check fails containerd.config and offers configure --migrate, which needs consent", () => {
    const r = check([]);
    const f = finding(r.json, "containerd.config");
    expect(f.status).toBe("fail");
    expect(f.message).toContain("silently drops its CRI runtimes");
    // The proof, from containerd itself: its config dump lacks the runtime the file declares.
    expect(f.message).toContain("(gone from containerd config dump: kata)");
    const consent = expect.stringContaining("containerd config migrate");
    expect(f.diagnosis.fix).toMatchObject({ automatic: true, confirm: consent });
    expect(f.diagnosis.fix.argv).toEqual(expect.arrayContaining(["configure", "containerd", "--migrate", "--restart"]));
  });

  test("--fix without --yes declines and writes nothing; with --yes it migrates, restarts and passes", () => {
    const no = check(["--fix"]);
    expect(no.json.fix.applied.map((a: any) => a.status)).toContain("declined");
    expect(readFileSync(cfg, "utf8")).toBe(text);
    const yes = check(["--fix", "--yes"]);
    expect(readFileSync(cfg, "utf8")).toContain("version = 3");
    const applied = yes.json.fix.applied.map((a: any) => `${a.command}: ${a.status}`);
    expect(applied).toEqual(["sudo gvisor-doctor configure containerd --migrate --restart: applied"]);
    expect(finding(yes.json, "containerd.config").status).toBe("pass");
    expect(finding(yes.json, "containerd.runtime").status).toBe("pass");
  });
});
