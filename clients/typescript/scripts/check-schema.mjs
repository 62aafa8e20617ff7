// Fails when src/schema.ts is not what openapi-typescript makes of openapi.json, and, when
// the project's Python is at hand, when openapi.json is not what the server serves now.
// Regenerate both with `make openapi` from the repository root.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { generate } from "./generate.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
let failed = false;

const python =
  process.env.TTSQUEUE_PYTHON ?? [join(root, "../../.venv/bin/python")].find((p) => existsSync(p));
if (python) {
  try {
    execFileSync(python, [join(root, "scripts/openapi.py"), "--check"], { stdio: "inherit" });
  } catch {
    failed = true;
  }
} else if (process.env.CI === "true") {
  console.error("no Python with ttsqueue installed (set TTSQUEUE_PYTHON) to check openapi.json");
  failed = true;
} else {
  console.warn("skipping the openapi.json check: no project Python found (set TTSQUEUE_PYTHON)");
}

const dir = mkdtempSync(join(tmpdir(), "ttsqueue-schema-"));
try {
  const generated = join(dir, "schema.ts");
  generate(generated, true);
  if (readFileSync(generated, "utf8") !== readFileSync(join(root, "src/schema.ts"), "utf8")) {
    console.error("src/schema.ts is out of date with openapi.json: run `make openapi` and commit");
    failed = true;
  } else {
    console.log("src/schema.ts matches openapi.json");
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
