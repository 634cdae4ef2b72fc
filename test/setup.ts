// Preloaded by bun:test (bunfig.toml). End-to-end tests start real daemons in hooks;
// bun's default 5 s limit applies to hooks too (bunfig's `timeout` does not), and on a
// timeout bun kills the processes the test spawned, daemons included. Measured with bun
// 1.4.5: a preload's setDefaultTimeout reaches only the first test file of a run, so
// test/run.sh also passes --timeout; this covers `npx bun test <one file>`.
import { setDefaultTimeout } from "bun:test";
setDefaultTimeout(180_000);
