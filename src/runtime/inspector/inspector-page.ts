/**
 * The inspector page: one self-contained document (markup, style, script), served by the library,
 * nothing fetched from anywhere else. It talks to inspector-server.ts over one WebSocket.
 */
export const INSPECTOR_PAGE = /* html */ `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>actorhost inspector</title>
<style>
  :root { font: 13px/1.4 system-ui, sans-serif; color: #1d232a; background: #f6f7f9; }
  body { margin: 0; }
  header { background: #1d232a; color: #fff; padding: 10px 16px; display: flex; gap: 24px; align-items: baseline; }
  header h1 { font-size: 16px; margin: 0; }
  main { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 12px; padding: 12px; }
  main > div { min-width: 0; }
  @media (max-width: 1100px) { main { grid-template-columns: minmax(0, 1fr); } }
  .scroll { overflow-x: auto; }
  th.sortable { cursor: pointer; user-select: none; } th.sorted::after { content: ' ▾'; }
  .actions { display: flex; flex-wrap: wrap; gap: 6px; margin: 6px 0; align-items: center; }
  .actions input { flex: 1; min-width: 160px; font-family: ui-monospace, monospace; }
  #action-result.ok { color: #1a7f37; } #action-result.failed { color: #b42318; }
  #rate { vertical-align: middle; }
  section { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: 10px; }
  h2 { font-size: 13px; margin: 0 0 8px; text-transform: uppercase; letter-spacing: .04em; color: #57606a; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eef0f3; white-space: nowrap; }
  tbody tr.session { cursor: pointer; }
  tbody tr.session:hover { background: #eef4ff; }
  tbody tr.selected { background: #dbe8ff; }
  .bar { height: 8px; background: #e6e9ee; border-radius: 4px; overflow: hidden; min-width: 120px; }
  .bar > div { height: 100%; background: #3b82f6; }
  .over > div { background: #e5484d; }
  .status-evicted { color: #8a8f98; } .status-restarting { color: #b86e00; } .status-stopping { color: #b86e00; }
  .dead { color: #e5484d; font-weight: 600; }
  .controls { display: flex; gap: 8px; margin-bottom: 6px; align-items: center; }
  .state { border: 1px solid #c9ced6; border-radius: 6px; padding: 4px 8px; margin: 4px; display: inline-block; vertical-align: top; }
  .state > .name { font-weight: 600; }
  .state.active { border-color: #3b82f6; background: #e8f0ff; }
  .state.active > .name { color: #1d4ed8; }
  .state.final > .name::after { content: ' ◉'; }
  .transition { font-size: 11px; color: #57606a; white-space: nowrap; }
  pre { background: #f6f8fa; padding: 6px; border-radius: 4px; max-height: 220px; overflow: auto; margin: 4px 0; }
  #failures li { color: #b42318; }
  #failures li.muted { color: #8a8f98; }
  .muted { color: #8a8f98; }
</style>
</head>
<body>
<header><h1>actorhost inspector</h1><span id="totals" class="muted">connecting…</span><span class="muted">events/s <svg id="rate" width="160" height="22"></svg> <b id="rate-now">0</b></span></header>
<main>
  <div>
    <section><h2>Shards</h2><table id="shards"><thead><tr><th>shard</th><th>worker</th><th>sessions</th><th>actors</th><th>events/s</th><th>heap</th></tr></thead><tbody></tbody></table></section>
    <section id="fleet" hidden><h2>Fleet <span id="fleet-name" class="muted"></span></h2><table id="fleet-shards"><thead><tr><th>fleet shard</th><th>held by</th></tr></thead><tbody></tbody></table></section>
    <section><h2>Pools</h2><table id="pools"><thead><tr><th>pool</th><th>fill</th><th>sessions</th><th>capacity</th><th>evicted</th></tr></thead><tbody></tbody></table></section>
    <section>
      <h2>Sessions</h2>
      <div class="controls">
        <input id="search" placeholder="filter by id" size="20">
        <select id="status"><option value="">any status</option><option>active</option><option>starting</option><option>restarting</option><option>stopping</option><option>evicted</option><option>quarantined</option><option>remote</option></select>
        <button id="prev">◀</button><span id="range" class="muted"></span><button id="next">▶</button>
      </div>
      <div class="scroll"><table id="sessions"><thead><tr><th class="sortable" data-key="id">id</th><th class="sortable" data-key="kind">kind</th><th class="sortable" data-key="label">label</th><th class="sortable" data-key="pool">pool</th><th>state</th><th class="sortable" data-key="status">status</th><th>pinned</th><th class="sortable" data-key="mailbox">mailbox</th><th class="sortable" data-key="lastActiveAt">last active</th><th class="sortable" data-key="restarts">restarts</th><th>shard</th><th>pids</th></tr></thead><tbody></tbody></table></div>
    </section>
  </div>
  <div>
    <section id="detail"><h2>Session</h2><p class="muted">Click a session.</p></section>
    <section><h2>Recent failures and dead letters</h2><ul id="failures"></ul></section>
  </div>
</main>
<script>
  // The token came in the URL once; the server set it as a cookie, so it leaves the address bar
  // and the history (the WebSocket carries the cookie).
  if (location.search.includes('token=')) history.replaceState(null, '', location.pathname + location.hash);
  const socket = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
  const PAGE = 50;
  let offset = 0, total = 0, selected = null, lastProcessed = null, lastAt = 0, sortKey = null, lastRows = [];
  const rateHistory = [];
  const $ = (selector) => document.querySelector(selector);
  const text = (value) => String(value ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
  // A state value as its paths: 'running.turn.idle', parallel regions joined by ', '.
  const paths = (value, prefix) => typeof value === 'string' ? [prefix + value] : value && typeof value === 'object' ? Object.entries(value).flatMap(([key, child]) => child && typeof child === 'object' && Object.keys(child).length === 0 ? [prefix + key] : paths(child, prefix + key + '.')) : [];
  const stateText = (value) => value === undefined ? '—' : paths(value, '').join(', ');
  const ago = (at) => at ? Math.max(0, Math.round((Date.now() - at) / 1000)) + ' s ago' : '—';
  const request = () => socket.readyState === 1 && socket.send(JSON.stringify({ type: 'page', offset, limit: PAGE, search: $('#search').value || undefined, status: $('#status').value || undefined }));

  socket.onmessage = (message) => {
    const data = JSON.parse(message.data);
    if (data.type === 'summary') renderSummary(data);
    if (data.type === 'page') renderPage(data);
    if (data.type === 'session' && data.id === selected) renderSession(data);
    if (data.type === 'action') {
      actionNote = { text: data.message, cls: data.ok ? 'ok' : 'failed' };
      const out = $('#action-result');
      if (out) { out.textContent = actionNote.text; out.className = actionNote.cls; }
      // Its row and panel show what the action changed (pinned, status).
      if (data.ok && data.id === selected) { socket.send(JSON.stringify({ type: 'watch', id: selected })); request(); }
    }
  };
  const select = (id) => {
    if (id !== selected) actionNote = { text: '', cls: 'muted' };
    selected = id;
    if (location.hash !== '#session=' + encodeURIComponent(id)) history.replaceState(null, '', '#session=' + encodeURIComponent(id));
    socket.send(JSON.stringify({ type: 'watch', id }));
    request();
  };
  socket.onopen = () => {
    // A deep link: #session=<id> opens that session.
    const linked = /^#session=(.+)$/.exec(location.hash);
    if (linked) select(decodeURIComponent(linked[1]));
    request();
    setInterval(request, 500);
  };
  socket.onclose = () => { $('#totals').textContent = 'disconnected'; };

  function renderSummary({ stats, failures }) {
    const now = performance.now();
    const processed = stats.shards.map((s) => s.eventsProcessed);
    const rates = lastProcessed ? processed.map((p, i) => Math.max(0, Math.round((p - (lastProcessed[i] ?? p)) / ((now - lastAt) / 1000)))) : processed.map(() => 0);
    lastProcessed = processed; lastAt = now;
    const rate = rates.reduce((a, b) => a + b, 0);
    rateHistory.push(rate); if (rateHistory.length > 120) rateHistory.shift();
    const peak = Math.max(1, ...rateHistory);
    $('#rate').innerHTML = '<polyline fill="none" stroke="#93c5fd" stroke-width="1.5" points="' + rateHistory.map((r, i) => (i * 160 / 119).toFixed(1) + ',' + (21 - (r / peak) * 20).toFixed(1)).join(' ') + '"/>';
    $('#rate-now').textContent = rate;
    $('#totals').textContent = stats.sessions + ' live · ' + stats.evicted + ' evicted · ' + stats.restarts + ' restarts · ' + stats.crashed + ' crashed · ' + stats.deadLetters + ' dead letters';
    $('#shards tbody').innerHTML = stats.shards.map((s, i) => '<tr><td>' + s.shard + '</td><td class="' + (s.alive ? '' : 'dead') + '">' + (s.alive ? 'alive' : 'down') + '</td><td>' + s.sessions + '</td><td>' + s.actors + '</td><td>' + rates[i] + '</td><td>' + (s.heapUsed / 1048576).toFixed(1) + ' MB</td></tr>').join('');
    if (stats.fleet) {
      $('#fleet').hidden = false;
      $('#fleet-name').textContent = stats.fleet.name + ' · this host: ' + stats.fleet.host;
      $('#fleet-shards tbody').innerHTML = stats.fleet.shards.map((s) => '<tr><td>' + s.shard + '</td><td>' + (s.host === stats.fleet.host ? '<b>' + text(s.host) + '</b> (here)' : s.host === undefined || s.host === null ? '<span class="muted">none</span>' : text(s.host)) + '</td></tr>').join('');
    }
    $('#pools tbody').innerHTML = Object.entries(stats.pools).map(([name, p]) => {
      const fill = p.capacity === null || !isFinite(p.capacity) ? 0 : Math.min(100, (100 * p.sessions) / p.capacity);
      const over = isFinite(p.capacity) && p.capacity !== null && p.sessions > p.capacity;
      return '<tr><td>' + text(name) + '</td><td><div class="bar' + (over ? ' over' : '') + '"><div style="width:' + fill + '%"></div></div></td><td>' + p.sessions + (over ? ' ⚠ over capacity' : '') + '</td><td>' + (p.capacity ?? '∞') + '</td><td>' + p.evicted + '</td></tr>';
    }).join('');
    $('#failures').innerHTML = failures.slice().reverse().map((f) => '<li>' + text(f.kind) + ' <b>' + text(f.id) + '</b>: ' + text(f.message) + '</li>').join('') || '<li class="muted">none</li>';
  }

  function renderPage(data) {
    total = data.total;
    lastRows = data.rows;
    $('#range').textContent = total ? (data.offset + 1) + '–' + Math.min(total, data.offset + PAGE) + ' of ' + total : 'none';
    // Sorted within the page (the server pages; sorting 100,000 rows there on every refresh would stall the host).
    const rows = sortKey ? data.rows.slice().sort((a, b) => String(a[sortKey] ?? '').localeCompare(String(b[sortKey] ?? ''), undefined, { numeric: true })) : data.rows;
    $('#sessions tbody').innerHTML = rows.map((r) =>
      '<tr class="session' + (r.id === selected ? ' selected' : '') + '" data-id="' + text(r.id) + '"><td>' + text(r.id) + '</td><td>' + text(r.kind) + '</td><td>' + text(r.label ? r.group + ' / ' + r.label : '') + '</td><td>' + text(r.pool) + '</td><td class="value">' + text(stateText(r.value)) +
      '</td><td class="status-' + r.status + '">' + r.status + '</td><td>' + (r.pinned ? 'pinned' : '') + '</td><td>' + r.mailbox + '</td><td>' + ago(r.lastActiveAt) + '</td><td>' + r.restarts + '</td><td>' + (r.shard < 0 ? '—' : r.shard) + '</td><td>' + text((r.pids || []).join(' ')) + '</td></tr>').join('');
  }

  function activePaths(value, prefix, into) {
    if (typeof value === 'string') into.add(prefix + value);
    else if (value && typeof value === 'object') for (const [key, child] of Object.entries(value)) { into.add(prefix + key); activePaths(child, prefix + key + '.', into); }
    return into;
  }

  function renderChart(node, path, active) {
    return node.states.map((state) => {
      const here = path ? path + '.' + state.key : state.key;
      const arrows = (state.transitions || []).map((t) => '<div class="transition">' + text(t.event) + ' → ' + text(t.targets.join(', ') || '(internal)') + '</div>').join('');
      return '<div class="state' + (active.has(here) ? ' active' : '') + (state.type === 'final' ? ' final' : '') + '" data-path="' + text(here) + '"><div class="name">' + text(state.key) + '</div>' + arrows + renderChart(state, here, active) + '</div>';
    }).join('');
  }

  function renderSession(data) {
    const snapshot = data.snapshot;
    const active = activePaths(snapshot?.value, '', new Set());
    $('#detail').innerHTML = '<h2>Session ' + text(data.id) + '</h2>' +
      '<p>' + text(data.info?.kind ?? '') + ' · ' + text(data.info?.status ?? '') + ' · state <b id="detail-value">' + text(stateText(snapshot?.value)) + '</b></p>' +
      '<div class="actions"><button data-action="stop">stop</button><button data-action="' + (data.info?.pinned ? 'unpin' : 'pin') + '">' + (data.info?.pinned ? 'unpin' : 'pin') + '</button><button data-action="evict">evict</button>' +
      '<input id="event-json" placeholder="{&quot;type&quot;:&quot;PING&quot;}" value="' + text(pendingEvent) + '"><button data-action="send">send</button></div><div id="action-result" class="' + actionNote.cls + '">' + text(actionNote.text) + '</div>' +
      '<div id="chart">' + (data.chart ? renderChart(data.chart, '', active) : '<span class="muted">no chart</span>') + '</div>' +
      '<h2>Context</h2><pre>' + text(JSON.stringify(snapshot?.context ?? null, null, 2)) + '</pre>' +
      '<h2>Recent events</h2><pre id="events">' + (data.events.slice().reverse().map((e) => new Date(e.at).toLocaleTimeString() + (e.internal ? '  (internal) ' : '  ') + text(JSON.stringify(e.event))).join('\\n') || '—') + '</pre>';
  }

  let pendingEvent = '';
  /** The last action's answer: kept across the panel's redraws. */
  let actionNote = { text: '', cls: 'muted' };
  $('#sessions').addEventListener('click', (event) => {
    const header = event.target.closest('th.sortable');
    if (header) {
      sortKey = sortKey === header.dataset.key ? null : header.dataset.key;
      document.querySelectorAll('th.sortable').forEach((th) => th.classList.toggle('sorted', th.dataset.key === sortKey));
      renderPage({ rows: lastRows, total, offset });
      return;
    }
    const row = event.target.closest('tr.session');
    if (row) select(row.dataset.id);
  });
  $('#detail').addEventListener('input', (event) => { if (event.target.id === 'event-json') pendingEvent = event.target.value; });
  $('#detail').addEventListener('click', (event) => {
    const button = event.target.closest('button[data-action]');
    if (!button || !selected) return;
    const action = button.dataset.action;
    let payload;
    if (action === 'send') {
      try { payload = JSON.parse(pendingEvent || 'null'); } catch (error) { $('#action-result').textContent = 'not JSON: ' + error.message; $('#action-result').className = 'failed'; return; }
    }
    socket.send(JSON.stringify({ type: 'action', action, id: selected, event: payload }));
  });
  $('#prev').onclick = () => { offset = Math.max(0, offset - PAGE); request(); };
  $('#next').onclick = () => { if (offset + PAGE < total) offset += PAGE; request(); };
  $('#search').oninput = () => { offset = 0; request(); };
  $('#status').onchange = () => { offset = 0; request(); };
</script>
</body>
</html>
`;
