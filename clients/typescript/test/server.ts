// Starts a real ttsqueue server (`ttsqueue up`: API and worker in one process) from the
// project's Python environment, on a free port, with a SQLite store in a temporary
// directory, and mints API keys for it with `ttsqueue token create`.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const repoRoot = resolve(packageRoot, "../..");

/** The `ttsqueue` command: $TTSQUEUE_BIN, or the project's `.venv`. */
export function ttsqueueBin(): string {
  const bin = process.env.TTSQUEUE_BIN ?? join(repoRoot, ".venv/bin/ttsqueue");
  if (!existsSync(bin)) {
    throw new Error(`no ttsqueue command at ${bin}: run \`make .venv/.dev-installed\` or set TTSQUEUE_BIN`);
  }
  return bin;
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolvePort(address.port) : reject(new Error("no port")),
      );
    });
  });
}

export interface RunningServer {
  baseUrl: string;
  dir: string;
  /** A new API key for `user`. */
  token(user: string, ...flags: string[]): string;
  stop(): Promise<void>;
  log(): string;
}

export async function startServer(): Promise<RunningServer> {
  const bin = ttsqueueBin();
  const dir = mkdtempSync(join(tmpdir(), "ttsqueue-ts-"));
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TTSQUEUE_DATABASE_URL: `sqlite:///${join(dir, "queue.db")}`,
    TTSQUEUE_DATA_DIR: join(dir, "data"),
    TTSQUEUE_HOST: "127.0.0.1",
    TTSQUEUE_PORT: String(port),
    TTSQUEUE_LEASE_S: "5",
    TTSQUEUE_HEARTBEAT_S: "1",
    TTSQUEUE_POLL_INTERVAL_S: "0.2",
    TTSQUEUE_REAP_INTERVAL_S: "1",
    TTSQUEUE_RETRY_BASE_S: "0.2",
    TTSQUEUE_SHUTDOWN_GRACE_S: "5",
    TTSQUEUE_SUBMISSIONS_PER_MINUTE: "1000",
    PYTHONUNBUFFERED: "1",
  };
  const run = (...args: string[]) =>
    execFileSync(bin, args, { env, cwd: dir, encoding: "utf8", timeout: 60_000 }).trim();
  run("migrate");
  const logFile = join(dir, "server.log");
  const out = openSync(logFile, "w");
  const child: ChildProcess = spawn(bin, ["up", "--concurrency", "2"], {
    env,
    cwd: dir,
    stdio: ["ignore", out, out],
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const log = () => readFileSync(logFile, "utf8");
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`ttsqueue up exited early:\n${log()}`);
    try {
      const response = await fetch(`${baseUrl}/v1/health`, { signal: AbortSignal.timeout(2000) });
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`ttsqueue up did not answer within 90 s:\n${log()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    baseUrl,
    dir,
    log,
    token: (user, ...flags) => run("token", "create", "--user", user, ...flags),
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
