/// <reference lib="dom" />
// The Operations screen tells backups apart and acts on them, in a real browser (issue 18, second
// outside check: five backups listed as "5 Ara 2026 08:40" each, no id, no way to start or verify
// one, so at 3 a.m. the operator could not tell which backup a restore would use). Now each row shows
// its start to the second, a short id, state, size, the start of its sha256 and when it was last
// verified; Start backup (per target) and Verify are buttons; the restore question names the backup
// by time and id and is answered by typing that id; the catalog pages with Previous / Next.
import t from "tap";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { BackupState } from "../../gen/medschedule/backup/v1/backup_pb.js";
import { BackupService } from "../../gen/medschedule/backup/v1/backup_service_pb.js";
import { createClient } from "@connectrpc/connect";
import { createGrpcJsTransport } from "../../services/runtime/clients/grpc-transport.js";
import { DESKTOP, focused, LOCAL_TZ, overflow, PHONE, shot, startWebSystem, tabTo } from "../helpers/browser.js";

const sys = await startWebSystem(t);
const { admin, open } = sys;
const direct = createGrpcJsTransport({ addresses: [sys.upstream.address] });
t.teardown(() => direct.close());
const backupClient = createClient(BackupService, direct);
const operator = await sys.token(["admin"], "ops-night");

// Thirty earlier backups, all started within one minute (as a burst of retries at 08:40 would be):
// more than a page, and the minute alone cannot tell them apart.
const earlier: { id: string; sha256: string; started: Date }[] = [];
{
  const db = new pg.Client({ connectionString: sys.databaseUrl });
  await db.connect();
  const minute = new Date(Date.now() - 86_400_000);
  minute.setUTCHours(8, 40, 0, 0);
  for (let i = 0; i < 30; i++) {
    const started = new Date(minute.getTime() + i * 1_000);
    const id = `b-pg-${started.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")}-${randomBytes(4).toString("hex")}`;
    const sha256 = randomBytes(32).toString("hex");
    await db.query(
      `insert into backup.backups (backup_id, target, state, started_at, finished_at, size_bytes, sha256, location, format)
       values ($1, 'POSTGRES', 'SUCCEEDED', $2, $3, $4, $5, $6, 'pg_custom')`,
      [id, started, new Date(started.getTime() + 500), 10_000 + i, sha256, `${id}.dump`],
    );
    earlier.push({ id, sha256, started });
  }
  await db.end();
}

/** seconds is a time of day as the app shows it to the second, in the browsers' zone. */
const seconds = (d: Date) => new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZone: LOCAL_TZ }).format(d);

t.test("every backup row can be told apart: seconds, id, sha256, and Next / Previous for the rest (keyboard only)", async (t) => {
  const { ctx, page } = await open(operator, "/operations", DESKTOP);
  t.teardown(() => ctx.close());
  const rows = page.locator("tr[data-backup]");
  await rows.first().waitFor();
  t.equal(await rows.count(), 25, "a first page of 25");
  const started = await page.locator('[data-testid="backup-started"]').allInnerTexts();
  const ids = await page.locator('[data-testid="backup-id"]').allInnerTexts();
  t.equal(new Set(started).size, 25, "25 different start times: to the second");
  t.equal(new Set(ids).size, 25, "25 different short ids");
  const newest = earlier[earlier.length - 1];
  const row = page.locator(`tr[data-backup="${newest.id}"]`);
  t.ok(started[0].endsWith(seconds(newest.started)), `the newest first, at ${seconds(newest.started)}: "${started[0]}"`);
  t.equal(await row.locator('[data-testid="backup-id"]').innerText(), newest.id.slice(-8), "its id's random suffix");
  t.equal(await row.locator('[data-testid="backup-id"]').getAttribute("title"), newest.id, "the whole id on hover");
  t.equal(await row.locator('[data-testid="backup-sha"]').innerText(), newest.sha256.slice(0, 12), "the start of its sha256");
  t.match(await row.innerText(), /9\.8 KiB/, "its size");
  t.match(await row.locator('[data-testid="backup-verified"]').innerText(), /never/, "never verified");

  t.ok(await page.locator("#backups-prev").isDisabled(), "no previous page on the first");
  t.equal(await page.locator('[data-testid="backups-page"]').innerText(), "Page 1");
  t.ok(await tabTo(page, "#backups-next", 200), "Tab reaches Next");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelectorAll("tr[data-backup]").length === 5);
  t.pass("the other 5 on the second page");
  t.equal(await page.locator('[data-testid="backups-page"]').innerText(), "Page 2");
  t.ok(await page.locator("#backups-next").isDisabled(), "no page after the last");
  const second = await page.locator('[data-testid="backup-id"]').allInnerTexts();
  t.same(new Set([...ids, ...second]), new Set(earlier.map((b) => b.id.slice(-8))), "every backup once, over the two pages");
  t.equal(new Set([...ids, ...second]).size, 30);
  await shot(page, "operations-backups-page-2-1280");
  t.equal((await focused(page)).id, "backups-prev", "on the last page the focus moves from Next to Previous");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelectorAll("tr[data-backup]").length === 25);
  t.same(await page.locator('[data-testid="backup-id"]').allInnerTexts(), ids, "Previous shows the first page again");
  await shot(page, "operations-backups-1280");

  const phone = await open(operator, "/operations", PHONE);
  t.teardown(() => phone.ctx.close());
  await phone.page.locator("tr[data-backup]").first().waitFor();
  const { scrollsX, wide } = await overflow(phone.page);
  t.notOk(scrollsX, `the page does not scroll sideways on a phone ${wide}`);
  await shot(phone.page, "operations-backups-390x844");
});

t.test("start a backup, verify it, and the restore question names it by time and id (keyboard only)", async (t) => {
  const { ctx, page } = await open(operator, "/operations", DESKTOP);
  t.teardown(() => ctx.close());
  await page.locator("tr[data-backup]").first().waitFor();

  t.ok(await tabTo(page, "#start-postgres"), "Tab reaches Start Postgres backup");
  t.equal((await focused(page)).text, "Start Postgres backup");
  await page.keyboard.press("Enter");
  const notice = page.locator('[data-testid="operations-notice"]');
  await notice.waitFor();
  const short = /^Backup ([0-9a-f]{8}) of Postgres started/.exec(await notice.innerText())?.[1];
  t.ok(short, `the notice names the backup: ${await notice.innerText()}`);
  const listed = (await backupClient.listBackups({ pageSize: 1 }, admin)).backups[0];
  t.equal(listed.backupId.slice(-8), short, "the newest backup in the catalog");
  const row = page.locator(`tr[data-backup="${listed.backupId}"]`);
  await row.locator('[data-testid="backup-state"]', { hasText: "succeeded" }).waitFor({ timeout: 120_000 });
  t.pass("the row follows the backup to SUCCEEDED without a reload");
  const done = (await backupClient.getBackup({ backupId: listed.backupId }, admin)).backup!;
  t.equal(done.state, BackupState.SUCCEEDED);
  t.equal(await row.locator('[data-testid="backup-sha"]').innerText(), done.sha256.slice(0, 12), "its sha256 prefix");
  t.ok((await row.locator('[data-testid="backup-started"]').innerText()).endsWith(seconds(new Date(Number(done.startedAt!.seconds) * 1000))), "its start to the second");

  // Redis is not configured here: the refusal says what to do, in words.
  await page.locator("#start-redis").click();
  const refused = page.getByRole("alert").filter({ hasText: /back up/ });
  await refused.waitFor();
  t.equal(await refused.getAttribute("data-reason"), "TARGET_NOT_CONFIGURED");
  t.match(await refused.innerText(), /nothing to back up[\s\S]*REDIS_URL/, "says why and what to set");

  t.ok(await tabTo(page, `[aria-label="Verify backup ${short}"]`), "Tab reaches Verify");
  await page.keyboard.press("Enter");
  await notice.filter({ hasText: "verified" }).waitFor({ timeout: 300_000 });
  t.match(await notice.innerText(), new RegExp(`\\(${short}\\) verified: it restores`), "the verification's result, naming the backup");
  await row.locator('[data-testid="backup-verified"]', { hasText: "restores" }).waitFor();
  t.match(await row.locator('[data-testid="backup-verified"]').innerText(), /\d\d:\d\d:\d\d · restores/, "verified-at, to the second");

  // Restore: the question names the backup; only its id typed confirms.
  await row.getByRole("button", { name: `Restore backup ${short}` }).focus();
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog");
  await dialog.waitFor();
  const question = await dialog.innerText();
  t.match(question, new RegExp(`Restore the postgres backup of .*\\d\\d:\\d\\d:\\d\\d \\(${short}\\)\\?`), "the title: target, time to the second, short id");
  t.match(question, new RegExp(`Backup ${listed.backupId}: `), "the body: the whole id");
  t.match(question, /sha256 [0-9a-f]{12}…, verified /, "its checksum and last verification");
  t.equal((await focused(page)).id, "confirm-word", "focus is on the word to type");
  const yes = dialog.getByRole("button", { name: "Restore backup" });
  await page.keyboard.type("RESTORE");
  t.ok(await yes.isDisabled(), "another word does not confirm");
  await page.locator("#confirm-word").fill("");
  await page.keyboard.type(short!);
  t.ok(await yes.isEnabled(), "the backup's id confirms");
  await shot(page, "operations-restore-dialog-1280", true);
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });
  t.equal((await focused(page)).text, "Restore…", "Escape: focus back on the button, nothing restored");
  t.equal(await page.getByText(/^Restored the backup/).count(), 0);
});

t.test("the lock list pages too: every lock counted", async (t) => {
  const held: { resource: string; leaseId: string }[] = [];
  for (let i = 0; i < 510; i++) {
    const resource = `ops/many/${String(i).padStart(3, "0")}`;
    const res = await sys.lock.acquire({ resource, owner: "paging-test", ttl: { seconds: 120n } }, admin);
    held.push({ resource, leaseId: res.lease!.leaseId });
  }
  t.teardown(() => Promise.all(held.map((h) => sys.lock.release(h, admin).catch(() => undefined))));
  const { ctx, page } = await open(operator, "/operations", DESKTOP);
  t.teardown(() => ctx.close());
  const summary = page.locator('[data-testid="lock-summary"]');
  await summary.waitFor();
  t.match(await summary.innerText(), /^510 active/, "all 510 locks counted, past one page of 500");
  t.equal(await page.locator('[data-testid="locks-page"]').innerText(), "Page 1 of 11", "shown 50 at a time");
  t.equal(await page.locator("tr", { hasText: "ops/many/" }).count(), 50);
  for (let i = 1; i < 11; i++) await page.locator("#locks-next").click();
  await page.locator("tr", { hasText: "ops/many/509" }).waitFor();
  t.pass("the last one on the last page");
  t.equal(await page.locator("tr", { hasText: "ops/many/" }).count(), 10, "the last page holds the last 10");
});
