// Docker checks: is the daemon there, does it know runsc, and does a container
// really run under gVisor?
import { ensureProbeImage } from "../platform/images.ts";
import { run, failureText } from "../platform/proc.ts";
import { fail, pass, skip, type Check, type Diagnosis } from "./types.ts";

export const RUNTIME_NAME = "runsc";
export const GVISOR_SIGNATURE = "Starting gVisor";

function daemonDiagnosis(error: string, systemd: boolean): Diagnosis {
  if (/permission denied/i.test(error)) {
    return { cause: "This user may not use the Docker socket.", fix: { id: "docker.socket-permission", summary: "Run as root, or add the user to the docker group", command: "sudo gvisor-doctor check  # or: sudo usermod -aG docker $USER", automatic: false } };
  }
  return {
    cause: "dockerd is not running, or DOCKER_HOST points elsewhere.",
    fix: { id: "docker.start", summary: "Start the Docker daemon", command: systemd ? "sudo systemctl start docker" : "sudo dockerd >/var/log/dockerd.log 2>&1 &", automatic: false },
  };
}

export const dockerDaemon: Check = {
  id: "docker.daemon",
  title: "Docker daemon is reachable",
  run({ facts }) {
    const d = facts.docker;
    if (!d.cli && facts.dockerd.length === 0) return skip("Docker is not installed");
    if (!d.cli) return fail("dockerd runs but the docker CLI is not on PATH", { cause: "The doctor drives Docker through its CLI.", fix: { id: "docker.install-cli", summary: "Install the docker CLI", command: "sudo apt-get install docker.io  # or docker-ce-cli", automatic: false } });
    const details = [`host: ${d.host}`, `config: ${d.configPath}`, ...(d.daemon ? [`pid: ${d.daemon.pid} (${d.daemon.argv.join(" ")})`] : [])];
    if (!d.info) return fail(`cannot reach dockerd at ${d.host}: ${d.infoError}`, daemonDiagnosis(d.infoError ?? "", facts.systemd), details);
    return pass(`Docker ${d.info.serverVersion} at ${d.host}`, details);
  },
};

export const dockerRuntime: Check = {
  id: "docker.runtime",
  title: "runsc is registered with dockerd",
  needs: ["docker.daemon"],
  run({ facts }) {
    const d = facts.docker;
    const rt = d.info!.runtimes[RUNTIME_NAME];
    const listed = Object.keys(d.info!.runtimes).join(", ");
    if (!rt) {
      return fail(`dockerd at ${d.host} does not list a "${RUNTIME_NAME}" runtime (it has: ${listed})`, {
        cause: `"${RUNTIME_NAME}" is missing from runtimes in ${d.configPath}, or the file was edited and dockerd not reloaded; \`docker run --runtime=${RUNTIME_NAME}\` fails with "unknown or invalid runtime name".`,
        fix: { id: "docker.register-runtime", summary: `Register runsc in ${d.configPath} and reload dockerd`, command: "sudo gvisor-doctor configure docker", automatic: true },
      }, [`docker info runtimes: ${listed}`]);
    }
    const args = rt.runtimeArgs?.length ? ` ${rt.runtimeArgs.join(" ")}` : "";
    return pass(`${RUNTIME_NAME} → ${rt.path}${args}${d.info!.defaultRuntime === RUNTIME_NAME ? " (default runtime)" : ""}`, [`default runtime: ${d.info!.defaultRuntime}`], rt);
  },
};

export const dockerHello: Check = {
  id: "docker.hello",
  title: "A container runs under gVisor (docker run --runtime=runsc)",
  needs: ["docker.runtime"],
  requires: { containers: true },
  timeoutMs: 90_000,
  async run({ facts, options }) {
    const cli = facts.docker.cli!;
    const image = await ensureProbeImage(cli, options.env);
    // `; exit 0` separates "the container did not start" (docker exits 125–127) from
    // "it ran but dmesg was denied" (runc: klogctl EPERM; gVisor allows syslog(2) to anyone).
    const args = ["run", "--rm", `--runtime=${RUNTIME_NAME}`, "--log-driver=none", image.tag, "sh", "-c", "dmesg 2>&1; exit 0"];
    const r = await run(cli, args, { timeoutMs: 60_000, env: options.env });
    const cmd = `docker ${args.slice(0, -1).join(" ")} '${args.at(-1)}'`;
    const details = [`$ ${cmd}  (${r.durationMs} ms)`, `image: ${image.tag}${image.built ? " (built now from " + image.source + ")" : ""}`];
    if (r.code !== 0) {
      return fail(`the hello container failed: ${failureText(r)}`, {
        cause: "The container did not start under runsc; the error above is runsc's or dockerd's own words.",
        fix: { id: "rerun-verbose", summary: "Run the same container by hand to see the full error", command: cmd, automatic: false },
      }, [...details, ...r.stderr.trim().split("\n").filter(Boolean)], { result: r });
    }
    const lines = r.stdout.split("\n").filter(Boolean);
    const sig = lines.find((l) => l.includes(GVISOR_SIGNATURE));
    if (!sig) {
      return fail("the container ran, but not under gVisor: its dmesg lacks \"Starting gVisor\"", {
        cause: `The "${RUNTIME_NAME}" runtime's path does not point at runsc.`,
        fix: { id: "docker.register-runtime", summary: "Point the runtime at the real runsc", command: "sudo gvisor-doctor configure docker", automatic: true },
      }, [...details, ...lines.slice(0, 3)], { result: r });
    }
    return pass(`dmesg shows "${sig.trim()}" (${r.durationMs} ms)`, [...details, `dmesg: ${sig.trim()}`], { result: r });
  },
};
