// Validate --json reports against the documented schemas: docs/check-report.schema.json,
// docs/k8s-check-report.schema.json and docs/k8s-agent-line.schema.json (which refer to
// each other by $id, so they share one Ajv instance).
import Ajv from "ajv";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./cli.ts";

const load = (name: string) => JSON.parse(readFileSync(join(ROOT, "docs", name), "utf8"));
const schemas = {
  check: load("check-report.schema.json"),
  k8sCheck: load("k8s-check-report.schema.json"),
  agentLine: load("k8s-agent-line.schema.json"),
};
const ajv = new Ajv({ allErrors: true, strict: false });
ajv.addSchema(Object.values(schemas));
const compiled = (s: { $id: string }) => {
  const v = ajv.getSchema(s.$id);
  if (!v) throw new Error(`schema ${s.$id} did not compile`);
  return v;
};
const validate = compiled(schemas.check);
const validateK8sCheck = compiled(schemas.k8sCheck);
const validateAgentLine = compiled(schemas.agentLine);

/** Throws with every schema violation when `doc` does not match. */
export function assertReportSchema(doc: unknown): void {
  if (!validate(doc))
    throw new Error(
      `report does not match docs/check-report.schema.json:\n${JSON.stringify(validate.errors, null, 2)}`,
    );
}

/** Throws with every schema violation when `doc` (a `k8s check --json` document) does not match. */
export function assertK8sCheckSchema(doc: unknown): void {
  if (!validateK8sCheck(doc))
    throw new Error(
      `report does not match docs/k8s-check-report.schema.json:\n${JSON.stringify(validateK8sCheck.errors, null, 2)}`,
    );
}

/** Throws with every schema violation when `doc` (one `k8s agent` line, parsed) does not match. */
export function assertAgentLineSchema(doc: unknown): void {
  if (!validateAgentLine(doc))
    throw new Error(
      `agent line does not match docs/k8s-agent-line.schema.json:\n${JSON.stringify(validateAgentLine.errors, null, 2)}`,
    );
}
