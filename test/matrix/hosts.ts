// The hosts of the matrix (test/matrix/journeys.test.ts, bench/matrix.ts).
import type { Init } from "../hosts/host.ts";
import type { Suite } from "../hosts/trees.ts";

export const MATRIX_HOSTS: { suite: Suite; init: Init }[] = [
  { suite: "bookworm", init: "none" },
  { suite: "trixie", init: "systemd" },
  { suite: "sid", init: "systemd" },
];
