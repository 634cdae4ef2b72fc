// Local probe images: imported from a host-built rootfs, tagged by content hash,
// so they are built once per daemon and never pulled from a registry.
import { run, failureText } from "./proc.ts";
import { helloRootfs, imageTag, rootfsTar } from "./rootfs.ts";

export interface EnsuredImage {
  tag: string;
  built: boolean;
  source: string;
}

/**
 * Make sure the probe image exists in the engine behind `cli` (docker or podman,
 * both accept `image inspect` and `import -`).
 */
export async function ensureProbeImage(cli: string, env: NodeJS.ProcessEnv = process.env): Promise<EnsuredImage> {
  const fs = await helloRootfs();
  const tag = imageTag(fs);
  const inspect = await run(cli, ["image", "inspect", "--format", "{{.Id}}", tag], { timeoutMs: 15_000, env });
  if (inspect.code === 0) return { tag, built: false, source: fs.source };
  const tar = await rootfsTar(fs);
  const imp = await run(cli, ["import", "--message", "gvisor-doctor probe image", "-", tag], { input: tar, timeoutMs: 60_000, env });
  if (imp.code !== 0) throw new Error(`could not import the probe image ${tag}: ${failureText(imp)}`);
  return { tag, built: true, source: fs.source };
}
