// shellQuote: every word comes out of /bin/sh exactly as it went in, and plain words stay readable.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { shellQuote } from "../../platform/os/shell.ts";

/** The argv words /bin/sh makes of `line` (printf prints each between NULs). */
function shWords(line: string): string[] {
  const env = { HOME: "/home/someone" };
  const r = spawnSync("/bin/sh", ["-c", `printf '%s\\0' ${line}`], { encoding: "utf8", env });
  expect(r.status).toBe(0);
  return r.stdout.split("\0").slice(0, -1);
}

describe("shellQuote", () => {
  test("words a shell would change reach the program unchanged", () => {
    const words = [
      "",
      " ",
      "a b",
      "it's",
      "'",
      "''",
      '"x"',
      "$HOME",
      "${HOME}",
      "`id`",
      "$(id)",
      "a\\b",
      "*",
      "?",
      "[ab]",
      "~",
      "~/x",
      "~root",
      "#c",
      "a;b",
      "a&b",
      "a|b",
      "<x",
      ">x",
      "(x)",
      "{a,b}",
      "!x",
      "a\nb",
      "\t",
      "--prefix=~/.local",
      "x=$y",
      "ünïcødé",
      "%1",
    ];
    expect(shWords(words.map(shellQuote).join(" "))).toEqual(words);
  });

  test("words of only letters, digits and _@%+=:,./- are left bare (readable advice), all others quoted", () => {
    for (const w of [
      "gvisor-doctor",
      "--runtime-arg=--net-raw",
      "/usr/local/bin/runsc",
      "a,b",
      "user@host:1",
      "50%",
      "a+b",
      "v1.2.3",
      "_x",
    ])
      expect(shellQuote(w)).toBe(w);
    expect(shellQuote("~/.local")).toBe("'~/.local'");
    expect(shellQuote("")).toBe("''");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
  });
});
