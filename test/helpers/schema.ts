// Validate --json reports against the documented schema (docs/check-report.schema.json).
import Ajv from "ajv";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./cli.ts";

const schema = JSON.parse(readFileSync(join(ROOT, "docs", "check-report.schema.json"), "utf8"));
const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

/** Throws with every schema violation when `doc` does not match. */
export function assertReportSchema(doc: unknown): void {
  if (!validate(doc)) throw new Error(`report does not match docs/check-report.schema.json:\n${JSON.stringify(validate.errors, null, 2)}`);
}
