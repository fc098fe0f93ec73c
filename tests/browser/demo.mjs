// Drives conf/html in a real headless Chromium (Debian's): lists rooms,
// opens one, holds it, sees the countdown, confirms it; then finds a
// machine reserved to a group, is refused it, and holds it as a member;
// another member waits in line for it and is offered it; a desk is booked
// every week, and two homes are swapped as one group.  Prints one JSON
// line of what it saw; saves a screenshot.
//
//   node tests/browser/demo.mjs http://127.0.0.1:PORT/ screenshot.png

import { chromium } from 'playwright-core';

const [url, shot] = process.argv.slice(2);
const seen = {};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
         '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
});

try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
  const external = [];
  page.on('request', (req) => {
    if (!req.url().startsWith(url)) external.push(req.url());
  });

  await page.goto(url);
  await page.selectOption('#type', 'room');
  await page.click('#list');
  await page.waitForSelector('#items li button');
  seen.listed = await page.$$eval('#items li strong', (els) => els.map((e) => e.textContent));

  await page.click('#items li button');
  await page.waitForSelector('#calendar span');
  seen.calendar = await page.$$eval('#calendar span', (els) => els.map((e) => e.textContent));

  await page.click('#hold');
  await page.waitForFunction(() => /: held$/.test(document.getElementById('booking-line').textContent));
  seen.held = await page.textContent('#booking-line');
  await page.waitForFunction(() => /Held for \d+ min \d+ s more/.test(document.getElementById('countdown').textContent));
  seen.countdown = await page.textContent('#countdown');

  await page.click('#confirm');
  await page.waitForFunction(() => /: confirmed$/.test(document.getElementById('booking-line').textContent));
  seen.confirmed = await page.textContent('#booking-line');
  await page.waitForSelector('#calendar span.taken');
  seen.taken = await page.$$eval('#calendar span.taken', (els) => els.length);
  seen.status = await page.textContent('#status');
  seen.styled = await page.$eval('header', (e) => getComputedStyle(e).backgroundColor);

  // usage rights: a fablab machine reserved to a group
  await page.selectOption('#type', 'machine');
  await page.click('#list');
  await page.waitForSelector('#items li .groups');
  seen.reserved = await page.textContent('#items li .groups');
  await page.click('#items li button');
  await page.waitForSelector('#calendar span');
  await page.click('#hold');
  await page.waitForFunction(() => document.getElementById('status').textContent !== '');
  seen.refused = await page.textContent('#status');
  await page.fill('#groups', 'laser-trained');
  await page.click('#hold');
  await page.waitForFunction(() => /^fablab-laser\..*: held$/.test(document.getElementById('booking-line').textContent));
  seen.member = await page.textContent('#booking-line');

  // the waiting line: another member finds it taken and waits; the hold is
  // cancelled, and the one waiting is offered it
  await page.fill('#user', 'demo-friend');
  await page.click('#hold');
  await page.waitForSelector('#wait');
  seen.line = await page.textContent('#line-text');
  await page.click('#wait');
  await page.waitForFunction(() => /^Waiting: /.test(document.getElementById('line-text').textContent));
  seen.waiting = await page.textContent('#line-text');
  await page.fill('#user', 'demo-user');
  await page.click('#cancel');
  await page.waitForFunction(() => /^Your turn: /.test(document.getElementById('line-text').textContent));
  seen.offered = await page.textContent('#line-text');
  await page.waitForFunction(() => /: held$/.test(document.getElementById('booking-line').textContent)
                                   && document.getElementById('user').value === 'demo-friend');
  seen.offer = await page.textContent('#booking-line');

  // bookings that belong together, as demo-user again: a desk every week,
  // then two homes swapped over the same dates, both or neither
  await page.fill('#user', 'demo-user');
  await page.selectOption('#type', 'desk');
  await page.click('#list');
  await page.waitForSelector('#items li button');
  await page.click('#items li button');
  await page.waitForSelector('#calendar span');
  await page.click('#weekly');
  await page.waitForFunction(() => /^Every week: /.test(document.getElementById('series-line').textContent));
  seen.series = await page.textContent('#series-line');

  await page.selectOption('#type', 'room');
  await page.click('#list');
  await page.waitForFunction(() => !document.getElementById('swap').hidden);
  seen.homes = await page.$$eval('#swap-a option', (els) => els.map((e) => e.value));
  await page.click('#swap-hold');
  await page.waitForFunction(() => /: held, /.test(document.getElementById('swap-line').textContent));
  seen.swap = await page.textContent('#swap-line');
  await page.click('#swap-confirm');
  await page.waitForFunction(() => /: confirmed, /.test(document.getElementById('swap-line').textContent));
  seen.swapped = await page.textContent('#swap-line');
  seen.after = await page.textContent('#status');

  seen.external = external;

  if (shot) await page.screenshot({ path: shot, fullPage: true });
} finally {
  await browser.close();
}

console.log(JSON.stringify(seen));
