// Runs a catalog of checks over gathered facts: independent checks concurrently,
// each after the checks it needs, each under a timeout; a throw or a timeout becomes
// a `fail` finding, never a crash. Findings come back in catalog order.
import { ENGINES } from "../platform/engines/index.ts";
import type { HostFacts } from "../platform/facts/host-facts.ts";
import { withAction } from "./fix-actions.ts";
import type { Check, CheckOptions, Finding, Fix, Outcome } from "./types.ts";

export interface Selection {
  /** Ids or id prefixes (e.g. "docker" or "docker.runtime"); empty = all. */
  only?: string[];
  skip?: string[];
}

const DEFAULT_TIMEOUT_MS = 20_000;

export const matchesId = (id: string, pattern: string) =>
  id === pattern || id.startsWith(pattern.endsWith(".") ? pattern : `${pattern}.`);

/** Unknown ids in --only/--skip are usage errors; returns the offending patterns. */
export function unknownPatterns(catalog: Check[], patterns: string[]): string[] {
  return patterns.filter((p) => !catalog.some((c) => matchesId(c.id, p)));
}

/** The checks to run: the selected ones plus everything they need, in catalog order. */
export function selectChecks(catalog: Check[], sel: Selection): Check[] {
  if (!sel.only?.length) return catalog;
  const byId = new Map(catalog.map((c) => [c.id, c]));
  const want = new Set<string>();
  const add = (id: string) => {
    if (want.has(id)) return;
    want.add(id);
    for (const n of byId.get(id)?.needs ?? []) add(n);
  };
  for (const c of catalog) if (sel.only.some((p) => matchesId(c.id, p))) add(c.id);
  return catalog.filter((c) => want.has(c.id));
}

function skipReason(check: Check, facts: HostFacts, opts: CheckOptions, sel: Selection): string | null {
  if (sel.skip?.some((p) => matchesId(check.id, p))) return "skipped by --skip";
  const r = check.requires ?? {};
  if (r.containers && opts.quick) return "skipped by --quick (starts a container)";
  if (r.network && opts.offline) return "skipped by --offline (needs the network)";
  if (r.root && !facts.user.root) return "needs root: run it with sudo";
  if (r.hostRootOnly && !facts.hostRoot) return "only with --host-root (a Kubernetes node mounted at DIR)";
  if (r.thisMachine && facts.hostRoot)
    return "not checked with --host-root (it looks at the machine gvisor-doctor runs on; k8s check proves pods run under gVisor)";
  return null;
}

/** Host-root mode: a gvisor-doctor fix acts on the node only with the same --host-root (run as root there). */
function onNode(fix: Fix | null, hostRoot: string): Fix | null {
  const a = fix?.action;
  if (a?.kind !== "configure" && a?.kind !== "install") return fix;
  return withAction(fix!, { ...a, hostRoot });
}

/**
 * A fix the invoking user applies without root: registering runsc with an engine they run themselves
 * (Podman as a normal user reads only their ~/.config/containers; a rootless dockerd their ~/.config/docker).
 */
export function userOwnedFix(fix: Fix | null, facts: HostFacts): boolean {
  if (fix?.action?.kind !== "configure" || facts.user?.root !== false || facts.hostRoot) return false;
  const engine = fix.action.engines[0];
  return engine !== undefined && engine !== "all" && ENGINES[engine].ownedByUser(facts);
}

/** The fix as the user types it: without sudo for what they own. */
export function asInvokingUser(fix: Fix | null, facts: HostFacts): Fix | null {
  return fix?.action && userOwnedFix(fix, facts) ? withAction(fix, fix.action, false) : fix;
}

export async function runChecks(
  catalog: Check[],
  facts: HostFacts,
  opts: CheckOptions,
  sel: Selection = {},
): Promise<Finding[]> {
  const checks = selectChecks(catalog, sel);
  const byId = new Map(checks.map((c) => [c.id, c]));
  const results = new Map<string, Promise<Finding>>();
  /** Each check's finding, started on first demand (so a check may need one listed after it). */
  const findingOf = (id: string): Promise<Finding> => {
    let p = results.get(id);
    if (!p) {
      p = runOne(byId.get(id)!);
      results.set(id, p);
    }
    return p;
  };

  const runOne = async (check: Check): Promise<Finding> => {
    const started = performance.now();
    const finish = (o: Outcome): Finding => ({
      id: check.id,
      title: check.title,
      status: o.status,
      message: o.message,
      details: o.details ?? [],
      diagnosis:
        o.diagnosis && facts.hostRoot
          ? { ...o.diagnosis, fix: onNode(o.diagnosis.fix, facts.hostRoot) }
          : o.diagnosis
            ? { ...o.diagnosis, fix: asInvokingUser(o.diagnosis.fix, facts) }
            : null,
      durationMs: Math.round(performance.now() - started),
      ...(o.data !== undefined ? { data: o.data } : {}),
    });
    const reason = skipReason(check, facts, opts, sel);
    if (reason) return finish({ status: "skip", message: reason });
    const needed = await Promise.all((check.needs ?? []).filter((n) => byId.has(n)).map(findingOf));
    const blocked = needed.find((f) => f.status === "fail" || f.status === "skip");
    if (blocked) {
      return finish({
        status: "skip",
        message: `needs ${blocked.id} (${blocked.status === "fail" ? "failed" : "skipped"})`,
      });
    }
    const done = new Map(needed.map((f) => [f.id, f]));
    const ac = new AbortController();
    const timeoutMs = check.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<Outcome>((resolve) => {
      timer = setTimeout(() => {
        ac.abort(new Error("timeout"));
        resolve({
          status: "fail",
          message: `did not finish within ${Math.round(timeoutMs / 1000)} s`,
          diagnosis: {
            cause: "The check timed out; the probe it runs hung or the host is overloaded.",
            fix: {
              id: "rerun-verbose",
              summary: "Re-run this check with -v to see the command that hung",
              command: `gvisor-doctor check --only ${check.id} -v`,
              automatic: false,
            },
          },
        });
      }, timeoutMs);
    });
    try {
      const outcome = await Promise.race([
        Promise.resolve().then(() =>
          check.run({
            facts,
            options: opts,
            signal: ac.signal,
            finding: (id) => {
              const f = done.get(id);
              if (!f) throw new Error(`check ${check.id} read ${id}, which is not in its needs`);
              return f;
            },
          }),
        ),
        timeout,
      ]);
      return finish(outcome);
    } catch (e) {
      const err = e as Error;
      return finish({
        status: "fail",
        message: `check crashed: ${err?.message ?? String(e)}`,
        details: err?.stack ? err.stack.split("\n").slice(0, 6) : [],
        diagnosis: {
          cause: "A bug in gvisor-doctor: this check threw instead of reporting.",
          fix: { id: "report-bug", summary: "Report it with the output of -v --json", command: null, automatic: false },
        },
      });
    } finally {
      clearTimeout(timer);
    }
  };

  return Promise.all(checks.map((c) => findingOf(c.id)));
}
