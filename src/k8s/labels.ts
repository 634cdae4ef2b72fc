// Kubernetes label syntax (k8s.io/apimachinery validation: IsQualifiedName, IsValidLabelValue),
// checked before anything is sent so a bad --label is a usage error, not an HTTP 422.

import { dns1123SubdomainError } from "./names.ts";

const NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

/** Why `key` is not a valid label key, or null when it is. */
export function labelKeyProblem(key: string): string | null {
  const slash = key.indexOf("/");
  const prefix = slash >= 0 ? key.slice(0, slash) : null;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== null) {
    if (!prefix) return `label key "${key}": the prefix before "/" is empty`;
    const bad = dns1123SubdomainError(prefix);
    if (bad) return `label key "${key}": the prefix "${prefix}" is not a DNS subdomain: it ${bad}`;
  }
  if (!name) return `label key "${key}": the name is empty`;
  if (name.length > 63) return `label key "${key}": the name is longer than 63 characters`;
  if (!NAME.test(name))
    return `label key "${key}": the name must be letters, digits, '-', '_' or '.', starting and ending with a letter or digit`;
  return null;
}

/** Why `value` is not a valid label value, or null when it is ("" is valid). */
export function labelValueProblem(value: string): string | null {
  if (value === "") return null;
  if (value.length > 63) return `label value "${value}" is longer than 63 characters`;
  if (!NAME.test(value))
    return `label value "${value}" must be letters, digits, '-', '_' or '.', starting and ending with a letter or digit`;
  return null;
}

/**
 * The label value for an installed version directory name. Release versions
 * ("20260817.0") are valid as they are; anything else is made valid ('~' and '+'
 * become '_', cut to 63 characters, trimmed to start and end with a letter or digit).
 */
export function labelValueFor(version: string): string {
  return version
    .replace(/[^A-Za-z0-9._-]/g, "_")
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, "");
}
