/**
 * One real `ovoz serve` (API + projector + worker, embedded PostgreSQL, the bundled base
 * model) in a fresh var dir, serving the built app at /. Its output goes to a log file
 * in the var dir; failures show the tail of it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { MAX_UPLOAD_BYTES, OVOZ, REPO_ROOT, RESULTS, WEB_DIST } from "./env";

const START_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 20_000;

/** Settings of the developer's environment that must not leak into a server under test. */
const SCRUB = /^(DATABASE_URL|DATABASE_SCHEMA|ENV|JWT_.*|OTP_.*|SMS_.*|ESKIZ_.*|WHISPER_.*|JOB_.*|MAX_.*|QUOTA_.*|PORT|HOST|OVOZ_VAR_DIR|BLOB_DIR|WEB_DIR|ADMIN_PHONE_NUMBERS|MASTER_KEY.*|PHONE_HMAC_KEY|READ_YOUR_WRITES_TIMEOUT|REQUEST_.*|ALLOWED_ORIGINS|FORWARDED_ALLOW_IPS|WORKERS|LOG_LEVEL)$/;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0] !== "Z";
  } catch {
    return true;
  }
}

export interface ServerInfo {
  url: string;
  port: number;
  varDir: string;
}

export class OvozServer implements ServerInfo {
  readonly varDir: string;
  port = 0;
  private child: ChildProcess | null = null;
  private runs = 0;
  private exitHook = (): void => {
    this.child?.kill("SIGKILL");
  };

  constructor(
    readonly name: string,
    private readonly settings: Record<string, string> = {},
  ) {
    this.varDir = mkdtempSync(path.join(os.tmpdir(), `ovoz-e2e-${name}-`));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get logPath(): string {
    return path.join(this.varDir, `server-${this.runs}.log`);
  }

  info(): ServerInfo {
    return { url: this.url, port: this.port, varDir: this.varDir };
  }

  /** Start (or start again, on the same port and var dir) and wait for /healthz. */
  async start(): Promise<void> {
    if (!existsSync(OVOZ)) {
      throw new Error(`${OVOZ} is missing: run ./dev test (or ./dev serve) once, it sets up .venv/`);
    }
    if (!existsSync(path.join(WEB_DIST, "index.html"))) {
      throw new Error(`${WEB_DIST}/index.html is missing: build the app first (cd web && npm run build)`);
    }
    // A copy of the built app: a rebuild of web/dist during the run (someone at work on
    // the app) must not pull the page's lazy chunks from under it.
    const web = path.join(this.varDir, "web");
    if (!existsSync(web)) cpSync(WEB_DIST, web, { recursive: true });
    if (!this.port) this.port = await freePort();
    this.runs += 1;
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !SCRUB.test(k)) env[k] = v;
    Object.assign(env, {
      OVOZ_VAR_DIR: this.varDir,
      WEB_DIR: web,
      PYTHONUNBUFFERED: "1",
      SMS_MAX_PER_IP_PER_HOUR: "100000",
      SMS_MAX_PER_PREFIX_PER_HOUR: "100000",
      SMS_MAX_PER_HOUR: "100000",
      // A second browser context signs in to the same number a moment after the first.
      OTP_RESEND_COOLDOWN_SECONDS: "1",
      MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES),
      ...this.settings,
    });
    const log = openSync(this.logPath, "a");
    const child = spawn(OVOZ, ["serve", "--port", String(this.port)], {
      cwd: REPO_ROOT,
      env,
      stdio: ["ignore", log, log],
    });
    closeSync(log);
    this.child = child;
    process.on("exit", this.exitHook);
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`ovoz serve exited (${child.exitCode ?? child.signalCode}) before it was healthy:\n${this.logTail()}`);
      }
      try {
        const response = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(2_000) });
        if (response.status === 200) return;
      } catch {
        // Not listening yet.
      }
      await sleep(200);
    }
    throw new Error(`ovoz serve did not answer /healthz within ${START_TIMEOUT_MS / 1000} s:\n${this.logTail()}`);
  }

  /**
   * SIGTERM (or the given signal), SIGKILL after 20 s. An embedded PostgreSQL left behind
   * (ovoz cannot stop it after a SIGKILL) is stopped too, unless `keepPostgres`: a crash
   * test starts ovoz again with its orphaned PostgreSQL still running, as a real crash would.
   */
  async stop(signal: NodeJS.Signals = "SIGTERM", { keepPostgres = false }: { keepPostgres?: boolean } = {}): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill(signal);
      const stopped = await Promise.race([exited.then(() => true), sleep(STOP_TIMEOUT_MS).then(() => false)]);
      if (!stopped) {
        child.kill("SIGKILL");
        await exited;
      }
    }
    process.off("exit", this.exitHook);
    if (!keepPostgres) await this.stopStrayPostgres();
  }

  /** After a SIGKILL ovoz cannot stop its PostgreSQL: do it as ovoz would (fast shutdown). */
  private async stopStrayPostgres(): Promise<void> {
    const pidFile = path.join(this.varDir, "postgres", "postmaster.pid");
    let pid: number;
    try {
      pid = Number(readFileSync(pidFile, "utf8").split("\n", 1)[0]);
    } catch {
      return;
    }
    if (!pid || !alive(pid)) return;
    process.kill(pid, "SIGINT");
    const deadline = Date.now() + 15_000;
    while (alive(pid) && Date.now() < deadline) await sleep(100);
    if (alive(pid)) process.kill(pid, "SIGKILL");
  }

  /** Everything every run of this server has logged. */
  logAll(): string {
    let text = "";
    for (let run = 1; run <= this.runs; run += 1) {
      try {
        text += readFileSync(path.join(this.varDir, `server-${run}.log`), "utf8");
      } catch {
        // Not there.
      }
    }
    return text;
  }

  logTail(chars = 6_000): string {
    try {
      return readFileSync(this.logPath, "utf8").slice(-chars);
    } catch {
      return "(no log)";
    }
  }

  /** Stop, keep the logs under test-results/ for whoever reads a failure, remove the var dir. */
  async dispose(): Promise<void> {
    await this.stop();
    try {
      const logs = path.join(RESULTS, "server-logs");
      mkdirSync(logs, { recursive: true });
      for (let run = 1; run <= this.runs; run += 1) {
        const file = path.join(this.varDir, `server-${run}.log`);
        if (existsSync(file)) copyFileSync(file, path.join(logs, `${path.basename(this.varDir)}-${run}.log`));
      }
    } catch {
      // The logs are a courtesy.
    }
    if (process.env.OVOZ_E2E_KEEP !== "1") rmSync(this.varDir, { recursive: true, force: true });
  }
}
