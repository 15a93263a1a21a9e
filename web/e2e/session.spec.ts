/**
 * Faults that need a server of their own (one for this file, started by a worker-scoped
 * fixture): access tokens that live 20 s, so one really runs out while the page is open;
 * and a server that is stopped and started again, on the same port and var dir, while a
 * recording is being transcribed.
 */
import type { Request } from "@playwright/test";
import { App, DESKTOP, expect, requireChromium, test as shared } from "./support/fixtures";
import { clipPath } from "./support/env";
import { OvozServer } from "./support/server";

requireChromium();

const TTL_SECONDS = 20;

const test = shared.extend<object, { own: OvozServer }>({
  own: [
    async ({}, use) => {
      // A short job lease, so the job of a killed worker is taken again within seconds.
      const server = new OvozServer("own", { JWT_TTL_SECONDS: String(TTL_SECONDS), JOB_LEASE_SECONDS: "6" });
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
  await page.route("**/graphql/session", (route) => route.abort("internetdisconnected"));
  await page.waitForTimeout((TTL_SECONDS + 3) * 1000);
  await page.unroute("**/graphql/session");
  const blocked = refreshes.length;

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
  expect(refreshes.length, "the session was refreshed after the outage").toBeGreaterThan(blocked);
  const answered = await Promise.all(refreshes.slice(blocked).map(async (r) => (await r.response())?.status() ?? 0));
  expect(answered, "refreshes after the outage succeeded").toContain(200);
});

for (const { signal, settle } of [
  // SIGTERM the moment the page shows Processing: the worker gives the job back.
  { signal: "SIGTERM" as const, settle: 0 },
  // SIGKILL once the page has settled: a crash, the job's lease runs out, its PostgreSQL is orphaned.
  { signal: "SIGKILL" as const, settle: 1_500 },
]) {
  test(`the server restarts (${signal}) while a recording is processing: the page reconnects and shows Completed without a reload`, async ({
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
    if (settle) await page.waitForTimeout(settle);

    await own.stop(signal, { keepPostgres: signal === "SIGKILL" });
    await page.waitForTimeout(1_000);
    await own.start();

    await app.waitCompleted(row);
    expect(documentLoads, "no reload").toBe(loads);
    const seen = await app.statusesSeen(clip.name);
    expect(seen.slice(-1)).toEqual(["COMPLETED"]);
    expect(seen).toContain("PROCESSING");
    // Still signed in after the restart: the page works on.
    await page.getByRole("link", { name: clip.name, exact: true }).click();
    await expect(page.locator("[data-segment-start]").first()).toContainText(clip.text);
  });
}
