// Type-checks every ```ts block of this package's README.md and of the repository's
// README.md against the built package, so the usage shown there stays true.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "build", "readme");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const readmes = [join(root, "README.md"), join(root, "../../README.md")].filter(existsSync);
const blocks = readmes.flatMap((file) =>
  [...readFileSync(file, "utf8").matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]),
);
blocks.forEach((code, i) => writeFileSync(join(out, `block${i}.ts`), `${code}\nexport {};\n`));
writeFileSync(
  join(out, "tsconfig.json"),
  JSON.stringify({
    extends: "../../tsconfig.json",
    compilerOptions: { types: ["node"], noEmit: true, rootDir: "." },
    include: ["*.ts"],
  }),
);
try {
  execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", out], {
    stdio: "inherit",
  });
} catch {
  console.error("README: a TypeScript example does not type-check (see above)");
  process.exit(1);
}
console.log(`README: ${blocks.length} TypeScript examples type-check`);
