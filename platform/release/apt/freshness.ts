// Rollback protection. A signature proves who made a release, not that it is the newest: an
// attacker who serves last month's validly signed Release (a replay) or an old release can
// bring back fixed bugs. So: the Release of a suite may not be older than the newest one this
// prefix has seen, nor past its Valid-Until; and no release older than the live one goes live
// unless --allow-downgrade says so.
import { ActionError } from "../../os/errors.ts";
import { compareGvisor, parseGvisorVersion } from "../../os/versions.ts";

export const DOWNGRADE_HINT = "pass --allow-downgrade to install an older release on purpose";

export function checkReleaseFreshness(o: {
  what: string;
  date: string | null;
  validUntil: string | null;
  seen: string | null;
  allowDowngrade: boolean;
  now: Date;
}): void {
  if (o.validUntil && Date.parse(o.validUntil) < o.now.getTime()) {
    throw new ActionError(
      `${o.what} expired on ${o.validUntil} (Valid-Until): a stale copy of the repository; nothing was installed`,
      "use an up-to-date mirror",
    );
  }
  if (o.seen && o.date && Date.parse(o.date) < Date.parse(o.seen) && !o.allowDowngrade) {
    throw new ActionError(
      `${o.what} is older (Date ${o.date}) than the one this prefix already verified (Date ${o.seen}): ` +
        "a replayed Release; nothing was installed",
      `check --mirror; ${DOWNGRADE_HINT}`,
    );
  }
}

/** Refuse `next` when it is an older gVisor release than `live` (both as runsc/deb versions). */
export function checkDowngrade(live: string | null, next: string | null, allow: boolean, what: string): void {
  const a = live ? parseGvisorVersion(live) : null;
  const b = next ? parseGvisorVersion(next) : null;
  if (!a || !b || allow) return;
  if (compareGvisor(b, a) < 0) {
    throw new ActionError(
      `${what} ${b.raw} is older than the live ${a.raw}: refusing to downgrade; nothing was installed`,
      DOWNGRADE_HINT,
    );
  }
}

/**
 * The release a live install is, for the downgrade check: the signed package Version, else
 * what runsc reports (unless a distribution build), else the dated release that was asked for.
 */
export function liveRelease(
  rec: { release?: string; runscVersion: string | null; requested: string } | undefined,
): string | null {
  if (!rec) return null;
  if (rec.release) return rec.release;
  const v = rec.runscVersion ? parseGvisorVersion(rec.runscVersion) : null;
  if (v && !v.distro) return v.raw;
  return /^\d{8}(\.\d+)?$/.test(rec.requested) ? rec.requested : null;
}

/** Like checkDowngrade, for runsc's own reports: distribution builds ("0.0~2022…") say nothing. */
export function checkReportedDowngrade(live: string | null, next: string | null, allow: boolean): void {
  const a = live ? parseGvisorVersion(live) : null;
  const b = next ? parseGvisorVersion(next) : null;
  if (a?.distro || b?.distro) return;
  checkDowngrade(live, next, allow, "runsc");
}
