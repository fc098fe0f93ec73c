// The demo page: every call goes to the API of this nginx (/api/), as a
// listing page or a checkout of a sharing platform would.
'use strict';

const $ = (id) => document.getElementById(id);
let current = null;   // the resource shown
let booking = null;   // the hold made
let token = null;
let timer = null;
let wanted = null;    // what a refused hold asked for: the waitlist's body
let entry = null;     // the waitlist entry made
let entryUser = null;
let poller = null;
let swap = null;      // the group of a home swap held

function day(offset) {
  const d = new Date(Date.now() + offset * 86400000);
  return d.toISOString().slice(0, 10);
}

function say(text) {
  $('status').textContent = text || '';
}

async function api(method, path, body, user) {
  const headers = { 'X-User-Id': user || $('user').value,
                    'X-User-Groups': $('groups').value };
  if (token) headers['Booking-Token'] = token;
  // revalidate every read (If-None-Match, 304): a page that just booked
  // must not show what the browser cached a second ago
  const init = { method, headers, cache: 'no-cache' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch('/api' + path, init);
  const json = res.status === 204 ? null : await res.json();
  if (!res.ok) {
    const e = new Error(json && json.error ? json.error.message : res.statusText);
    e.code = json && json.error ? json.error.code : '';
    throw e;
  }
  return json;
}

function range() {
  const type = $('type').value;
  if (type === 'gift') return '';
  return '&from=' + $('from').value + '&to=' + $('to').value;
}

async function list(ev) {
  if (ev) ev.preventDefault();
  say('');
  const ul = $('items');
  ul.textContent = '';
  try {
    const page = await api('GET', '/resources?type=' + $('type').value + range());
    if (page.items.length === 0) {
      ul.textContent = 'Nothing free over these dates.';
    }
    for (const item of page.items) {
      const li = document.createElement('li');
      const title = document.createElement('strong');
      title.textContent = item.title || item.id;
      const free = document.createElement('div');
      free.className = 'free';
      free.textContent = (item.free !== undefined ? item.free : item.capacity) + ' free';
      const open = document.createElement('button');
      open.type = 'button';
      open.textContent = 'Open';
      open.dataset.id = item.id;
      open.addEventListener('click', () => show(item));
      li.append(title, free);
      if (item.groups && item.groups.length) {
        // usage rights: only these groups (and the owner) may book it
        const only = document.createElement('div');
        only.className = 'groups';
        only.textContent = 'reserved to ' + item.groups.join(', ');
        li.append(only);
      }
      li.append(open);
      ul.append(li);
    }
    offerSwap(page.items);
  } catch (e) {
    say(e.message);
  }
}

// two homes free over the dates: swapped as one group of items
function offerSwap(items) {
  const homes = $('type').value === 'room' ? items : [];
  // a swap made stays in view, with its status
  $('swap').hidden = homes.length < 2 && !swap;
  if (homes.length < 2) return;
  for (const [k, sel] of [[0, $('swap-a')], [1, $('swap-b')]]) {
    sel.textContent = '';
    for (const h of homes) {
      const o = document.createElement('option');
      o.value = h.id;
      o.textContent = h.title || h.id;
      sel.append(o);
    }
    if (homes[k]) sel.value = homes[k].id;
  }
}

async function swapHold() {
  say('');
  const item = (id) => ({ resource: id, start: $('from').value, end: $('to').value });
  try {
    token = null;
    swap = await api('POST', '/bookings',
                     { hold: true, items: [item($('swap-a').value), item($('swap-b').value)] });
    showSwap();
  } catch (e) {
    say(e.message);
  }
}

function showSwap() {
  $('swap-line').textContent = swap.group + ': ' + swap.status + ', ' +
    swap.bookings.map((b) => b.resource).join(' and ');
  $('swap-confirm').disabled = swap.status !== 'held';
}

async function swapConfirm() {
  say('');
  try {
    token = swap.token;
    swap = await api('POST', '/groups/' + encodeURIComponent(swap.group) + '/confirm');
    token = null;
    showSwap();
    list();
  } catch (e) {
    token = null;
    say(e.message);
  }
}

// the same hour every week on the wall clock of the type's tz: one group
async function weekly() {
  say('');
  const start = $('from').value + 'T10:00:00Z';
  const body = { resource: current.id, start, end: start.slice(0, 11) + '11:00:00Z',
                 repeat: { freq: 'weekly', count: 4 } };
  try {
    token = null;
    const g = await api('POST', '/bookings', body);
    const b = g.bookings;
    $('series-line').textContent = 'Every week: ' + b.length + ' bookings ' + g.status +
      ', ' + b[0].start.slice(0, 10) + ' to ' + b[b.length - 1].start.slice(0, 10);
    show(current);
  } catch (e) {
    say(e.message);
  }
}

async function show(item) {
  current = item;
  $('detail').hidden = false;
  // a series needs a calendar of hours: not nights, not stock
  $('weekly').hidden = ['room', 'gift'].includes($('type').value);
  $('detail-title').textContent = item.title || item.id;
  $('ics').href = '/api/resources/' + encodeURIComponent(item.id) + '/calendar.ics';
  const cal = $('calendar');
  cal.textContent = '';
  try {
    const a = await api('GET', '/resources/' + encodeURIComponent(item.id) + '/availability?' + range().slice(1));
    if (a.slot === 'none') {
      cal.textContent = a.free + ' of ' + a.capacity + ' left';
      return;
    }
    for (const run of a.free) {
      const s = document.createElement('span');
      s.textContent = run.start + ' → ' + run.end + ': ' + run.units;
      if (run.units === 0) s.className = 'taken';
      cal.append(s);
    }
  } catch (e) {
    say(e.message);
  }
}

function tick() {
  const left = Math.max(0, Math.round((Date.parse(booking.expires_at) - Date.now()) / 1000));
  $('countdown').textContent = booking.status === 'held'
    ? 'Held for ' + Math.floor(left / 60) + ' min ' + (left % 60) + ' s more'
    : '';
  if (left === 0 && timer) {
    clearInterval(timer);
    timer = null;
  }
}

function render() {
  $('booking').hidden = false;
  $('booking-line').textContent = booking.id + ': ' + booking.status;
  $('confirm').disabled = booking.status !== 'held';
  $('cancel').disabled = booking.status === 'cancelled';
  if (timer) clearInterval(timer);
  timer = null;
  if (booking.status === 'held') {
    tick();
    timer = setInterval(tick, 1000);
  } else {
    $('countdown').textContent = '';
  }
}

async function hold() {
  say('');
  const body = { resource: current.id, hold: true };
  if ($('type').value !== 'gift') {
    body.start = $('from').value;
    body.end = $('to').value;
    if ($('type').value !== 'room') {
      body.start += 'T10:00:00Z';
      body.end = body.start.slice(0, 11) + '11:00:00Z';
    }
  }
  try {
    token = null;
    booking = await api('POST', '/bookings', body);
    token = booking.token;
    render();
  } catch (e) {
    say(e.message);
    if (e.code === 'unavailable') {
      // taken: a type with waitlist=on lets the user wait for it
      delete body.hold;
      wanted = body;
      $('line').hidden = false;
      $('wait').hidden = false;
      $('line-text').textContent =
        'Taken. Wait in line: when it is freed, the first in line gets it.';
    }
  }
}

function showEntry() {
  $('wait').hidden = true;
  $('line-text').textContent =
    entry.status === 'waiting' ? 'Waiting: number ' + entry.position + ' in line'
    : entry.status === 'offered' ? 'Your turn: ' + entry.booking + ' is held for you'
    : 'Lapsed: the offer was not taken';
}

// the entry is its user's: read as them, whoever the page says now
async function poll() {
  try {
    entry = await api('GET', '/waitlist/' + encodeURIComponent(entry.id), undefined, entryUser);
    showEntry();
    if (entry.status === 'offered') {
      clearInterval(poller);
      poller = null;
      $('user').value = entryUser;
      token = null;
      booking = await api('GET', '/bookings/' + encodeURIComponent(entry.booking));
      render();
    }
  } catch (e) {
    say(e.message);
  }
}

async function wait() {
  say('');
  try {
    entryUser = $('user').value;
    entry = await api('POST', '/waitlist', wanted);
    showEntry();
    if (poller) clearInterval(poller);
    poller = setInterval(poll, 1000);
  } catch (e) {
    say(e.message);
  }
}

async function act(op) {
  say('');
  try {
    booking = await api('POST', '/bookings/' + encodeURIComponent(booking.id) + '/' + op);
    render();
    list();
    if (current) show(current);
  } catch (e) {
    say(e.message);
  }
}

$('from').value = day(1);
$('to').value = day(3);
$('search').addEventListener('submit', list);
$('hold').addEventListener('click', hold);
$('wait').addEventListener('click', wait);
$('confirm').addEventListener('click', () => act('confirm'));
$('cancel').addEventListener('click', () => act('cancel'));
$('weekly').addEventListener('click', weekly);
$('swap-hold').addEventListener('click', swapHold);
$('swap-confirm').addEventListener('click', swapConfirm);
