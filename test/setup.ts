// Preloaded by bun:test (bunfig.toml). End-to-end tests start real daemons in hooks;
// bun's default 5 s limit applies to hooks too (bunfig's `timeout` does not), and a
// timed-out hook kills the daemons it started. Individual tests set tighter limits.
import { setDefaultTimeout } from "bun:test";
setDefaultTimeout(180_000);
