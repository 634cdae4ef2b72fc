// The key gvisor-doctor releases are signed with (SSH ed25519; RELEASING.md). `npm run release`
// stamps its public half into the binary it builds (GVD_RELEASE_PUBKEY) and into that release's
// install.sh, so each binary trusts the key of its own release for self-update.
// GVISOR_DOCTOR_RELEASE_PUBKEY overrides it (a mirror that re-signs; the tests' own key).
declare const GVD_RELEASE_PUBKEY: string | undefined;

export const BUILT_IN_RELEASE_KEY: string | null =
  typeof GVD_RELEASE_PUBKEY === "string" && GVD_RELEASE_PUBKEY ? GVD_RELEASE_PUBKEY : null;

export function releaseKey(env: NodeJS.ProcessEnv): { key: string; from: string } | null {
  const e = env.GVISOR_DOCTOR_RELEASE_PUBKEY?.trim();
  if (e) return { key: e, from: "GVISOR_DOCTOR_RELEASE_PUBKEY" };
  return BUILT_IN_RELEASE_KEY ? { key: BUILT_IN_RELEASE_KEY, from: "the key built into this binary" } : null;
}
