// Text files the CLI embeds (`import x from "./f.sh" with { type: "text" }`; Bun and Deno both read them).
declare module "*.sh" {
  const text: string;
  export default text;
}
