// The timeline page: lanes per source drawn on a canvas, zoom and pan,
// filters, search and the evidence of the event clicked. Written by salvage;
// it reads the data in #timeline-data and requests nothing.
(function () {
  'use strict';

  var D = JSON.parse(document.getElementById('timeline-data').textContent);
  var N = D.n;
  var BASE = D.base;

  // Columns as typed arrays. Timed events come first, in time order.
  var T = new Float64Array(N), LANE = new Uint8Array(N), ACT = new Uint16Array(N);
  var WHO = new Uint8Array(N), SUBJ = new Int32Array(N), BOOK = new Int32Array(N);
  var nTimed = 0;
  for (var i = 0; i < N; i++) {
    var t = D.t[i];
    if (t === null) { T[i] = NaN; } else { T[i] = t; nTimed = i + 1; }
    LANE[i] = D.lane[i]; ACT[i] = D.act[i]; WHO[i] = D.who[i]; SUBJ[i] = D.subj[i]; BOOK[i] = D.book[i];
  }
  D.t = D.lane = D.act = D.who = D.subj = D.book = null;

  function refKey(s) { return String(s).replace(/[^\p{L}\p{N}]+/gu, '').toUpperCase(); }
  var bookKeys = D.bookings.map(refKey);

  // Action groups give the marks their colour and row in a lane.
  var GROUPS = [
    ['booking', '#1f5fbf', 0], ['checkout', '#1f5fbf', 0], ['customer', '#6b7fa8', 2],
    ['payment', '#138a4b', 1], ['calendar', '#7b3fb5', 0], ['mail', '#0f7c8c', 0],
    ['agent', '#c26a00', 0], ['finding', '#c2182b', 1], ['evidence', '#6d7380', 2]
  ];
  var actGroup = D.actions.map(function (a) {
    var g = a.split('.')[0];
    for (var k = 0; k < GROUPS.length; k++) { if (GROUPS[k][0] === g) { return k; } }
    return GROUPS.length - 1;
  });
  var LANE_COLORS = { stripe: '#5b4fd6', calendar: '#7b3fb5', mail: '#0f7c8c', transcript: '#c26a00' };
  function laneColor(l) { return LANE_COLORS[D.lanes[l]] || '#6d7380'; }

  // Local time from the zone's offsets, without the browser's zone.
  var TZ = D.tz;
  function zoneAt(ms) {
    var lo = 0, hi = TZ.length - 1;
    while (lo < hi) {
      var mid = (lo + hi + 1) >> 1;
      if (TZ[mid][0] <= ms) { lo = mid; } else { hi = mid - 1; }
    }
    return TZ[lo];
  }
  function local(ms) { // "2026-11-18 14:28:32 WET"
    var z = zoneAt(ms);
    var s = new Date(ms + z[1] * 60000).toISOString();
    return s.slice(0, 10) + ' ' + s.slice(11, 19) + ' ' + z[2];
  }
  function localParts(ms) { return new Date(ms + zoneAt(ms)[1] * 60000).toISOString(); }

  var $ = function (id) { return document.getElementById(id); };
  var canvas = $('canvas'), ctx = canvas.getContext('2d');
  var LABEL_W = 118, AXIS_H = 66, LANE_H = 62, PAD_R = 10;
  var nLanes = D.lanes.length;

  // The span of the data, with the markers.
  var tMin = Infinity, tMax = -Infinity;
  if (nTimed > 0) { tMin = T[0]; tMax = T[nTimed - 1]; }
  D.markers.forEach(function (m) { tMin = Math.min(tMin, m.t); tMax = Math.max(tMax, m.t); });
  if (!isFinite(tMin)) { tMin = 0; tMax = 3600000; }
  if (tMax - tMin < 60000) { tMin -= 30000; tMax += 30000; }
  var span = tMax - tMin;
  var full = [tMin - span * 0.02, tMax + span * 0.02];
  var view = full.slice();

  // Filters.
  var laneOn = []; for (var l = 0; l < nLanes; l++) { laneOn.push(true); }
  var bookingKey = '', search = '';
  var mask = new Uint8Array(N), matches = 0;
  var selected = -1;

  function applyFilter() {
    var bookOK = null;
    if (bookingKey) {
      bookOK = new Uint8Array(D.bookings.length);
      for (var b = 0; b < bookKeys.length; b++) { bookOK[b] = bookKeys[b] === bookingKey ? 1 : 0; }
    }
    var q = search.toLowerCase();
    matches = 0;
    for (var i = 0; i < N; i++) {
      var ok = laneOn[LANE[i]];
      if (ok && bookOK) { ok = BOOK[i] >= 0 && bookOK[BOOK[i]] === 1; }
      if (ok && q) {
        ok = D.sum[i].toLowerCase().indexOf(q) >= 0 || D.subjects[SUBJ[i]].toLowerCase().indexOf(q) >= 0 ||
          D.actions[ACT[i]].indexOf(q) >= 0 || D.ev[i].toLowerCase().indexOf(q) >= 0;
      }
      mask[i] = ok ? 1 : 0;
      if (ok) { matches++; }
    }
  }

  // Geometry.
  var W = 0, H = 0, dpr = 1;
  function plotW() { return Math.max(10, W - LABEL_W - PAD_R); }
  function xOf(t) { return LABEL_W + (t - view[0]) / (view[1] - view[0]) * plotW(); }
  function tOf(x) { return view[0] + (x - LABEL_W) / plotW() * (view[1] - view[0]); }
  function laneTop(l) { return AXIS_H + l * LANE_H; }
  function lowerBound(t) { // first timed index with T >= t
    var lo = 0, hi = nTimed;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (T[mid] < t) { lo = mid + 1; } else { hi = mid; } }
    return lo;
  }

  // Nice steps for the axis, in ms.
  var S = 1000, M = 60 * S, HR = 60 * M, DAY = 24 * HR;
  var STEPS = [S, 5 * S, 15 * S, 30 * S, M, 5 * M, 15 * M, 30 * M, HR, 3 * HR, 6 * HR, 12 * HR, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 91 * DAY, 182 * DAY, 365 * DAY];

  var drawn = {};
  function render() {
    var started = performance.now();
    var cssW = canvas.clientWidth || 800;
    dpr = window.devicePixelRatio || 1;
    W = cssW; H = AXIS_H + nLanes * LANE_H + 6;
    canvas.style.height = H + 'px';
    if (canvas.width !== Math.round(W * dpr) || canvas.height !== Math.round(H * dpr)) {
      canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    ctx.font = '12px system-ui, sans-serif';
    ctx.textBaseline = 'middle';

    // Lanes.
    for (var l = 0; l < nLanes; l++) {
      ctx.fillStyle = l % 2 ? '#f4f5f8' : '#fafbfc';
      ctx.fillRect(LABEL_W, laneTop(l), plotW(), LANE_H);
    }
    // The loss window.
    var ws = D.window[0], we = D.window[1];
    if (ws !== null) {
      var x0 = Math.max(LABEL_W, xOf(ws)), x1 = we === null ? LABEL_W + plotW() : Math.min(LABEL_W + plotW(), xOf(we));
      if (x1 > x0) {
        ctx.fillStyle = 'rgba(214, 40, 57, 0.10)';
        ctx.fillRect(x0, AXIS_H - 16, x1 - x0, nLanes * LANE_H + 16);
        ctx.fillStyle = '#a31d2b';
        ctx.textAlign = 'left';
        ctx.fillText(we === null ? 'loss window (since the last backup; no restore recorded)' : 'loss window', x0 + 4, AXIS_H - 8);
      }
    }

    // Events: counts per few pixels where many are in view, else marks.
    var pw = plotW(), BIN = 3, nb = Math.ceil(pw / BIN);
    var i0 = lowerBound(view[0]), i1 = lowerBound(view[1]);
    var counts = [], bins = [];
    for (l = 0; l < nLanes; l++) { counts.push(0); bins.push(new Uint32Array(nb)); }
    var scale = pw / (view[1] - view[0]);
    for (var i = i0; i < i1; i++) {
      if (!mask[i]) { continue; }
      var b = Math.floor((T[i] - view[0]) * scale / BIN);
      if (b >= 0 && b < nb) { bins[LANE[i]][b]++; counts[LANE[i]]++; }
    }
    drawn = {};
    for (l = 0; l < nLanes; l++) {
      var top = laneTop(l), n = counts[l];
      drawn[D.lanes[l]] = n;
      if (n === 0) { continue; }
      if (n > pw / 5) {
        var mx = 0, bl = bins[l];
        for (b = 0; b < nb; b++) { if (bl[b] > mx) { mx = bl[b]; } }
        ctx.fillStyle = laneColor(l);
        var lm = Math.log(1 + mx);
        for (b = 0; b < nb; b++) {
          if (!bl[b]) { continue; }
          var h = (LANE_H - 12) * (0.18 + 0.82 * Math.log(1 + bl[b]) / lm);
          ctx.fillRect(LABEL_W + b * BIN, top + LANE_H - 4 - h, BIN - 0.5, h);
        }
      } else {
        for (i = i0; i < i1; i++) {
          if (!mask[i] || LANE[i] !== l) { continue; }
          var g = GROUPS[actGroup[ACT[i]]];
          var x = xOf(T[i]), y = top + LANE_H / 2 + (g[2] - 1) * 14;
          ctx.fillStyle = g[1];
          ctx.beginPath(); ctx.arc(x, y, 4, 0, 2 * Math.PI); ctx.fill();
        }
      }
    }
    if (selected >= 0 && !isNaN(T[selected]) && T[selected] >= view[0] && T[selected] <= view[1]) {
      var sx = xOf(T[selected]), sy = laneTop(LANE[selected]);
      ctx.strokeStyle = '#111'; ctx.lineWidth = 2;
      ctx.strokeRect(sx - 6, sy + 4, 12, LANE_H - 8);
      ctx.lineWidth = 1;
    }

    // Markers.
    var MC = { last_backup: '#1d3f8f', incident: '#c2182b', detection: '#d27500', restore: '#138a4b' };
    var ML = { last_backup: 'last backup', incident: 'T0 incident', detection: 'detection', restore: 'restore' };
    // Labels take the first of two rows where they do not overlap the
    // label before.
    var rowEnd = [-Infinity, -Infinity], rowStart = [Infinity, Infinity];
    D.markers.forEach(function (m) {
      var x = xOf(m.t);
      if (x < LABEL_W || x > LABEL_W + pw) { return; }
      var text = ML[m.kind] || m.label, tw = ctx.measureText(text).width;
      var right = x > LABEL_W + pw - tw - 8;
      var a = right ? x - 4 - tw : x + 4, b = a + tw;
      var row = 0;
      if (a < rowEnd[0] + 6 && b > rowStart[0] - 6) { row = 1; }
      rowEnd[row] = Math.max(rowEnd[row], b); rowStart[row] = Math.min(rowStart[row], a);
      ctx.strokeStyle = MC[m.kind] || '#333';
      ctx.lineWidth = m.kind === 'incident' ? 2.5 : 1.5;
      ctx.beginPath(); ctx.moveTo(x, 4 + row * 14); ctx.lineTo(x, AXIS_H + nLanes * LANE_H); ctx.stroke();
      ctx.lineWidth = 1;
      ctx.fillStyle = MC[m.kind] || '#333';
      ctx.textAlign = 'left';
      ctx.fillText(text, a, 10 + row * 14);
    });

    // Axis.
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, LABEL_W, H);
    ctx.strokeStyle = '#c9ced8';
    ctx.beginPath(); ctx.moveTo(LABEL_W, AXIS_H - 0.5); ctx.lineTo(LABEL_W + pw, AXIS_H - 0.5); ctx.stroke();
    var per = (view[1] - view[0]) / pw, step = STEPS[STEPS.length - 1];
    for (var s = 0; s < STEPS.length; s++) { if (STEPS[s] / per >= 110) { step = STEPS[s]; break; } }
    var off = zoneAt(view[0])[1] * 60000;
    var t0 = Math.floor((view[0] + BASE + off) / step) * step - off - BASE;
    ctx.fillStyle = '#5b6475';
    ctx.textAlign = 'center';
    for (var tt = t0; tt <= view[1]; tt += step) {
      var tx = xOf(tt);
      if (tx < LABEL_W) { continue; }
      ctx.strokeStyle = '#e3e6ec';
      ctx.beginPath(); ctx.moveTo(tx + 0.5, AXIS_H); ctx.lineTo(tx + 0.5, AXIS_H + nLanes * LANE_H); ctx.stroke();
      var p = localParts(tt + BASE), label;
      if (step < M) { label = p.slice(11, 19); } else if (step < DAY) { label = p.slice(11, 16); } else { label = p.slice(5, 10); }
      if (step < DAY) { label = p.slice(5, 10) + ' ' + label; } else if (step >= 30 * DAY) { label = p.slice(0, 7); }
      ctx.fillText(label, tx, AXIS_H - 26);
    }
    // Lane labels.
    ctx.textAlign = 'left';
    for (l = 0; l < nLanes; l++) {
      ctx.fillStyle = laneColor(l);
      ctx.fillRect(8, laneTop(l) + LANE_H / 2 - 5, 10, 10);
      ctx.fillStyle = '#1d2330';
      ctx.fillText(D.lanes[l], 24, laneTop(l) + LANE_H / 2 - 7);
      ctx.fillStyle = '#5b6475';
      ctx.fillText(counts[l].toLocaleString('en') + ' in view', 24, laneTop(l) + LANE_H / 2 + 9);
    }
    var de = document.documentElement;
    de.setAttribute('data-drawn', D.lanes.map(function (n) { return n + ':' + (drawn[n] || 0); }).join(','));
    de.setAttribute('data-view', Math.round(view[0] + BASE) + ',' + Math.round(view[1] + BASE));
    de.setAttribute('data-render-ms', (performance.now() - started).toFixed(1));
  }

  // The list of the events in view (at most MAX_ROWS), and the status.
  var MAX_ROWS = 300;
  var tbody = $('list').tBodies[0];
  function renderList() {
    var i0 = lowerBound(view[0]), i1 = lowerBound(view[1]);
    var rows = [], inView = 0;
    for (var i = i0; i < i1; i++) {
      if (!mask[i]) { continue; }
      inView++;
      if (rows.length < MAX_ROWS) { rows.push(i); }
    }
    var untimed = 0;
    for (i = nTimed; i < N; i++) {
      if (!mask[i]) { continue; }
      untimed++;
      if (rows.length < MAX_ROWS) { rows.push(i); }
    }
    var frag = document.createDocumentFragment();
    rows.forEach(function (i) {
      var tr = document.createElement('tr');
      tr.setAttribute('data-i', i);
      tr.setAttribute('data-booking', BOOK[i] >= 0 ? D.bookings[BOOK[i]] : '');
      tr.setAttribute('data-source', D.lanes[LANE[i]]);
      if (i === selected) { tr.className = 'selected'; }
      [isNaN(T[i]) ? 'no time' : local(T[i] + BASE), D.lanes[LANE[i]], D.actors[WHO[i]], D.actions[ACT[i]],
        D.subjects[SUBJ[i]], D.sum[i]].forEach(function (text) {
        var td = document.createElement('td'); td.textContent = text; tr.appendChild(td);
      });
      frag.appendChild(tr);
    });
    tbody.textContent = '';
    tbody.appendChild(frag);
    var st = matches.toLocaleString('en') + ' of ' + N.toLocaleString('en') + ' events match';
    st += ' · ' + inView.toLocaleString('en') + ' in view, ' + local(view[0] + BASE) + ' – ' + local(view[1] + BASE);
    if (untimed) { st += ' · ' + untimed + ' without a time'; }
    if (inView + untimed > MAX_ROWS) { st += ' · the list shows the first ' + MAX_ROWS + ': zoom in or filter for the rest'; }
    $('status').textContent = st;
    var de = document.documentElement;
    de.setAttribute('data-matches', matches);
    de.setAttribute('data-listed', rows.length);
  }

  function showDetail(i) {
    var box = $('detail');
    box.textContent = '';
    if (i < 0) { return; }
    var h = document.createElement('h2');
    h.textContent = D.actions[ACT[i]] + ' · ' + D.subjects[SUBJ[i]];
    box.appendChild(h);
    var dl = document.createElement('dl');
    var rows = [
      ['time', isNaN(T[i]) ? 'not known' : local(T[i] + BASE) + ' (' + new Date(T[i] + BASE).toISOString().replace('T', ' ').replace('.000Z', ' UTC').replace('Z', ' UTC') + ')'],
      ['source', D.lanes[LANE[i]]], ['actor', D.actors[WHO[i]]], ['action', D.actions[ACT[i]]],
      ['booking', BOOK[i] >= 0 ? D.bookings[BOOK[i]] : '–'], ['summary', D.sum[i]], ['evidence', D.ev[i].split(' ').join('\n')]
    ];
    if (D.sev[i]) { rows.splice(3, 0, ['severity', D.sev[i]]); }
    rows.forEach(function (r) {
      var dt = document.createElement('dt'); dt.textContent = r[0];
      var dd = document.createElement('dd'); dd.textContent = r[1];
      if (r[0] === 'severity') { dd.className = 'sev-' + r[1]; }
      if (r[0] === 'evidence') { dd.style.whiteSpace = 'pre-wrap'; }
      dl.appendChild(dt); dl.appendChild(dd);
    });
    box.appendChild(dl);
    if (D.det[i]) {
      var pre = document.createElement('pre');
      pre.id = 'evidence-text';
      pre.textContent = D.det[i];
      box.appendChild(pre);
    }
  }

  function select(i) {
    selected = i;
    showDetail(i);
    render();
    renderList();
  }

  // Redraw at most once a frame.
  var pending = false;
  function update(list) {
    if (pending) { return; }
    pending = true;
    requestAnimationFrame(function () { pending = false; render(); if (list !== false) { renderList(); } });
  }

  function setView(a, b) {
    var minSpan = 2000, maxSpan = (full[1] - full[0]) * 4;
    var c = (a + b) / 2, s = Math.min(Math.max(b - a, minSpan), maxSpan);
    view = [c - s / 2, c + s / 2];
    update();
  }
  function zoom(factor, atX) {
    var ct = atX === undefined ? (view[0] + view[1]) / 2 : tOf(atX);
    setView(ct - (ct - view[0]) * factor, ct + (view[1] - ct) * factor);
  }

  // Controls.
  var fs = $('sources');
  D.lanes.forEach(function (name, l) {
    var lab = document.createElement('label');
    var cb = document.createElement('input');
    cb.type = 'checkbox'; cb.checked = true; cb.value = name; cb.id = 'lane-' + name;
    cb.addEventListener('change', function () { laneOn[l] = cb.checked; applyFilter(); update(); });
    var sw = document.createElement('span'); sw.className = 'swatch'; sw.style.background = laneColor(l);
    var n = 0; for (var i = 0; i < N; i++) { if (LANE[i] === l) { n++; } }
    lab.appendChild(cb); lab.appendChild(sw); lab.appendChild(document.createTextNode(' ' + name + ' (' + n.toLocaleString('en') + ')'));
    fs.appendChild(lab);
  });
  var timer = 0;
  function debounce(fn) { clearTimeout(timer); timer = setTimeout(fn, 120); }
  $('booking').addEventListener('input', function (ev) {
    var v = ev.target.value;
    debounce(function () {
      bookingKey = refKey(v);
      applyFilter();
      if (bookingKey) { fitMatches(); } else { update(); }
    });
  });
  $('search').addEventListener('input', function (ev) {
    var v = ev.target.value;
    debounce(function () { search = v.trim(); applyFilter(); update(); });
  });
  function fitMatches() {
    var a = Infinity, b = -Infinity;
    for (var i = 0; i < nTimed; i++) { if (mask[i]) { a = Math.min(a, T[i]); b = Math.max(b, T[i]); } }
    if (!isFinite(a)) { update(); return; }
    var pad = Math.max((b - a) * 0.08, 30 * M);
    setView(a - pad, b + pad);
  }
  $('zoom-all').addEventListener('click', function () { setView(full[0], full[1]); });
  $('zoom-window').addEventListener('click', function () {
    var a = D.window[0] === null ? full[0] : D.window[0], b = D.window[1] === null ? full[1] : D.window[1];
    var pad = (b - a) * 0.03; setView(a - pad, b + pad);
  });
  $('zoom-incident').addEventListener('click', function () {
    var m = D.markers.filter(function (x) { return x.kind === 'incident'; })[0];
    if (m) { setView(m.t - HR, m.t + HR); }
  });
  $('zoom-in').addEventListener('click', function () { zoom(0.5); });
  $('zoom-out').addEventListener('click', function () { zoom(2); });

  // Zoom with the wheel around the pointer; pan by dragging; click to
  // select the nearest event in the lane.
  canvas.addEventListener('wheel', function (ev) {
    ev.preventDefault();
    var r = canvas.getBoundingClientRect();
    zoom(Math.pow(1.0015, ev.deltaY), Math.max(LABEL_W, ev.clientX - r.left));
  }, { passive: false });
  var drag = null;
  canvas.addEventListener('pointerdown', function (ev) {
    drag = { x: ev.clientX, view: view.slice(), moved: false };
    canvas.setPointerCapture(ev.pointerId);
  });
  canvas.addEventListener('pointermove', function (ev) {
    if (!drag) { return; }
    var dx = ev.clientX - drag.x;
    if (Math.abs(dx) > 3) { drag.moved = true; canvas.classList.add('dragging'); }
    if (drag.moved) {
      var dt = dx / plotW() * (drag.view[1] - drag.view[0]);
      view = [drag.view[0] - dt, drag.view[1] - dt];
      update(false);
    }
  });
  canvas.addEventListener('pointerup', function (ev) {
    var d = drag; drag = null;
    canvas.classList.remove('dragging');
    if (!d) { return; }
    if (d.moved) { update(); return; }
    var r = canvas.getBoundingClientRect(), x = ev.clientX - r.left, y = ev.clientY - r.top;
    var l = Math.floor((y - AXIS_H) / LANE_H);
    if (l < 0 || l >= nLanes || x < LABEL_W) { return; }
    var a = lowerBound(tOf(x - 8)), b = lowerBound(tOf(x + 8)), best = -1, bd = Infinity;
    for (var i = a; i < b; i++) {
      if (!mask[i] || LANE[i] !== l) { continue; }
      var dd = Math.abs(xOf(T[i]) - x);
      if (dd < bd) { bd = dd; best = i; }
    }
    if (best >= 0) { select(best); }
  });
  canvas.addEventListener('dblclick', function (ev) {
    var r = canvas.getBoundingClientRect(); zoom(0.25, ev.clientX - r.left);
  });
  canvas.addEventListener('keydown', function (ev) {
    var w = view[1] - view[0];
    if (ev.key === '+' || ev.key === '=') { zoom(0.5); } else if (ev.key === '-') { zoom(2); } else if (ev.key === 'ArrowLeft') { setView(view[0] - w / 5, view[1] - w / 5); } else if (ev.key === 'ArrowRight') { setView(view[0] + w / 5, view[1] + w / 5); } else { return; }
    ev.preventDefault();
  });
  tbody.addEventListener('click', function (ev) {
    var tr = ev.target.closest('tr');
    if (tr) { select(+tr.getAttribute('data-i')); }
  });
  window.addEventListener('resize', function () { update(false); });

  // What the page shows, in a line.
  var facts = D.zone + ' · ' + N.toLocaleString('en') + ' events';
  if (D.total !== N) { facts += ' (of ' + D.total.toLocaleString('en') + ', filtered)'; }
  D.markers.forEach(function (m) { facts += ' · ' + m.label + ' ' + local(m.t + BASE); });
  $('facts').textContent = facts;

  applyFilter();
  render();
  renderList();
  document.documentElement.setAttribute('data-rendered', '1');
  window.timelineRenderedAt = performance.now();
})();
