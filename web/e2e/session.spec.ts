/**
 * Faults that need a server of their own (one for this file, started by a worker-scoped
 * fixture): access tokens that live 20 s, so one really runs out while the page is open;
 * and a server that is stopped and started again, on the same port and var dir, while a
 * recording is being transcribed.
 */
import type { Request, WebSocketRoute } from "@playwright/test";
import { App, DESKTOP, apiSignIn, expect, gql, repeatedClip, requireChromium, test as shared } from "./support/fixtures";
import { clipPath } from "./support/env";
import { OvozServer } from "./support/server";

requireChromium();

const TTL_SECONDS = 20;

const test = shared.extend<object, { own: OvozServer }>({
  own: [
    async ({}, use) => {
      const server = new OvozServer("own", {
        JWT_TTL_SECONDS: String(TTL_SECONDS),
        // A killed worker's job is taken again within seconds, not half a minute.
        JOB_LEASE_SECONDS: "12",
        // Room for the restart tests' longer recording.
        MAX_UPLOAD_BYTES: "20000000",
      });
      try {
        await server.start();
        await use(server);
      } finally {
        await server.dispose();
      }
    },
    { scope: "worker" },
  ],
  server: async ({ own }, use) => {
    await use(own.info());
  },
});

test.use({ locale: "en-US", viewport: DESKTOP });

test("an access token that runs out while the page is open: the app refreshes and the user keeps working", async ({
  page,
  server,
}) => {
  test.setTimeout(120_000);
  const app = new App(page, "en", server);
  const clip = clipPath();
  const phone = await app.signIn();
  await expect(page.getByRole("heading", { level: 1, name: app.t("library.title"), exact: true })).toBeVisible();

  // The refresh endpoint is unreachable for longer than the token lives (a laptop asleep,
  // a train in a tunnel): the token in memory expires and the server closes the socket.
  const refreshes: Request[] = [];
  page.on("request", (request) => {
    if (new URL(request.url()).pathname === "/graphql/session") refreshes.push(request);
  });
  let acks = 0;
  page.on("websocket", (ws) => {
    ws.on("framereceived", (frame) => {
      if (String(frame.payload).includes('"connection_ack"')) acks += 1;
    });
  });
  await page.route("**/graphql/session", (route) => route.abort("internetdisconnected"));
  await page.waitForTimeout((TTL_SECONDS + 3) * 1000);
  await page.unroute("**/graphql/session");
  const blocked = refreshes.length;
  const acked = acks;

  // The user carries on: another page, then an upload that is transcribed live.
  await page.getByRole("link", { name: app.t("nav.account"), exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name: app.t("acc.title"), exact: true })).toBeVisible();
  await expect(page.locator("dl.facts")).toContainText(phone);
  await page.getByRole("link", { name: app.t("nav.library"), exact: true }).click();
  await page.getByLabel(app.t("upload.language"), { exact: true }).selectOption("en");
  await app.upload(clip.path);
  await expect(page.locator("li.upload-item").filter({ hasText: clip.name })).toHaveAttribute("data-upload-state", "uploaded", {
    timeout: 30_000,
  });
  await app.waitCompleted(app.row(clip.name));
  await expect(page).not.toHaveURL(/\/signin/);
  expect(acks, "the live socket came back with a fresh token").toBeGreaterThan(acked);
  expect(refreshes.length, "the session was refreshed after the outage").toBeGreaterThan(blocked);
  const answered = await Promise.all(refreshes.slice(blocked).map(async (r) => (await r.response())?.status() ?? 0));
  expect(answered, "refreshes after the outage succeeded").toContain(200);
});

test("the server crashes (SIGKILL) while a recording is processing: it is transcribed again, and the page, reconnected, shows Completed without a reload", async ({
  page,
  server,
  own,
}) => {
  test.setTimeout(150_000);
  const app = new App(page, "en", server);
  const clip = clipPath();
  let documentLoads = 0;
  page.on("load", () => {
    documentLoads += 1;
  });
  await app.signIn();
  await page.getByLabel(app.t("upload.language"), { exact: true }).selectOption("en");
  await app.watchStatuses();
  const loads = documentLoads;
  await app.upload(clip.path);
  const row = app.row(clip.name);
  await expect(row.locator("[data-status]")).toHaveAttribute("data-status", "PROCESSING", { timeout: 60_000 });
  const audioId = ((await row.getByRole("link", { name: clip.name, exact: true }).getAttribute("href")) ?? "").split("/").pop() ?? "";

  // A crash: ovoz gets SIGKILL, its PostgreSQL lives on and is found again by the new
  // process; the dead worker's job is taken again when its 12-s lease runs out, by which
  // time the page has reconnected.
  await own.stop("SIGKILL", { keepPostgres: true });
  await own.start();

  await app.waitCompleted(row);
  expect(documentLoads, "no reload").toBe(loads);
  const seen = await app.statusesSeen(clip.name);
  expect(seen.slice(-1)).toEqual(["COMPLETED"]);
  expect(seen).toContain("PROCESSING");
  expect(own.logAll(), "the job was cut off by the crash and run again").toContain(`job ${audioId}, attempt 2`);
  // Still signed in after the restart: the page works on.
  await page.getByRole("link", { name: clip.name, exact: true }).click();
  await expect(page.locator("[data-segment-start]").first()).toContainText(clip.text);
});

test("the server restarts (SIGTERM) and the recording completes before the page's socket is back: the page catches up", async ({
  page,
  server,
  own,
}) => {
  // Seen at random in a plain restart before the app refetched on reconnect (the socket's
  // back-off left it 7 s behind the server, and myAudioEvents replays only what is still
  // in progress): here the socket is cut the moment Processing shows and held back until
  // the server has completed the recording.
  test.setTimeout(120_000);
  const app = new App(page, "en", server);
  const clip = clipPath();
  let hold = false;
  let held = 0;
  let live: WebSocketRoute | null = null;
  let connects = 0;
  await page.routeWebSocket(/\/graphql$/, (ws) => {
    if (hold) {
      held += 1;
      void ws.close({ code: 1012, reason: "service restart" });
    } else {
      live = ws;
      connects += 1;
      ws.connectToServer();
    }
  });
  let documentLoads = 0;
  page.on("load", () => {
    documentLoads += 1;
  });
  let inFlight = 0;
  let lastRequest = Date.now();
  const isApi = (r: Request): boolean => new URL(r.url()).pathname === "/graphql" && r.method() === "POST";
  page.on("request", (r) => {
    if (isApi(r)) {
      inFlight += 1;
      lastRequest = Date.now();
    }
  });
  const finished = (r: Request): void => {
    if (isApi(r)) {
      inFlight -= 1;
      lastRequest = Date.now();
    }
  };
  page.on("requestfinished", finished);
  page.on("requestfailed", finished);
  const phone = await app.signIn();
  await page.getByLabel(app.t("upload.language"), { exact: true }).selectOption("en");
  const loads = documentLoads;
  // Six times the clip: its transcription outlasts the page's settling.
  const name = `six-times-${clip.name.replace(/\.\w+$/, "")}.wav`;
  await app.upload([{ name, mimeType: "audio/wav", buffer: await repeatedClip(page, clip, 6) }]);
  const row = app.row(name);
  await expect(row.locator("[data-status]")).toHaveAttribute("data-status", "PROCESSING", { timeout: 60_000 });
  // The page settles (no list request in flight for a while), so that only the socket
  // can bring the news: a failed request retried over HTTP would mask a missing refetch.
  await expect.poll(async () => {
    const quiet = inFlight === 0 && Date.now() - lastRequest > 800;
    return quiet;
  }, { message: "the page settled", timeout: 10_000 }).toBe(true);
  await expect(row.locator("[data-status]")).toHaveAttribute("data-status", "PROCESSING");

  hold = true;
  await (live as WebSocketRoute | null)?.close({ code: 1001, reason: "going away" });
  await own.stop("SIGTERM");
  await own.start();
  const token = await apiSignIn(server, phone);
  await expect
    .poll(
      async () =>
        (await gql<{ audios: { items: { status: string }[] } }>(server, "{ audios(skip: 0, limit: 10) { items { status } } }", {}, token))
          .audios.items[0]?.status,
      { message: "the server completes the recording while the page is disconnected", timeout: 60_000 },
    )
    .toBe("COMPLETED");
  expect(held, "the page tried to reconnect meanwhile").toBeGreaterThan(0);
  const before = connects;
  hold = false;
  await expect.poll(() => connects, { message: "the page's socket is back", timeout: 20_000 }).toBeGreaterThan(before);

  await expect(row.locator("[data-status]")).toHaveAttribute("data-status", "COMPLETED", { timeout: 20_000 });
  expect(documentLoads, "no reload").toBe(loads);
});
