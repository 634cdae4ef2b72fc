// `containerd config dump`: the merged, effective config containerd would run with.
// Planned files are staged in a private directory and dumped before anything is
// written, and compared with the dump of the current config.
import { mkdtempSync, rmSync, writeFileSync as writeLocal } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { failureText } from "../../os/spawn.ts";
import { runHostBinary } from "../../os/host-exec.ts";
import { SELF_ROOT, type HostRoot } from "../../os/host-root.ts";
import { absolutize, expandGlob } from "../edit/glob.ts";
import { deleteIn, firstDifference, getPath, parseTomlStrict } from "../edit/toml-check.ts";
import { showPath, TomlDoc } from "../edit/toml-edit.ts";
import type { FileChange } from "../types.ts";
import { criDisabled, CRI_PLUGIN, runtimesPath, type ConfigReader } from "./config.ts";
import type { ContainerdPlanResult } from "./plan.ts";

/**
 * The merged config. With a host root the host's own containerd runs chrooted into it, so
 * it reads host paths (imports included) with the host's own libraries.
 */
export async function configDump(
  bin: string,
  configPath: string,
  root: HostRoot = SELF_ROOT,
): Promise<{ doc: Record<string, any> | null; error: string | null }> {
  const r = await runHostBinary(root, bin, ["-c", configPath, "config", "dump"], { timeoutMs: 20_000 });
  if (r.code !== 0) return { doc: null, error: failureText(r) };
  try {
    return { doc: parseTomlStrict(r.stdout, `containerd config dump of ${configPath}`), error: null };
  } catch (e) {
    return { doc: null, error: (e as Error).message };
  }
}

function dumpRuntimesPath(dump: Record<string, any>): string[] {
  return runtimesPath(dump.version === 3 ? 3 : 2);
}

/** Does a dump show `expect`'s runtime (or its absence)? Returns the first mismatch, or null. */
export function dumpMismatch(
  dump: Record<string, any>,
  name: string,
  expect: ContainerdPlanResult["expect"],
): string | null {
  const R = dumpRuntimesPath(dump);
  // A disabled CRI plugin is not in the dump at all: nothing to compare (the user forced the write).
  if (criDisabled(dump) && getPath(dump, R.slice(0, 2)) === undefined) return null;
  const got = getPath(dump, [...R, name]);
  if (expect.runtime === null) return got ? `the merged config still has runtime "${name}"` : null;
  if (!got) return `the merged config has no runtime "${name}" under [${showPath(R)}]`;
  if (got.runtime_type !== expect.runtime.runtime_type)
    return `runtime "${name}" has runtime_type ${JSON.stringify(got.runtime_type)} in the merged config, not ${JSON.stringify(expect.runtime.runtime_type)}`;
  for (const [k, v] of Object.entries(expect.runtime.options as Record<string, unknown>)) {
    if (getPath(got, ["options", k]) !== v)
      return `runtime "${name}" has options.${k} = ${JSON.stringify(getPath(got, ["options", k]))} in the merged config, not ${JSON.stringify(v)}`;
  }
  if (expect.defaultRuntimeName !== undefined) {
    const dr = getPath(dump, [...R.slice(0, -1), "default_runtime_name"]);
    if (dr !== expect.defaultRuntimeName)
      return `default_runtime_name is ${JSON.stringify(dr)} in the merged config, not ${JSON.stringify(expect.defaultRuntimeName)}`;
  }
  return null;
}

/**
 * Load the planned files with the real containerd before writing anything: a private
 * copy of the main config whose imports name the planned drop-in, dumped and compared
 * with the dump of the current config. Everything but the runtime must be equal
 * (this catches the shallow merge of imports before containerd 2.1).
 */
export async function validateWithContainerd(
  bin: string,
  configPath: string,
  reader: ConfigReader,
  changes: FileChange[],
  name: string,
  expect: ContainerdPlanResult["expect"],
  root: HostRoot = SELF_ROOT,
): Promise<string | null> {
  // A chrooted containerd must see the staged copies: stage them in the host's /tmp.
  const local = mkdtempSync(join(root.foreign ? root.local("/tmp") : tmpdir(), "gvd-containerd-validate-"));
  const dir = root.host(local);
  const writeFileSync = (p: string, text: string) => writeLocal(root.local(p), text);
  try {
    const planned = new Map(changes.filter((c) => c.after !== null).map((c) => [c.path, c.after!]));
    const deleted = new Set(changes.filter((c) => c.after === null).map((c) => c.path));
    const readPlanned = (p: string) => (deleted.has(p) ? null : (planned.get(p) ?? reader.read(p)));
    const configDir = dirname(configPath);
    const rewrite = (text: string, files: string[] | null): string => {
      const doc = new TomlDoc(text);
      if (files !== null) doc.set([], "imports", files);
      return doc.text;
    };
    const explicitImports = (text: string, subst: (f: string) => string | null): string[] | null => {
      const doc = parseTomlStrict(text, configPath);
      if (!Array.isArray(doc.imports)) return null;
      const out: string[] = [];
      for (const pat of doc.imports.map((p: string) => absolutize(p, configDir))) {
        const names = new Set(expandGlob(pat, reader.list) ?? []);
        for (const c of changes)
          if (
            c.after !== null &&
            expandGlob(pat, (d) => (d === dirname(c.path) ? [c.path.slice(d.length + 1)] : []))?.includes(c.path)
          )
            names.add(c.path);
        for (const f of [...names].sort()) {
          const s = subst(f);
          if (s) out.push(s);
        }
      }
      return out;
    };
    const stage = (label: string, mainText: string | null, read: (p: string) => string | null): string => {
      const main = join(dir, `${label}.toml`);
      if (mainText === null) {
        writeFileSync(main, "");
        return main;
      }
      let n = 0;
      const files = explicitImports(mainText, (f) => {
        const t = read(f);
        if (t === null) return null;
        const p = join(dir, `${label}-import-${n++}.toml`);
        writeFileSync(p, t);
        return p;
      });
      writeFileSync(main, rewrite(mainText, files));
      return main;
    };
    // Merging can only surprise when files are imported; a single file is proven by the TOML check.
    const currentMain = reader.read(configPath);
    const merges = /^\s*imports\s*=/m.test(currentMain ?? "") || /^\s*imports\s*=/m.test(readPlanned(configPath) ?? "");
    const afterMain = stage("after", readPlanned(configPath), readPlanned);
    const [b, a] = await Promise.all([
      merges
        ? configDump(bin, stage("before", currentMain, reader.read), root)
        : Promise.resolve({ doc: null, error: null }),
      configDump(bin, afterMain, root),
    ]);
    if (a.error) return `containerd cannot load the result: ${a.error.replaceAll(dir, "<staged copy>")}`;
    const mismatch = dumpMismatch(a.doc!, name, expect);
    if (mismatch) return mismatch;
    if (b.doc) {
      const strip = (d: Record<string, any>) => {
        const c = structuredClone(d);
        delete c.imports;
        deleteIn(c, [...dumpRuntimesPath(c), name]);
        // An explicit runtime dumps `options = {}` where the built-in one lists zero values: the same to the shim.
        for (const rt of Object.values<any>(getPath(c, dumpRuntimesPath(c)) ?? {})) {
          if (rt?.options && typeof rt.options === "object")
            for (const [k, v] of Object.entries(rt.options))
              if (v === "" || v === 0 || v === false || (Array.isArray(v) && v.length === 0)) delete rt.options[k];
        }
        if (expect.defaultRuntimeName !== undefined)
          deleteIn(c, [...dumpRuntimesPath(c).slice(0, -1), "default_runtime_name"]);
        return c;
      };
      const diff = firstDifference(strip(b.doc), strip(a.doc!));
      if (diff)
        return `the change would also alter ${showPath(diff)} in containerd's merged config (imported files replace whole plugin tables before containerd 2.1)`;
    }
    return null;
  } finally {
    rmSync(local, { recursive: true, force: true });
  }
}

/**
 * The text `containerd config migrate` makes of a config that has no version line, for
 * containerd 2.x. containerd 2.1 reads such a file as version 1 and silently drops its CRI
 * runtimes ("Ignoring unknown key in TOML for plugin … containerd runtimes"), and so does a
 * plain `config migrate` of it (measured with 2.1.9). A file written with version 2's plugin
 * names migrates when read as what it is: `version = 2` is put in front first. Refused (with
 * the reason) when runtimes would still be lost, for version 1 names (plugins.cri) and for
 * imports (migrate inlines them).
 */
export async function migrateUnversioned(
  bin: string,
  configPath: string,
  text: string,
  version: string | null,
  root: HostRoot = SELF_ROOT,
): Promise<{ text: string; error: null } | { text: null; error: string }> {
  const doc = parseTomlStrict(text, configPath);
  const refuse = (error: string) => ({ text: null, error });
  if (getPath(doc, CRI_PLUGIN[1]) !== undefined) {
    return refuse(
      `it uses version 1 plugin names ([${showPath(CRI_PLUGIN[1])}]), ` +
        "whose runtimes containerd config migrate drops",
    );
  }
  if (Array.isArray(doc.imports) && doc.imports.length) {
    return refuse("it imports other files, which containerd config migrate would inline");
  }
  const declared = Object.keys(getPath(doc, runtimesPath(2)) ?? {});
  const local = mkdtempSync(join(root.foreign ? root.local("/tmp") : tmpdir(), "gvd-containerd-migrate-"));
  try {
    const staged = join(local, "config.toml");
    writeLocal(staged, `version = 2\n${text}`);
    const r = await runHostBinary(root, bin, ["-c", root.host(staged), "config", "migrate"], { timeoutMs: 20_000 });
    if (r.code !== 0) {
      const why = failureText(r).replaceAll(root.host(local), "<staged copy>");
      return refuse(`containerd config migrate failed: ${why}`);
    }
    const out = parseTomlStrict(r.stdout, `containerd config migrate of ${configPath}`);
    const lost = declared.filter((n) => getPath(out, [...runtimesPath(3), n]) === undefined);
    if (out.version !== 3) return refuse(`containerd config migrate wrote version ${out.version}, not 3`);
    if (lost.length) return refuse(`containerd config migrate loses runtime ${lost.join(", ")}`);
    const header =
      "# Migrated to version 3 by gvisor-doctor with `containerd config migrate` " +
      `(containerd ${version ?? "2.x"}):\n` +
      "# the file had no version line, so containerd 2.x dropped its CRI runtimes. The original is in the backup.\n";
    return { text: `${header}${r.stdout}`, error: null };
  } finally {
    rmSync(local, { recursive: true, force: true });
  }
}
