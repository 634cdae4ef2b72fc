// Which proxy a request goes through, decided the way curl, undici and Bun do:
// lower-case variables win over upper-case ones, NO_PROXY lists hosts (optionally
// with a port) or domain suffixes (".example.com", "example.com", "*.example.com"),
// and "*" turns proxying off. Used to report the route (-v) and, on Node, to set up undici.

export interface ProxyDecision {
  /** Proxy URL, or null for a direct connection. */
  proxy: string | null;
  /** The variable that chose it, e.g. "https_proxy", or why there is none. */
  reason: string;
}

function pick(env: NodeJS.ProcessEnv, name: string): { value: string; from: string } | null {
  const lower = env[name.toLowerCase()];
  if (lower) return { value: lower, from: name.toLowerCase() };
  const upper = env[name.toUpperCase()];
  if (upper) return { value: upper, from: name.toUpperCase() };
  return null;
}

/** True when `host[:port]` matches an entry of a NO_PROXY list. */
export function noProxyMatches(list: string, hostname: string, port: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  for (const raw of list.split(/[\s,]+/)) {
    let entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === "*") return true;
    let entryPort = "";
    const m = entry.match(/^(.*?):(\d+)$/);
    if (m && !entry.includes("]") && (m[1].match(/:/g) ?? []).length === 0) {
      entry = m[1];
      entryPort = m[2];
    }
    entry = entry.replace(/^\[|\]$/g, "");
    if (entryPort && entryPort !== port) continue;
    if (entry.startsWith("*.")) entry = entry.slice(1);
    if (entry.startsWith(".")) {
      if (host.endsWith(entry) || host === entry.slice(1)) return true;
    } else if (host === entry || host.endsWith(`.${entry}`)) {
      return true;
    }
  }
  return false;
}

export function proxyFor(url: string, env: NodeJS.ProcessEnv): ProxyDecision {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { proxy: null, reason: "not a URL" };
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return { proxy: null, reason: `${u.protocol} needs no proxy` };
  const port = u.port || (u.protocol === "https:" ? "443" : "80");
  const no = pick(env, "no_proxy");
  if (no && noProxyMatches(no.value, u.hostname, port))
    return { proxy: null, reason: `${u.hostname} matches ${no.from}` };
  const chosen = u.protocol === "https:" ? pick(env, "https_proxy") : pick(env, "http_proxy");
  if (chosen) return { proxy: chosen.value, reason: chosen.from };
  return { proxy: null, reason: `no ${u.protocol === "https:" ? "https_proxy" : "http_proxy"} set` };
}

/** A proxy URL without its password, for messages. */
export function redactProxy(proxy: string): string {
  try {
    const u = new URL(proxy);
    if (u.password) u.password = "***";
    return u.toString().replace(/\/$/, "");
  } catch {
    return proxy;
  }
}
