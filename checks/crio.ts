// CRI-O's check: is runsc declared in its config (config only: pods reach CRI-O through
// kubelet, so `gvisor-doctor k8s check` proves a pod runs; see checks/k8s.ts).
import { actionFix, editConfigFix } from "./fix-actions.ts";
import { RUNTIME_NAME } from "./probe.ts";
import { brokenRuntime } from "./runtime-files.ts";
import { fail, pass, skip, type Check } from "./types.ts";

export const crioRuntime: Check = {
  id: "crio.runtime",
  title: "CRI-O declares the runsc runtime (config only)",
  run(ctx) {
    const e = ctx.facts.engines?.crio;
    if (e?.error) return fail(`cannot inspect CRI-O: ${e.error}`, null);
    if (!e?.detection?.installed && !e?.detection?.running) return skip("CRI-O is not installed");
    const ins = e.inspection!;
    const bad = ins.faults.find((f) => f.severity === "error");
    if (bad)
      return fail(`${bad.file}: ${bad.message}`, {
        cause: "CRI-O refuses an invalid config.",
        fix: editConfigFix("crio.edit-config", bad.file),
      });
    const rt = ins.runtimes[RUNTIME_NAME];
    if (!rt) {
      const files =
        ins.files
          .filter((f) => f.exists)
          .map((f) => f.path)
          .join(", ") || e.detection!.configPath;
      const fix = actionFix(
        "crio.register-runtime",
        "Add the CRI-O drop-in (99-gvisor.conf) and runsc.toml, then restart CRI-O",
        { kind: "configure", engines: ["crio"], restart: true },
        { confirm: "restarts CRI-O" },
      );
      const cause = "Pods with a RuntimeClass handler runsc fail: CRI-O does not know the handler.";
      return fail(`no [crio.runtime.runtimes.${RUNTIME_NAME}] in ${files}`, { cause, fix });
    }
    const raw = (rt.raw ?? {}) as Record<string, unknown>;
    const str = (v: unknown) => (typeof v === "string" ? v : null);
    const files = [
      { path: str(raw.runtime_path), exec: true },
      { path: str(raw.runtime_config_path), exec: false },
    ];
    const label = `${RUNTIME_NAME} → ${str(raw.runtime_path) ?? rt.path} (${rt.source.file})`;
    const broken = brokenRuntime(ctx, "crio", label, files);
    if (broken) return broken;
    return pass(`${RUNTIME_NAME} → ${rt.path} (${rt.type ?? "oci"}, ${rt.source.file})`);
  },
};
