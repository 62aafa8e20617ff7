// src/schema.ts from openapi.json (or to the file named as the first argument).
// Fields with a default stay optional: they may be left out of a request.
import { execFileSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export function generate(output, quiet = false) {
  execFileSync(
    process.execPath,
    [
      join(root, "node_modules/openapi-typescript/bin/cli.js"),
      join(root, "openapi.json"),
      "--default-non-nullable",
      "false",
      "--output",
      output,
    ],
    { stdio: quiet ? "ignore" : "inherit" },
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  generate(process.argv[2] ?? join(root, "src/schema.ts"));
}
