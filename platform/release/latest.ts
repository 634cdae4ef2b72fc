// "Is there a newer gVisor release?" The bucket has no listing, so ask GitHub which
// tag /releases/latest redirects to (one HEAD-sized request, no API token or rate
// limit). GVISOR_DOCTOR_LATEST_URL points it elsewhere (mirrors, tests).
import { ensureProxySupport } from "./http.ts";
import { parseGvisorVersion, type GvisorVersion } from "../os/versions.ts";

export const LATEST_URL = "https://github.com/google/gvisor/releases/latest";

export async function latestRelease(
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 4_000,
): Promise<{ version: GvisorVersion | null; source: string; error?: string }> {
  const url = env.GVISOR_DOCTOR_LATEST_URL || LATEST_URL;
  try {
    await ensureProxySupport(); // the installer's proxy policy, so Node honours HTTPS_PROXY too
    const r = await fetch(url, {
      method: "GET",
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
      headers: { "user-agent": "gvisor-doctor" },
    });
    const loc = r.headers.get("location") ?? "";
    // A redirect names the tag in its Location; a mirror may instead answer 200 with the tag in the body.
    let text = loc;
    if (!loc && r.ok) text = (await r.text()).slice(0, 4096);
    else await r.body?.cancel().catch(() => {});
    const tag = text.match(/release-\d{8}(?:\.\d+)?/)?.[0];
    if (!tag) return { version: null, source: url, error: `no release tag in the answer (HTTP ${r.status})` };
    return { version: parseGvisorVersion(tag), source: url };
  } catch (e) {
    return { version: null, source: url, error: (e as Error).message };
  }
}
