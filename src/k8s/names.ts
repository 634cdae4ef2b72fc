// Kubernetes' rules for object names (apimachinery's validation package: DNS-1123
// labels for namespaces, subdomains for most names), checked before anything is
// printed: a manifest the API server would refuse fails here, with the rule, not at
// `kubectl apply`. Label keys and values: labels.ts.
import { echoInput } from "../../platform/os/echo-input.ts";
import { UsageError } from "../../platform/os/errors.ts";

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Why `s` is not a DNS-1123 label (namespaces), or null when it is one. */
export function dns1123LabelError(s: string): string | null {
  if (s.length > 63) return `is ${s.length} characters long; at most 63`;
  if (!DNS1123_LABEL.test(s))
    return "must be lowercase letters, digits and '-', starting and ending with a letter or digit";
  return null;
}

/** Why `s` is not a DNS-1123 subdomain (most object names), or null when it is one. */
export function dns1123SubdomainError(s: string): string | null {
  if (s.length > 253) return `is ${s.length} characters long; at most 253`;
  if (!DNS1123_SUBDOMAIN.test(s))
    return "must be lowercase letters, digits, '-' and '.', starting and ending with a letter or digit";
  return null;
}

/** Throw a UsageError naming the flag when `value` breaks `rule`. */
export function requireValid(flag: string, value: string, error: string | null, hint: string): void {
  if (error) throw new UsageError(`${flag} "${echoInput(value)}" ${error}`, hint);
}
