// The hosts of the matrix (test/matrix/journeys.test.ts, bench/matrix.ts).
import type { Init } from "../hosts/host.ts";
import type { Suite } from "../hosts/trees.ts";

export interface MatrixHost {
  suite: Suite;
  init: Init;
  /** Set up first as gvisor-doctor leaves a host it served (test/hosts/lived-in.ts), not blank. */
  livedIn?: boolean;
}

export const MATRIX_HOSTS: MatrixHost[] = [
  { suite: "bookworm", init: "none" },
  { suite: "trixie", init: "systemd" },
  { suite: "sid", init: "systemd" },
  { suite: "bookworm", init: "none", livedIn: true },
];

/** bookworm-none, sid-systemd, bookworm-none-lived-in: the results file and GVD_MATRIX_HOSTS name. */
export const hostName = (h: MatrixHost) => `${h.suite}-${h.init}${h.livedIn ? "-lived-in" : ""}`;
