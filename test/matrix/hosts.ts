// The hosts of the matrix (test/matrix/journeys.test.ts, bench/matrix.ts).
import type { Init } from "../hosts/host.ts";
import type { Suite } from "../hosts/trees.ts";

export interface MatrixHost {
  suite: Suite;
  init: Init;
  /** Set up first as gvisor-doctor leaves a host it served (test/hosts/lived-in.ts), not blank. */
  livedIn?: boolean;
  /**
   * The distribution's runsc was built with a Go its release does not know (sid: 20240729 with go1.26.2):
   * its sandboxes panic at random (rule runsc-go-toolchain), which the doctor must say.
   */
  runscPanics?: boolean;
}

export const MATRIX_HOSTS: MatrixHost[] = [
  { suite: "bookworm", init: "none" },
  { suite: "trixie", init: "systemd" },
  { suite: "sid", init: "systemd", runscPanics: true },
  { suite: "bookworm", init: "none", livedIn: true },
];

/** bookworm-none, sid-systemd, bookworm-none-lived-in: the results file and GVD_MATRIX_HOSTS name. */
export const hostName = (h: MatrixHost) => `${h.suite}-${h.init}${h.livedIn ? "-lived-in" : ""}`;
