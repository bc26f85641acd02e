/* The /services page: a live table of the orchestrator's services. Status arrives over
 * Server-Sent Events, actions are POSTs. Every string from the API or from a service's
 * output goes into the DOM as text (textContent or an attribute), never as HTML.
 * With more than one robot (GET /api/robots), a picker and an overview choose whose
 * services are shown; every request then carries ?robot=NAME. */
'use strict';

const API = '/api/services';
const HISTORY = 60;            // sparkline points kept per service
const LOG_LINES = 200;
const LOG_POLL_MS = 1000;
const STALE_MS = 4500;         // no status frame for this long: ask /api/health
const RECONNECT_MS = 3000;
const MAX_TRANSITIONS = 40;
const TOKEN_KEY = 'omega.apiToken';
const SVG_NS = 'http://www.w3.org/2000/svg';
const STREAMS = ['stdout', 'stderr'];
const ROBOTS_MS = 5000;        // the robots' overview refreshes this often (tab visible only)
const COUNTS = ['running', 'unhealthy', 'failed', 'total'];   // a robot's services, counted

/* Which buttons make sense in which state (see core/machine.py). */
const ALLOWED = {
  start: new Set(['stopped', 'exited', 'crashed', 'failed', 'backoff', 'cooldown']),
  stop: new Set(['starting', 'running', 'backoff', 'cooldown', 'waiting']),
  restart: new Set(['starting', 'running', 'exited', 'crashed', 'failed', 'backoff', 'cooldown']),
};

const state = {
  services: new Map(),   // name -> latest service object
  rows: new Map(),       // name -> the row's DOM nodes
  history: new Map(),    // name -> {cpu: number[], mem: number[]}
  busy: new Set(),       // services with a request in flight
  filter: '',
  loaded: false,
  loadError: '',
  lastStatus: Date.now(),
  lastCheck: 0,
  source: null,
  reconnectTimer: 0,
  tokenPrompt: null,
  gen: 0,                // +1 when another robot is chosen: late answers for it are dropped
  robot: null,           // the chosen robot; null: the sidecar's local one (no ?robot=)
  fleet: {robots: null, local: '', supported: true, busy: false, cards: new Map(), at: 0},
  logs: {name: null, stream: 'stdout', gen: 0, timer: 0, follow: {stdout: true, stderr: true}},
};

const $ = (id) => document.getElementById(id);

/* ---------- DOM helpers ---------- */

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'text') node.textContent = value;
    else if (key === 'class') node.className = value;
    else if (key === 'onclick') node.addEventListener('click', value);
    else node.setAttribute(key, value);
  }
  node.append(...children);   // strings become text nodes
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

function setText(node, text) {
  const value = String(text);
  if (node.textContent !== value) node.textContent = value;
}

function label(name) {
  const service = state.services.get(name);
  return (service && service.display_name) || name;
}

/* ---------- formatting ---------- */

function fmtUptime(sec) {
  const s = Math.floor(sec || 0);
  const [d, h, m] = [Math.floor(s / 86400), Math.floor(s / 3600) % 24, Math.floor(s / 60) % 60];
  const pad = (n) => String(n).padStart(2, '0');
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${pad(m)}m`;
  return m ? `${m}m ${pad(s % 60)}s` : `${s}s`;
}

function fmtMemory(mb) {
  return mb >= 1024 ? `${(mb / 1024).toFixed(2)} GB` : `${mb.toFixed(1)} MB`;
}

function fmtExit(code, signal) {
  if (signal) return `signal ${signal}`;
  return code === null || code === undefined ? '' : `exit code ${code}`;
}

function statusNote(s) {
  if (['backoff', 'cooldown', 'failed'].includes(s.status) && s.next_restart) {
    const wait = Math.max(0, Math.ceil((Date.parse(s.next_restart) - Date.now()) / 1000));
    return `restart in ${wait} s`;
  }
  if (s.status === 'waiting') return s.message || 'waiting for its dependencies';
  return ['crashed', 'failed', 'exited'].includes(s.status)
    ? fmtExit(s.last_exit_code, s.last_exit_signal) : '';
}

/* ---------- sparklines ---------- */

function sparkline(what) {
  const node = svg('svg', {class: 'spark', viewBox: `0 0 ${HISTORY - 1} 20`, 'data-what': what,
    preserveAspectRatio: 'none', 'aria-hidden': 'true', focusable: 'false'});
  node.append(svg('polygon', {class: 'spark-area'}), svg('polyline', {class: 'spark-line'}));
  return node;
}

function drawSparkline(node, values, floor) {
  const top = Math.max(floor, ...values) * 1.25;   // headroom: a flat line is not the edge
  const offset = HISTORY - values.length;         // the newest point is always on the right
  const points = values.map((v, i) => `${offset + i},${(19 - (v / top) * 17).toFixed(2)}`);
  const [area, line] = node.children;
  line.setAttribute('points', points.join(' '));
  area.setAttribute('points', points.length
    ? `${offset},20 ${points.join(' ')} ${HISTORY - 1},20` : '');
}

function record(s) {
  const history = state.history.get(s.name) || {cpu: [], mem: []};
  history.cpu.push(s.pid ? s.cpu_percent : 0);
  history.mem.push(s.pid ? s.memory_mb : 0);
  for (const values of [history.cpu, history.mem]) values.splice(0, values.length - HISTORY);
  state.history.set(s.name, history);
}

/* ---------- the table ---------- */

function createRow(name) {
  const cell = (cls, title, children = []) =>
    el('td', {class: cls, 'data-label': title}, children);
  const action = (verb, run) => el('button', {class: `btn btn-${verb.toLowerCase()}`,
    type: 'button', text: verb, onclick: run});
  const row = {
    title: el('span', {class: 'svc-title'}),
    badge: el('span', {class: 'badge'}),
    note: el('span', {class: 'status-note'}),
    tags: el('span', {class: 'tags'}),
    health: el('span', {class: 'health', role: 'img'}),
    pid: cell('num pid', 'PID'),
    cpu: el('span', {class: 'metric-value'}),
    mem: el('span', {class: 'metric-value'}),
    cpuSpark: sparkline('cpu'),
    memSpark: sparkline('mem'),
    restarts: cell('num restarts', 'Restarts'),
    uptime: cell('num uptime', 'Uptime'),
    start: action('Start', () => control('start', name)),
    stop: action('Stop', () => control('stop', name)),
    restart: action('Restart', () => control('restart', name)),
    logs: action('Logs', () => toggleLogs(name)),
    maintain: action('Maint.', () => setMaintenance(name)),
  };
  row.head = el('th', {scope: 'row', class: 'svc', 'data-label': 'Service'},
    [row.title, el('span', {class: 'svc-name', text: name})]);
  row.tr = el('tr', {'data-service': name}, [
    row.head,
    cell('status', 'Status', [row.badge, row.note, row.tags]),
    cell('health-cell', 'Health', [row.health]),
    row.pid,
    cell('metric', 'CPU', [row.cpu, row.cpuSpark]),
    cell('metric', 'Memory', [row.mem, row.memSpark]),
    row.restarts, row.uptime,
    cell('actions', 'Actions',
      [el('div', {class: 'action-group'},
        [row.start, row.stop, row.restart, row.logs, row.maintain])]),
  ]);
  row.onScreen = !onScreen;          // without the observer: every row redraws
  if (onScreen) onScreen.observe(row.tr);
  state.rows.set(name, row);
  return row;
}

function updateHealth(node, s) {
  // no health object: the service has no check (shown as a dash, as the original page did)
  const health = s.health || {};
  const kind = !s.health ? 'none'
    : health.healthy ? 'ok' : ['running', 'starting'].includes(s.status) ? 'bad' : 'none';
  const word = !s.health ? 'No health check'
    : {ok: 'Healthy', bad: 'Unhealthy', none: 'Not checked'}[kind];
  node.dataset.health = kind;
  setText(node, {ok: '✓', bad: '✕', none: '–'}[kind]);
  node.title = health.message || word;
  node.setAttribute('aria-label', health.message ? `${word}: ${health.message}` : word);
}

function updateRow(row, s) {
  const shown = s.display_name || s.name;
  const busy = state.busy.has(s.name);
  const selected = state.logs.name === s.name;
  const history = state.history.get(s.name) || {cpu: [], mem: []};
  setText(row.title, shown);
  row.head.title = s.description || '';
  // a SIGSTOPped process is alive but does nothing: say so, whatever the state machine says
  const shownState = s.status === 'running' && s.paused ? 'paused' : s.status;
  setText(row.badge, shownState);
  row.badge.dataset.state = shownState;
  row.badge.title = s.paused ? 'stopped by a signal (SIGSTOP): alive, not running'
    : s.message || s.status;
  setText(row.note, statusNote(s));
  updateTags(row.tags, s);
  updateHealth(row.health, s);
  setText(row.pid, s.pid ?? '—');
  setText(row.cpu, s.pid ? `${s.cpu_percent.toFixed(1)}%` : '—');
  setText(row.mem, s.pid ? fmtMemory(s.memory_mb) : '—');
  drawSparkline(row.cpuSpark, history.cpu, 10);
  drawSparkline(row.memSpark, history.mem, 1);
  setText(row.restarts, s.restart_count);
  row.restarts.title = `${s.crash_count} crash(es)`;
  setText(row.uptime, s.status === 'running' ? fmtUptime(uptimeOf(s)) : '—');
  const readOnly = !writable();
  for (const action of ['start', 'stop', 'restart']) {
    row[action].disabled = busy || readOnly || !ALLOWED[action].has(s.status);
    row[action].setAttribute('aria-label', `${row[action].textContent} ${shown}`);
  }
  row.logs.setAttribute('aria-label', `Logs of ${shown}`);
  row.maintain.disabled = busy || readOnly;
  row.maintain.setAttribute('aria-pressed', String(Boolean(s.maintenance)));
  row.maintain.title = s.maintenance ? 'Maintenance: resume supervision'
    : 'Maintenance: pause supervision (no automatic restart)';
  row.maintain.setAttribute('aria-label', s.maintenance
    ? `Resume the supervision of ${shown}` : `Pause the supervision of ${shown} (maintenance)`);
  row.logs.setAttribute('aria-pressed', String(selected));
  row.tr.classList.toggle('selected', selected);
  row.tr.classList.toggle('busy', busy);
  row.tr.hidden = !matchesFilter(s);
}

/* Small labels beside the state: maintenance, a managed node's lifecycle state, the group. */
function updateTags(node, s) {
  const tags = [];
  if (s.maintenance) tags.push(['maintenance', 'maintenance',
    'supervision paused: no automatic restart; probes and limits are not acted on']);
  if (s.lifecycle_state) tags.push(['lifecycle', `lifecycle: ${s.lifecycle_state}`,
    'the managed node\'s lifecycle state']);
  if (s.limit_warning) tags.push(['limit', 'over limit', s.limit_warning]);
  if (s.group) tags.push(['group', s.group, `group ${s.group}`]);
  showTags(node, tags);
}

/** Small labels, [kind, text, title] each; rebuilt only when they change. */
function showTags(node, tags) {
  const key = JSON.stringify(tags);
  if (node.dataset.key === key) return;
  node.dataset.key = key;
  node.replaceChildren(...tags.map(([kind, text, title]) =>
    el('span', {class: 'tag', 'data-kind': kind, text, title})));
}

function refreshRow(name) {
  const row = state.rows.get(name);
  const service = state.services.get(name);
  if (row && service) updateRow(row, service);
}

function matchesFilter(s) {
  const f = state.filter;
  return !f || [s.name, s.display_name, s.status, s.group]
    .some((v) => (v || '').toLowerCase().includes(f));
}

function applyServices(list) {
  const body = $('rows');
  const seen = new Set(list.map((s) => s.name));
  for (const [name, row] of state.rows) {
    if (seen.has(name)) continue;
    row.tr.remove();
    if (onScreen) onScreen.unobserve(row.tr);
    for (const map of [state.rows, state.services, state.history]) map.delete(name);
    if (state.logs.name === name) closeLogs();
  }
  const now = Date.now();
  list.forEach((s, index) => {
    s.receivedAt = now;
    state.services.set(s.name, s);
    if (!state.history.has(s.name)) record(s);    // then once a second: tickUptimes
    const row = state.rows.get(s.name) || createRow(s.name);
    updateRow(row, s);
    if (body.children[index] !== row.tr) body.insertBefore(row.tr, body.children[index] || null);
  });
  state.loaded = true;
  updateGroups(list);
  updateTableState();
}

/** A partial status frame: only the services that changed (a new one comes with a whole
 * frame, which the sidecar sends when the set of services changes). */
function applyChanges(list) {
  if (!state.loaded) return;
  const now = Date.now();
  for (const s of list) {
    const row = state.rows.get(s.name);
    if (!row) continue;
    s.receivedAt = now;
    state.services.set(s.name, s);
    updateRow(row, s);
  }
  updateGroups([...state.services.values()]);
  updateTableState();
}

/** Seconds a running service has been up now: its uptime when its status came, plus since. */
function uptimeOf(s) {
  return s.uptime_sec + Math.max(0, Date.now() - (s.receivedAt || Date.now())) / 1000;
}

/** Once a second: every service's CPU and memory join its history (a status frame carries
 * only what changed, so frames are no clock), the rows on screen redraw their sparklines,
 * and uptimes move on. */
function tickUptimes() {
  for (const [name, s] of state.services) {
    const row = state.rows.get(name);
    record(s);
    if (!row) continue;
    if (s.status === 'running') setText(row.uptime, fmtUptime(uptimeOf(s)));
    if (row.onScreen) {
      const history = state.history.get(name);
      drawSparkline(row.cpuSpark, history.cpu, 10);
      drawSparkline(row.memSpark, history.mem, 1);
    }
  }
}

/* Which rows are on screen: only those redraw their sparklines every second. */
const onScreen = 'IntersectionObserver' in window ? new IntersectionObserver((entries) => {
  for (const entry of entries) {
    const row = state.rows.get(entry.target.dataset.service);
    if (row) row.onScreen = entry.isIntersecting;
  }
}) : null;

/* One bar per registry group: start, stop or restart all of its services in one call. */
function updateGroups(list) {
  const groups = [...new Set(list.map((s) => s.group).filter(Boolean))];
  const bar = $('groups');
  const key = JSON.stringify([groups, writable()]);
  if (bar.dataset.key === key) return;
  bar.dataset.key = key;
  bar.hidden = !groups.length;
  bar.replaceChildren(...groups.map((group) => el('div', {class: 'group', 'data-group': group}, [
    el('span', {class: 'group-name', text: group}),
    ...['start', 'stop', 'restart'].map((action) => el('button', {
      class: `btn btn-${action}`, type: 'button', text: action[0].toUpperCase() + action.slice(1),
      'aria-label': `${action} group ${group}`, onclick: () => groupAction(group, action),
      ...(writable() ? {} : {disabled: ''})})),
  ])));
}

async function groupAction(group, action) {
  const shown = whose(group);
  if (action === 'stop' && !window.confirm(`Stop every service of group “${shown}”?`)) return;
  try {
    const body = await authorized('POST',
      withRobot(`${API}/group/${encodeURIComponent(group)}/${action}`));
    if (body) toast(`${whose(body.message)}: ${body.services.join(', ')}`, 'ok');
  } catch (err) {
    toast(`Could not ${action} group ${shown}: ${err.message}`, 'error');
  }
}

async function setMaintenance(name) {
  const on = !(state.services.get(name) || {}).maintenance;
  const [gen, shown] = [state.gen, whose(label(name))];
  state.busy.add(name);
  refreshRow(name);
  try {
    const body = await authorized('POST',
      withRobot(`${API}/maintenance/${encodeURIComponent(name)}?enabled=${on}`));
    if (body) toast(`${shown}: ${body.message}`, 'ok');
  } catch (err) {
    toast(`Could not change the maintenance of ${shown}: ${err.message}`, 'error');
  } finally {
    if (gen === state.gen) {
      state.busy.delete(name);
      refreshRow(name);
    }
  }
}

function updateTableState() {
  const all = [...state.services.values()];
  const visible = all.filter(matchesFilter).length;
  let [kind, text] = ['', ''];
  if (!state.loaded && state.loadError) [kind, text] = ['error', state.loadError];
  else if (!state.loaded) [kind, text] = ['loading', 'Loading services…'];
  else if (!all.length) [kind, text] = ['empty', 'No services are configured in the registry.'];
  else if (!visible) [kind, text] = ['empty', `No service matches “${state.filter}”.`];
  const node = $('table-state');
  node.hidden = !kind;
  node.dataset.kind = kind;
  setText(node, text);
  $('services').classList.toggle('is-empty', !visible);
  const running = all.filter((s) => s.status === 'running').length;
  const trouble = all.filter((s) => ['crashed', 'failed', 'backoff'].includes(s.status)).length;
  const attention = trouble ? ` · ${trouble} need attention` : '';
  const summary = `${all.length} services · ${running} running${attention}`;
  setText($('summary'), state.loaded ? summary : '');
}

/* ---------- requests ---------- */

async function request(method, path, {quiet = false} = {}) {
  const headers = {Accept: 'application/json'};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token && method !== 'GET') headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(path, {method, headers, cache: 'no-store'});
  } catch (err) {
    throw Object.assign(new Error('the sidecar did not answer'), {status: 0});
  }
  const body = await response.json().catch(() => null);
  if (response.ok && body && body.ok !== false) return body;
  // errors have the original's shape: `error` in words, `error_code` for programs
  const message = (body && (body.error || body.message || body.detail)) || `HTTP ${response.status}`;
  if (response.status === 503 && !quiet) showBanner('Orchestrator unreachable.', message);
  throw Object.assign(new Error(message), {status: response.status, code: body && body.error_code});
}

/** A request that asks for the API token on 401 and retries; null if the user cancels. */
async function authorized(method, path) {
  for (;;) {
    try {
      return await request(method, path);
    } catch (err) {
      if (err.status !== 401) throw err;
      const refused = Boolean(sessionStorage.getItem(TOKEN_KEY));
      sessionStorage.removeItem(TOKEN_KEY);
      const token = await askToken(refused);
      if (token) sessionStorage.setItem(TOKEN_KEY, token);
      updateTokenButton();
      if (!token) return null;
    }
  }
}

function askToken(refused) {
  if (state.tokenPrompt) return state.tokenPrompt;   // one dialog for concurrent requests
  const dialog = $('token-dialog');
  const input = $('token-input');
  setText($('token-hint'), refused ? 'That token was refused. Enter the correct API token.'
    : 'This sidecar needs a token to start, stop or restart services. '
      + 'It is kept for this browser tab only.');
  input.value = '';
  dialog.returnValue = '';
  dialog.showModal();
  input.focus();
  state.tokenPrompt = new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      state.tokenPrompt = null;
      resolve(dialog.returnValue === 'ok' ? input.value.trim() : '');
    }, {once: true});
  });
  return state.tokenPrompt;
}

function updateTokenButton() {
  $('forget-token').hidden = !sessionStorage.getItem(TOKEN_KEY);
}

async function control(action, name) {
  const [gen, shown] = [state.gen, whose(label(name))];
  const question = `Stop “${shown}”?\n\nIt stays stopped until someone starts it.`;
  if (action === 'stop' && !window.confirm(question)) return;
  state.busy.add(name);
  refreshRow(name);
  try {
    const body = await authorized('POST',
      withRobot(`${API}/${action}/${encodeURIComponent(name)}`));
    if (body) toast(`${shown}: ${body.message || `${action} accepted`}`, 'ok');
    else toast(`${shown}: ${action} cancelled, no token given.`, 'info');
  } catch (err) {
    toast(`Could not ${action} ${shown}: ${err.message}`, 'error');
  } finally {
    if (gen === state.gen) {
      state.busy.delete(name);
      refreshRow(name);
    }
  }
}

/* ---------- live updates and the unreachable banner ---------- */

function setConnection(kind, text) {
  $('connection').dataset.state = kind;
  setText($('connection-text'), text);
}

/** The banner (and dimmed table) while data may be stale; showBanner(null) hides it. */
function showBanner(title, text = '') {
  $('banner').hidden = !title;
  document.body.classList.toggle('stale', Boolean(title));
  if (!title) return;
  const robot = title.startsWith('Orchestrator') && fleetShown()
    ? `Robot ${currentRobot()}: ` : '';
  setText($('banner').querySelector('strong'), title);
  setText($('banner-text'), robot + text);
  if (title.startsWith('Orchestrator')) setConnection('down', 'Orchestrator unreachable');
}

function listen(source, kind, handle) {
  source.addEventListener(kind, (event) => {
    let data = null;
    try {
      data = JSON.parse(event.data);
    } catch (err) {
      return;
    }
    if (data && state.source === source) handle(data);
  });
}

function connect() {
  clearTimeout(state.reconnectTimer);
  if (state.source) state.source.close();
  const source = new EventSource(withRobot(`${API}/events`));
  state.source = source;
  setConnection('connecting', 'Connecting…');
  listen(source, 'status', (data) => {
    if (!Array.isArray(data.services)) return;
    state.lastStatus = Date.now();
    showBanner(null);
    setConnection('live', 'Live');
    if (data.partial) applyChanges(data.services);
    else applyServices(data.services);
  });
  listen(source, 'alive', () => {        // nothing changed; the orchestrator is there
    state.lastStatus = Date.now();
    showBanner(null);
    setConnection('live', 'Live');
  });
  listen(source, 'transition', addTransition);
  listen(source, 'unreachable', (data) => showBanner('Orchestrator unreachable.',
    data.message || 'The orchestrator is not there.'));
  source.addEventListener('error', () => {
    if (state.source !== source) return;
    setConnection('down', 'Reconnecting…');
    if (robotUnknown()) showUnknownRobot();
    else showBanner('Connection lost.',
      'The live stream from the sidecar dropped; reconnecting…');
    // EventSource retries by itself, unless the answer was not an event stream at all
    if (source.readyState === EventSource.CLOSED) {
      state.reconnectTimer = setTimeout(connect, RECONNECT_MS);
    }
  });
}

/** No status frame for a while: is the orchestrator gone, or only our stream? */
async function watchdog() {
  const now = Date.now();
  if (now - state.lastStatus < STALE_MS || now - state.lastCheck < 2000) return;
  state.lastCheck = now;
  const gen = state.gen;
  try {
    const health = await request('GET', withRobot('/api/health'));
    if (gen !== state.gen) return;     // another robot was chosen meanwhile
    const silent = Math.round((Date.now() - state.lastStatus) / 1000);
    if (!health.orchestrator_reachable) {
      showBanner('Orchestrator unreachable.',
        `No status from the orchestrator for ${silent} s; what is shown may be stale.`);
    } else if (silent * 1000 > 3 * STALE_MS) {
      state.lastStatus = Date.now();
      connect();   // the orchestrator is fine but our stream is silent
    }
  } catch (err) {
    // 503: request() showed the orchestrator's banner; 404: an unknown robot (see pollRobots)
    if (gen !== state.gen || err.status === 503 || (err.status === 404 && state.robot)) return;
    showBanner('Sidecar unreachable.', `The page cannot reach its server: ${err.message}.`);
  }
}

async function loadList() {
  const gen = state.gen;
  try {
    const body = await request('GET', withRobot(`${API}/list`));
    if (gen === state.gen && !state.loaded) applyServices(body.services);
  } catch (err) {
    if (gen !== state.gen) return;
    state.loadError = `Could not load the services: ${err.message}`;
    if (!state.loaded) updateTableState();
  }
}

/* ---------- transitions and toasts ---------- */

function addTransition(t) {
  const now = Date.now();
  const badge = (status) => el('span', {class: 'badge', 'data-state': status, text: status});
  const exit = fmtExit(t.exit_code, t.exit_signal);
  const reason = t.reason || exit;   // the orchestrator's reason already tells how it exited
  const item = el('li', {class: 'transition', 'data-to': t.to || ''}, [
    el('time', {datetime: t.stamp || '', text: new Date(t.stamp || now).toLocaleTimeString()}),
    el('span', {class: 'transition-svc', text: label(t.service)}),
    el('span', {class: 'transition-states'}, [badge(t.from), ' → ', badge(t.to)]),
    el('span', {class: 'transition-reason', text: reason}),
  ]);
  if (Array.isArray(t.stderr_tail) && t.stderr_tail.length) {
    item.append(el('details', {class: 'transition-tail'}, [
      el('summary', {text: 'last stderr lines'}),
      el('pre', {text: t.stderr_tail.join('\n')}),
    ]));
  }
  const list = $('transitions');
  list.prepend(item);
  while (list.children.length > MAX_TRANSITIONS) list.lastElementChild.remove();
  $('transitions-empty').hidden = true;
  if (t.to === 'crashed' || t.to === 'failed') {
    toast(`${label(t.service)} ${t.to}: ${reason}`, 'error');
  }
}

function toast(text, kind = 'info') {
  const box = $('toasts');
  const role = kind === 'error' ? 'alert' : 'status';
  const item = el('div', {class: `toast toast-${kind}`, role}, [el('span', {text}),
    el('button', {class: 'toast-close', type: 'button', 'aria-label': 'Dismiss', text: '×',
      onclick: () => item.remove()})]);
  box.append(item);
  while (box.children.length > 4) box.firstElementChild.remove();
  setTimeout(() => item.remove(), kind === 'error' ? 9000 : 5000);
}

/* ---------- the log panel ---------- */

function toggleLogs(name) {
  if (state.logs.name === name) closeLogs();
  else openLogs(name);
}

function openLogs(name) {
  const logs = state.logs;
  const previous = logs.name;
  Object.assign(logs, {name, gen: logs.gen + 1, follow: {stdout: true, stderr: true}});
  setText($('log-service'), label(name));
  for (const stream of STREAMS) {
    setText($(`log-${stream}`), '');
    setText($(`count-${stream}`), '0');
  }
  setText($('log-status'), 'loading…');
  $('log-panel').hidden = false;
  refreshRow(previous);
  refreshRow(name);
  pollLogs(logs.gen);
  $('log-panel').scrollIntoView({block: 'nearest'});
}

function closeLogs() {
  const previous = state.logs.name;
  state.logs.name = null;
  state.logs.gen += 1;
  clearTimeout(state.logs.timer);
  $('log-panel').hidden = true;
  refreshRow(previous);
}

/** Reads the logs every second while the panel shows the same service (same gen). */
async function pollLogs(gen) {
  const logs = state.logs;
  try {
    // logs may be guarded by the token too (--token-for-logs): ask for it once, like writes
    const body = await authorized('GET',
      withRobot(`${API}/logs/${encodeURIComponent(logs.name)}?lines=${LOG_LINES}`));
    if (gen !== logs.gen || body === null) return;
    STREAMS.forEach((stream) => showLog(stream, body.logs[stream]));
    setText($('log-status'), logs.follow[logs.stream]
      ? `following · ${new Date().toLocaleTimeString()}` : 'paused: scroll to the end to follow');
  } catch (err) {
    if (gen !== logs.gen) return;
    setText($('log-status'), `could not read the logs: ${err.message}`);
  }
  logs.timer = setTimeout(() => pollLogs(gen), LOG_POLL_MS);
}

function showLog(stream, lines) {
  const pre = $(`log-${stream}`);
  setText($(`count-${stream}`), lines.length);
  setText(pre, lines.join('\n'));
  if (state.logs.follow[stream]) pre.scrollTop = pre.scrollHeight;
}

function selectStream(stream) {
  state.logs.stream = stream;
  for (const other of STREAMS) {
    const chosen = other === stream;
    $(`tab-${other}`).setAttribute('aria-selected', String(chosen));
    $(`tab-${other}`).tabIndex = chosen ? 0 : -1;
    $(`log-${other}`).hidden = !chosen;
  }
  const pre = $(`log-${stream}`);
  if (state.logs.follow[stream]) pre.scrollTop = pre.scrollHeight;
}

/* ---------- robots: the picker and the overview ---------- */

/** The robot whose services are shown (its name; '' while the sidecar has not said). */
function currentRobot() {
  return state.robot || state.fleet.local;
}

/** The chosen robot's entry in the last GET /api/robots (undefined if it is not there). */
function robotEntry() {
  return (state.fleet.robots || []).find((r) => r.name === currentRobot());
}

/** A robot named in the address that the sidecar does not know (yet). */
function robotUnknown() {
  return Boolean(state.robot && state.fleet.robots && !robotEntry());
}

/** Several robots known (or one chosen that is not): the picker and the overview show. */
function fleetShown() {
  const robots = state.fleet.robots;
  return Boolean(robots && (robots.length > 1 || robotUnknown()));
}

/** A path for the chosen robot: `?robot=NAME` once one was chosen, else as it is. */
function withRobot(path) {
  if (!state.robot) return path;
  return `${path}${path.includes('?') ? '&' : '?'}robot=${encodeURIComponent(state.robot)}`;
}

/** Text naming a service or group, with its robot in front when there are several. */
function whose(text) {
  return fleetShown() ? `${currentRobot()} · ${text}` : text;
}

/** May this page write to the shown robot? Only an explicit `writable: false` says no. */
function writable() {
  const robot = robotEntry();
  return !robot || robot.writable !== false;
}

function showUnknownRobot() {
  const known = state.fleet.robots.map((r) => r.name).join(', ') || 'none';
  showBanner('Unknown robot.', `This sidecar knows no robot named “${state.robot}” `
    + `(known: ${known}); it is shown as soon as it is found. Pick another robot above.`);
}

function fmtClock(date) {
  const pad = (n) => String(n).padStart(2, '0');
  const clock = `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  if (Date.now() - date.getTime() < 86400e3) return clock;
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${clock}`;
}

/** "reachable", or "unreachable, last seen 23:20:01 (12 s ago)" counted on from the poll. */
function reachText(r) {
  if (r.reachable) return 'reachable';
  const seen = r.last_seen ? new Date(r.last_seen) : null;
  if (!seen || Number.isNaN(seen.getTime())) return 'unreachable, never seen';
  const since = typeof r.seen_ago_sec === 'number' ? r.seen_ago_sec * 1000
    : state.fleet.at - seen.getTime();        // the sidecar's count, else our clock
  const ago = Math.max(0, Math.round((since + Date.now() - state.fleet.at) / 1000));
  const shown = ago < 120 ? `${ago} s` : fmtUptime(ago);
  return `unreachable, last seen ${fmtClock(seen)} (${shown} ago)`;
}

function createCard(name) {
  const counts = Object.fromEntries(COUNTS.map((what) =>
    [what, el('span', {class: 'robot-count', 'data-count': what})]));
  const card = {
    node: el('button', {class: 'robot', type: 'button', 'data-robot': name,
      onclick: () => selectRobot(name)}),
    tags: el('span', {class: 'tags'}),
    reach: el('span', {class: 'robot-reach'}),
    counts,
  };
  card.node.append(
    el('span', {class: 'robot-head'}, [el('span', {class: 'robot-name', text: name}), card.tags]),
    card.reach,
    el('span', {class: 'robot-counts'}, COUNTS.map((what) =>
      el('span', {class: 'robot-stat', 'data-stat': what}, [counts[what], ` ${what}`]))));
  state.fleet.cards.set(name, card);
  return card;
}

function updateCard(card, r) {
  const services = r.services || {};
  card.node.dataset.reachable = String(Boolean(r.reachable));
  card.node.setAttribute('aria-pressed', String(r.name === currentRobot()));
  card.node.title = `Show ${r.name}${r.orchestrator ? ` (${r.orchestrator})` : ''}`;
  showTags(card.tags, [
    ...(r.local ? [['local', 'local', 'the robot this sidecar runs on']] : []),
    ...(r.writable === false ? [['read-only', 'read-only', 'this page may not change it']] : []),
  ]);
  setText(card.reach, reachText(r));
  card.reach.title = r.last_seen || '';
  for (const what of COUNTS) {
    const value = Number(services[what]) || 0;
    setText(card.counts[what], value);
    card.counts[what].parentNode.dataset.some = String(value > 0);
  }
}

/** The picker: one option per robot (and the chosen one if unknown), rebuilt on change. */
function updatePicker(robots) {
  const select = $('robot-select');
  const options = robots.map((r) => [r.name,
    `${r.name}${r.local ? ' (local)' : ''}${r.reachable ? '' : ' · unreachable'}`]);
  if (robotUnknown()) options.push([state.robot, `${state.robot} · unknown`]);
  const key = JSON.stringify(options);
  if (select.dataset.key !== key) {
    select.dataset.key = key;
    select.replaceChildren(...options.map(([value, text]) => new Option(text, value)));
  }
  select.value = currentRobot();
}

/** The overview: one card per robot, in the sidecar's order, updated in place. */
function updateOverview(robots) {
  const {cards} = state.fleet;
  const box = $('robots');
  const names = new Set(robots.map((r) => r.name));
  for (const [name, card] of cards) {
    if (names.has(name)) continue;
    card.node.remove();
    cards.delete(name);
  }
  robots.forEach((r, index) => {
    const card = cards.get(r.name) || createCard(r.name);
    updateCard(card, r);
    const there = box.children[index];
    if (there !== card.node) box.insertBefore(card.node, there || null);
  });
  const down = robots.filter((r) => !r.reachable).length;
  setText($('fleet-summary'),
    `${robots.length} robots · ${down ? `${down} unreachable` : 'all reachable'}`);
}

/** The answer of GET /api/robots: picker, overview, and the chosen robot's name shown. */
function applyRobots(body) {
  const fleet = state.fleet;
  const [wasWritable, wasUnknown] = [writable(), robotUnknown()];
  fleet.robots = Array.isArray(body.robots) ? body.robots : [];
  Object.assign(fleet, {local: body.local || '', at: Date.now()});
  if (wasUnknown && !robotUnknown()) {         // found at last: load it anew
    selectRobot(state.robot, true);
    return;
  }
  if (robotUnknown()) showUnknownRobot();
  const shown = fleetShown();
  for (const id of ['robot-picker', 'fleet', 'services-robot']) $(id).hidden = !shown;
  setText($('services-robot'), shown ? ` · ${currentRobot()}` : '');
  document.title = shown ? `Services · ${currentRobot()} · Omega Orchestrator`
    : 'Services · Omega Orchestrator';
  if (wasWritable !== writable()) {
    state.rows.forEach((row, name) => refreshRow(name));
    updateGroups([...state.services.values()]);
  }
  if (!shown) return;
  updatePicker(fleet.robots);
  updateOverview(fleet.robots);
}

/** Every ROBOTS_MS while the tab is visible, and at once when it becomes visible again. */
async function pollRobots() {
  const fleet = state.fleet;
  if (!fleet.supported || fleet.busy || document.hidden) return;
  fleet.busy = true;
  try {
    applyRobots(await request('GET', '/api/robots', {quiet: true}));
  } catch (err) {
    // an older sidecar: one robot, which ignores ?robot=; no picker, no overview, no asking
    if (err.status === 404 && !fleet.robots) {
      fleet.supported = false;
      if (state.robot) selectRobot(null, true);
    }
  } finally {
    fleet.busy = false;
  }
}

/** Once a second: the "N s ago" of unreachable robots counts on between polls. */
function tickRobots() {
  if (!fleetShown()) return;
  for (const r of state.fleet.robots) {
    const card = state.fleet.cards.get(r.name);
    if (card && !r.reachable) setText(card.reach, reachText(r));
  }
}

/** Show another robot: its list, its event stream, its logs and writes; the URL keeps it. */
function selectRobot(name, force = false) {
  if (!force && (name || '') === currentRobot()) return;
  state.robot = name || null;
  const url = new URL(window.location.href);
  if (state.robot) url.searchParams.set('robot', state.robot);
  else url.searchParams.delete('robot');
  window.history.replaceState(window.history.state, '', url);
  clearTable();
  if (state.fleet.robots) applyRobots({robots: state.fleet.robots, local: state.fleet.local});
  loadList();
  connect();
}

/** Forget the shown robot's services, logs and transitions (another robot comes). */
function clearTable() {
  state.gen += 1;
  closeLogs();
  for (const row of state.rows.values()) {
    row.tr.remove();
    if (onScreen) onScreen.unobserve(row.tr);
  }
  for (const map of [state.rows, state.services, state.history]) map.clear();
  state.busy.clear();
  Object.assign(state, {loaded: false, loadError: '', lastStatus: Date.now(), lastCheck: 0});
  $('transitions').replaceChildren();
  $('transitions-empty').hidden = false;
  showBanner(null);
  updateGroups([]);
  updateTableState();
}

/* ---------- start-up ---------- */

function init() {
  $('filter').addEventListener('input', (event) => {
    state.filter = event.target.value.trim().toLowerCase();
    state.rows.forEach((row, name) => {
      row.tr.hidden = !matchesFilter(state.services.get(name));
    });
    updateTableState();
  });
  $('log-close').addEventListener('click', closeLogs);
  for (const stream of STREAMS) {
    const other = STREAMS.find((s) => s !== stream);
    const pre = $(`log-${stream}`);
    $(`tab-${stream}`).addEventListener('click', () => selectStream(stream));
    $(`tab-${stream}`).addEventListener('keydown', (event) => {
      if (event.key !== 'ArrowLeft' && event.key !== 'ArrowRight') return;
      selectStream(other);
      $(`tab-${other}`).focus();
    });
    pre.addEventListener('scroll', () => {   // following stops while the user reads above
      const below = pre.scrollHeight - pre.scrollTop - pre.clientHeight;
      if (!pre.hidden) state.logs.follow[stream] = below < 24;
    });
  }
  $('token-cancel').addEventListener('click', () => $('token-dialog').close('cancel'));
  $('forget-token').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    updateTokenButton();
    toast('Token forgotten for this tab.', 'info');
  });
  $('robot-select').addEventListener('change', (event) => selectRobot(event.target.value));
  document.addEventListener('visibilitychange', pollRobots);
  state.robot = new URLSearchParams(window.location.search).get('robot') || null;
  updateTokenButton();
  selectStream('stdout');
  loadList();
  connect();
  pollRobots();
  setInterval(watchdog, 1000);
  setInterval(tickUptimes, 1000);
  setInterval(pollRobots, ROBOTS_MS);
  setInterval(tickRobots, 1000);
}

document.addEventListener('DOMContentLoaded', init);
