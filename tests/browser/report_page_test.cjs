// The committee's report page, opened in headless Chromium: checks what is
// actually rendered, not just what the HTML says.
//
//   node tests/browser/report_page_test.cjs --evenhandd=PATH --evenhand=PATH
//        --config=demo/evenhandd.demo.json --artifacts=DIR
//
// Needs Debian's chromium (/usr/bin/chromium) and playwright-core (npm ci in
// a folder on NODE_PATH). Starts a real evenhandd with the demo council,
// renders the report with the real `evenhand report`, and drives the page.
'use strict';

const assert = require('node:assert/strict');
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

function arg(name) {
  const prefix = `--${name}=`;
  const found = process.argv.find((a) => a.startsWith(prefix));
  if (!found) throw new Error(`missing ${prefix}`);
  return found.slice(prefix.length);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function startServer(tmp) {
  const ready = path.join(tmp, 'ready');
  const log = fs.openSync(path.join(tmp, 'server.log'), 'w');
  const server = spawn(
    arg('evenhandd'),
    ['--listen=127.0.0.1:0', `--data_dir=${tmp}/data`, '--demo', `--config=${arg('config')}`,
     `--ready_file=${ready}`],
    { stdio: ['ignore', log, log] });
  for (let i = 0; i < 400 && !fs.existsSync(ready); i++) await sleep(50);
  if (!fs.existsSync(ready)) throw new Error('evenhandd did not start');
  return { server, address: fs.readFileSync(ready, 'utf8').trim() };
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'evenhand-browser-'));
  const artifacts = arg('artifacts');
  fs.mkdirSync(artifacts, { recursive: true });
  const { server, address } = await startServer(tmp);
  let browser;
  try {
    const htmlPath = path.join(tmp, 'report.html');
    execFileSync(arg('evenhand'), [`--server=${address}`, 'report', `--output=${htmlPath}`]);
    const report = JSON.parse(
        execFileSync(arg('evenhand'), [`--server=${address}`, 'report', '--format=json'])
            .toString());

    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
             '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const fetched = [];
    page.on('request', (r) => fetched.push(r.url()));
    await page.goto(`file://${htmlPath}`);

    // Self-contained: the page itself is the only thing loaded.
    assert.deepEqual(fetched, [`file://${htmlPath}`], 'the page loads nothing else');

    // Heading and context.
    assert.match(await page.textContent('h1'), /fairness report/);
    assert.match(await page.textContent('#report-meta'), /Demo Borough Council/);

    // One table row per group, named.
    const rows = await page.$$eval('#groups tbody tr', (trs) => trs.map((tr) => tr.children[0].textContent));
    assert.deepEqual(rows.sort(), report.groups.map((g) => g.name).sort());

    // Three charts, one bar per group, drawn with widths in proportion.
    for (const id of ['chart-officer-time', 'chart-decline-rate', 'chart-reply-time']) {
      const bars = await page.$$eval(`#${id} rect.bar`, (rects) => rects.map((r) => ({
        value: Number(r.dataset.value),
        width: r.getBoundingClientRect().width,
      })));
      assert.equal(bars.length, report.groups.length, `${id}: a bar per group`);
      const top = bars.reduce((a, b) => (b.value > a.value ? b : a));
      assert.ok(top.width > 50, `${id}: the largest bar is drawn (${top.width}px)`);
      for (const b of bars) {
        const expected = top.value === 0 ? 0 : (b.value / top.value) * top.width;
        assert.ok(Math.abs(b.width - expected) < 1.5,
                  `${id}: bar for ${b.value} is ${b.width}px, expected ${expected}px`);
      }
      const visible = await page.isVisible(`#${id}`);
      assert.ok(visible, `${id} is visible`);
    }
    assert.equal(await page.$$eval('#chart-reply-time line.reference', (l) => l.length), 1,
                 'the five-working-day line is drawn');

    // Every finding is listed with its citation, and its evidence links work.
    const findings = await page.$$eval('ol.findings li.finding', (lis) => lis.map((li) => ({
      rule: li.dataset.rule,
      citation: li.querySelector('.citation').textContent,
      links: [...li.querySelectorAll('.evidence a')].map((a) => a.getAttribute('href')),
    })));
    assert.equal(findings.length, report.findings.length);
    for (let i = 0; i < findings.length; i++) {
      assert.equal(findings[i].rule, report.findings[i].ruleId);
      assert.ok(findings[i].citation.includes(report.findings[i].citation));
      assert.ok(findings[i].links.length > 0, `finding ${i} cites evidence`);
      for (const href of findings[i].links) {
        assert.equal(await page.$$eval(href, (e) => e.length), 1, `${href} exists`);
      }
    }
    // The open obligations are listed too, soonest first, each citing events
    // the evidence table holds.
    const obligations = await page.$$eval('#obligations tr.obligation', (trs) => trs.map((tr) => ({
      rule: tr.dataset.rule,
      links: [...tr.querySelectorAll('.evidence a')].map((a) => a.getAttribute('href')),
    })));
    assert.ok(report.obligations.length > 0, 'the demo has obligations open at its end');
    assert.equal(obligations.length, report.obligations.length);
    for (let i = 0; i < obligations.length; i++) {
      assert.equal(obligations[i].rule, report.obligations[i].ruleId);
      assert.equal(obligations[i].links.length, report.obligations[i].evidencePositions.length);
      for (const href of obligations[i].links) {
        assert.equal(await page.$$eval(href, (e) => e.length), 1, `${href} exists`);
      }
    }

    // Following a link brings the cited event into view.
    const firstLink = findings[0].links[0];
    await page.click(`ol.findings li.finding >> nth=0 >> .evidence a >> nth=0`);
    assert.equal(await page.evaluate(() => location.hash), firstLink);
    const box = await page.$eval(firstLink, (e) => {
      const r = e.getBoundingClientRect();
      return { top: r.top, bottom: r.bottom };
    });
    // (Less than a pixel above the top is sub-pixel layout, not a miss.)
    assert.ok(box.top > -1 && box.bottom <= 900, `${firstLink} scrolled into view (${JSON.stringify(box)})`);

    // For the committee papers: a screenshot and an A4 PDF.
    await page.screenshot({ path: path.join(artifacts, 'report.png'), fullPage: true });
    const pdf = await page.pdf({ path: path.join(artifacts, 'report.pdf'), format: 'A4' });
    assert.ok(pdf.length > 20000, `the PDF has content (${pdf.length} bytes)`);
    console.log(`ok: ${report.groups.length} groups, ${findings.length} findings, ` +
                `${obligations.length} obligations, ` +
                `screenshot and PDF in ${artifacts}`);
  } finally {
    if (browser) await browser.close();
    server.kill('SIGTERM');
    await new Promise((resolve) => server.on('exit', resolve));
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
