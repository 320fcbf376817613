// graphql-js from the client suite's install (tests/clients), installed on first use, so every
// module of the harness shares one copy (its type checks compare classes by identity).
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const clients = join(repoRoot, "tests", "clients");

if (!existsSync(join(clients, "node_modules", "graphql", "package.json"))) {
  execFileSync(join(repoRoot, "scripts", "ensure-client-packages"), { stdio: ["ignore", 2, 2] });
}

const graphql = createRequire(join(clients, "package.json"))("graphql");
export default graphql;
