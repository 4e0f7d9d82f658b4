// Opens code-server's VS Code workbench in Debian's headless Chromium (playwright-core) against a running VS Code
// server started with --enable-smoke-test-driver.
//   MODE=tests:      the extension host loads the extension (EXT_DIR) and runs the test entry (TESTS); exits with its code.
//   MODE=screenshot: loads the extension (EXT_DIR, or else the one installed in the server), opens FILE, waits for a squiggle, hovers it, saves SHOT and checks that the
//                    hover shows EXPECT_HOVER.
import { chromium } from "playwright-core";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const { PORT, EXT_DIR, TESTS, WS, MODE = "tests", FILE, SHOT, EXPECT_HOVER } = process.env;
const udd = fs.mkdtempSync(path.join(os.tmpdir(), "pg-chrome-"));
const ctx = await chromium.launchPersistentContext(udd, {
  executablePath: "/usr/bin/chromium", headless: true, viewport: { width: 1280, height: 800 },
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
    // Only loopback: the workbench would otherwise look up the extension gallery and other public hosts.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
});
let code = 1;
try {
  const page = ctx.pages()[0];
  let done;
  const exited = new Promise((r) => (done = r));
  // The workbench forwards the extension host's console here and reports the test runner's result.
  await page.exposeFunction("codeAutomationLog", (type, args) => (type === "error" ? console.error : console.log)(...(args || [])));
  await page.exposeFunction("codeAutomationExit", (c) => done(c));
  const remote = `vscode-remote://127.0.0.1:${PORT}`;
  // Without EXT_DIR the extension must come from the server's extensions dir (an installed .vsix).
  const payload = EXT_DIR ? [["extensionDevelopmentPath", remote + EXT_DIR]] : [];
  if (MODE === "tests") payload.push(["extensionTestsPath", remote + TESTS]);
  const query = payload.length ? `&payload=${encodeURIComponent(JSON.stringify(payload))}` : "";
  await page.goto(`http://127.0.0.1:${PORT}/?folder=${encodeURIComponent(WS)}${query}`);
  if (MODE === "tests") {
    const c = await Promise.race([exited, new Promise((r) => setTimeout(() => r("timeout after 300 s"), 300_000))]);
    console.log(`extension host exit code: ${c}`);
    code = c === 0 ? 0 : 1;
  } else {
    code = await screenshot(page);
  }
} finally {
  await ctx.close();
  fs.rmSync(udd, { recursive: true, force: true });
}
process.exit(code);

async function screenshot(page) {
  await page.waitForSelector(".monaco-workbench", { timeout: 60_000 });
  await page.waitForTimeout(1500);
  // Quick Open the file by name.
  await page.keyboard.press("Control+P");
  await page.waitForSelector(".quick-input-widget input", { timeout: 20_000 });
  await page.keyboard.type(FILE);
  await page.waitForSelector(`.quick-input-list .monaco-list-row[aria-label*="${FILE}"]`, { timeout: 20_000 });
  await page.keyboard.press("Enter");
  const squiggle = await page.waitForSelector(".monaco-editor .squiggly-error", { timeout: 60_000 });
  const box = await squiggle.boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  const hover = await page.waitForSelector(".monaco-hover .hover-contents, .monaco-hover .marker.hover-contents", { state: "visible", timeout: 20_000 })
    .catch(() => null);
  await page.waitForTimeout(500);
  fs.mkdirSync(path.dirname(SHOT), { recursive: true });
  await page.screenshot({ path: SHOT });
  const text = hover ? await page.locator(".monaco-hover").allInnerTexts() : [];
  console.log(`screenshot: ${SHOT}`);
  console.log(`hover text: ${JSON.stringify(text.join(" | "))}`);
  if (!text.join("\n").includes(EXPECT_HOVER)) {
    console.log(`FAIL: the hover over the squiggle does not show ${JSON.stringify(EXPECT_HOVER)}`);
    return 1;
  }
  console.log("ok: the squiggle's hover text appears on the page");
  return 0;
}
