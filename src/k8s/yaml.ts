// Multi-document YAML for kubectl. Rendered as YAML 1.1 on purpose: kubectl reads
// manifests with go-yaml v2 (YAML 1.1), where an unquoted yes/on/0755 is not a
// string; the 1.1 schema makes the renderer quote every such string.
import { Document, isScalar, visit } from "yaml";

const FLOW_SAFE = /^[A-Za-z0-9_./=-]*$/;

export interface YamlDocument {
  /** Comment lines shown above the document (without the leading '#'). */
  comment?: string[];
  object: object;
}

/** `# header` lines, then each document after a `---`, with its comment above it. */
export function renderYamlStream(header: string[], docs: YamlDocument[]): string {
  const out: string[] = header.map(commentLine);
  for (const d of docs) {
    const doc = new Document(d.object, { version: "1.1" });
    // Lists of plain words (args, verbs) on one line, as people write them: [get, patch].
    // Not with ':' or other punctuation inside: old YAML readers split "[https://x]".
    visit(doc, {
      Seq(_, seq) {
        if (seq.items.every((i) => isScalar(i) && typeof i.value === "string" && FLOW_SAFE.test(i.value)))
          seq.flow = true;
      },
    });
    out.push("---");
    for (const c of d.comment ?? []) out.push(commentLine(c));
    // lineWidth 0: never fold long strings (CEL expressions, args) across lines.
    out.push(doc.toString({ lineWidth: 0, flowCollectionPadding: false }).trimEnd());
  }
  return `${out.join("\n")}\n`;
}

function commentLine(s: string): string {
  return s === "" ? "#" : `# ${s}`;
}
