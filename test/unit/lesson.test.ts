// `promisegrid lesson` as a user runs it (a real CLI process), and the deck it
// writes opened in Debian's headless Chromium (playwright-core): every slide
// renders, the keys move, printing gives one slide per page, no request leaves
// the page. Screenshots of two slides go to .test-artifacts/.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { chromium, type Browser, type Page } from "playwright-core";

const root = path.resolve(new URL("../..", import.meta.url).pathname);
// tsx, not dist/cli.js: graph-views.test.ts rebuilds that bundle, and test files run side by side.
const cliArgs = ["--import", import.meta.resolve("tsx"), path.join(root, "cli/main.ts")];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pg-lesson-"));
const artifacts = path.join(root, ".test-artifacts");

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [...cliArgs, ...args], { cwd: dir, encoding: "utf8", env: { ...process.env, PROMISEGRID_DEBUG: "" } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

fs.copyFileSync(path.join(root, "examples/food-trucks.pg"), path.join(dir, "food-trucks.pg"));
fs.copyFileSync(path.join(root, "examples/currency.pg"), path.join(dir, "currency.pg"));

describe("promisegrid lesson", () => {
  let browser: Browser;
  let page: Page;
  const requests: string[] = [];
  const deck = path.join(dir, "lesson.html");
  const url = `file://${deck}`;

  before(async () => {
    const r = cli("lesson", "food-trucks.pg", "-o", "lesson.html");
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err, "wrote lesson.html\n");
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox", "--disable-gpu"] });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on("request", (req) => requests.push(req.url()));
    await page.goto(url);
  });
  after(async () => { await browser?.close(); });

  it("has a slide per step, from the start, each with its summary, events, every agent's view and the expectations", () => {
    const html = fs.readFileSync(deck, "utf8");
    const slides = [...html.matchAll(/<section class="slide" id="slide-(\d+)" data-step="(\d+)">/g)];
    assert.deepEqual(slides.map((m) => m[2]), ["0", "1", "2", "3", "4"]);
    const summaries = [...html.matchAll(/<h1 class="summary">([^<]*)<\/h1>/g)].map((m) => m[1]);
    assert.equal(summaries[2], "truck1 revokes lunch_pass, but truck5 still serves alice: it has not heard");
    assert.equal(summaries[4], "truck5 refuses alice: it knows lunch_pass was revoked (at step 2)");
    // Each slide: one view per agent; from step 1 on, the timeline so far.
    for (const [i, part] of html.split(`<section class="slide"`).slice(1).entries()) {
      assert.equal([...part.matchAll(/<svg [^>]*class="promise-graph" data-view="(\w+)"/g)].map((m) => m[1]).join(","), "truck1,truck5,alice", `slide ${i}`);
      assert.equal(part.includes(`class="spacetime"`), i > 0, `slide ${i} timeline`);
    }
    assert.match(html, /<li class="pass">✓ alice invokes lunch_pass at truck5 expect kept/);
    // Self-contained: nothing to fetch.
    assert.doesNotMatch(html, /\b(src|href)=|@import|url\((?!#)/);
  });

  it("renders every slide in Chromium, and the keys move between them", async () => {
    const current = () => page.evaluate(() => Number(document.body.dataset.current));
    const visible = () => page.evaluate(() => Array.from(document.querySelectorAll(".slide")).filter((s) => (s as HTMLElement).offsetHeight > 0).map((s) => s.id));
    assert.equal(await current(), 0);
    for (let i = 0; i < 5; i++) {
      assert.deepEqual(await visible(), [`slide-${i}`]);
      // Every picture of the slide is laid out with a size: the SVGs parsed and rendered.
      const boxes = await page.evaluate(() => Array.from(document.querySelectorAll(".slide.current svg")).map((s) => s.getBoundingClientRect()).map((r) => [r.width, r.height]));
      assert.equal(boxes.length, i === 0 ? 3 : 4);
      for (const [w, h] of boxes) assert.ok(w > 100 && h > 100, `slide ${i}: an svg of ${w}x${h}`);
      if (i === 2 || i === 4) {
        fs.mkdirSync(artifacts, { recursive: true });
        await page.screenshot({ path: path.join(artifacts, `lesson-slide-${i}.png`), fullPage: true });
      }
      await page.keyboard.press("ArrowRight");
    }
    assert.equal(await current(), 4, "ArrowRight stops at the last slide");
    await page.keyboard.press("ArrowLeft");
    assert.equal(await current(), 3);
    await page.keyboard.press("Home");
    assert.equal(await current(), 0);
    await page.keyboard.press("End");
    assert.equal(await current(), 4);
    assert.equal(new URL(page.url()).hash, "#slide-4");
  });

  it("prints one slide per page", async () => {
    await page.emulateMedia({ media: "print" });
    const styles = await page.evaluate(() => Array.from(document.querySelectorAll(".slide")).map((s) => {
      const c = getComputedStyle(s);
      return `${c.display} ${c.breakAfter}`;
    }));
    assert.deepEqual(styles, [...Array(4).fill("block page"), "block auto"]);
    // page.pdf() prints with the media emulated: print.
    const pdf = (await page.pdf({ landscape: true, format: "A4" })).toString("latin1");
    assert.equal(pdf.match(/\/Type\s*\/Page\b/g)?.length, 5);
  });

  it("no request leaves the page", () => {
    assert.ok(requests.length >= 1);
    assert.deepEqual([...new Set(requests)].filter((u) => !u.startsWith(url)), []);
  });

  it("a run of steps where nothing happens is one slide", () => {
    fs.writeFileSync(path.join(dir, "quiet.pg"), `agent a\nagent b\npromise a -> b +serve(x) if holds(p)\npromise b -> a -serve(x)
capability p from a to b { grants serve(x) }
scenario "quiet" {\n  link a <-> b\n  step 1: a revokes p\n  step 2: b invokes p at a expect refused\n  step 40000: b invokes p at a expect refused\n}\n`);
    const r = cli("lesson", "quiet.pg");
    assert.equal(r.code, 0, r.err);
    const where = [...r.out.matchAll(/<div class="where">[^<]*· ([^<]*)<\/div>/g)].map((m) => m[1]);
    assert.deepEqual(where, ["the start", "step 1 of 40000", "step 2 of 40000", "steps 3–39999 of 40000", "step 40000 of 40000"]);
    assert.match(r.out, /<h1 class="summary">Steps 3–39999: nothing happens<\/h1>/);
  });

  it("a file with several scenarios needs --scenario; an unknown title is named", () => {
    fs.writeFileSync(path.join(dir, "two.pg"), fs.readFileSync(path.join(dir, "currency.pg"), "utf8") + `\nscenario "again" {\n  step 1: bob pays 1 bread to carol\n}\n`);
    const two = cli("lesson", "two.pg", "-o", "two.html");
    assert.equal(two.code, 2);
    assert.match(two.err, /two\.pg has 2 scenarios; pick one with --scenario TITLE/);
    const none = cli("lesson", "two.pg", "--scenario", "nope");
    assert.equal(none.code, 1);
    assert.match(none.err, /has no scenario titled "nope"/);
    assert.equal(fs.existsSync(path.join(dir, "two.html")), false);
    const one = cli("lesson", "two.pg", "--scenario", "again");
    assert.equal(one.code, 0);
    assert.match(one.out, /^<!DOCTYPE html>/);
  });
});
