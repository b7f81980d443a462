/**
 * The only script of the UI (~100 lines, no framework), served from memory at /assets/app.js.
 * - `[data-live]`: opens an EventSource; `swap` events carry `{ elementId: html }` fragments that
 *   replace the children of those elements (open `<details>` stay open).
 * - `[data-follow]`: follows a task log over the API's SSE log stream and appends new output.
 * - `form[data-confirm]`: asks before submitting (cancel, delete).
 * Pages work without it; it only makes them live.
 */
export const APP_JS = `(function () {
  'use strict';
  var indicator = document.getElementById('live-indicator');
  function setLive(state) {
    if (!indicator) return;
    indicator.className = 'live-dot ' + state;
    indicator.textContent = state === 'on' ? 'live' : state === 'off' ? 'reconnecting' : 'static';
  }
  function openDetails(root) {
    var ids = [];
    root.querySelectorAll('details[open][id]').forEach(function (d) { ids.push(d.id); });
    return ids;
  }
  function swap(fragments) {
    Object.keys(fragments).forEach(function (id) {
      var el = document.getElementById(id);
      if (!el) return;
      var open = openDetails(el);
      el.innerHTML = fragments[id];
      open.forEach(function (o) { var d = document.getElementById(o); if (d) d.open = true; });
    });
    var title = document.querySelector('[data-title]');
    if (title) {
      var prefix = (document.title.match(/^\\([^)]*\\) /) || [''])[0];
      document.title = prefix + title.getAttribute('data-title');
    }
  }
  document.querySelectorAll('[data-live]').forEach(function (el) {
    var es = new EventSource(el.getAttribute('data-live'));
    es.addEventListener('open', function () { setLive('on'); });
    es.addEventListener('error', function () { setLive('off'); });
    es.addEventListener('swap', function (ev) {
      try { swap(JSON.parse(ev.data)); } catch (e) { console.error(e); }
    });
    es.addEventListener('gone', function (ev) {
      es.close();
      setLive('static');
      var to = ev.data && JSON.parse(ev.data).redirect;
      if (to) window.location.assign(to);
    });
    window.addEventListener('pagehide', function () { es.close(); });
  });
  document.querySelectorAll('[data-follow]').forEach(function (pre) {
    var es = new EventSource(pre.getAttribute('data-follow'));
    var status = document.getElementById(pre.getAttribute('data-status') || '');
    function note(text) { if (status) status.textContent = text; }
    es.addEventListener('open', function () { note('following…'); setLive('on'); });
    es.addEventListener('chunk', function (ev) {
      var chunk = JSON.parse(ev.data);
      var atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
      if (chunk.content) {
        if (pre.getAttribute('data-empty') === '1') { pre.textContent = ''; pre.setAttribute('data-empty', '0'); }
        pre.appendChild(document.createTextNode(chunk.content));
      }
      if (chunk.note) note(chunk.note);
      if (atBottom) pre.scrollTop = pre.scrollHeight;
    });
    es.addEventListener('end', function (ev) {
      es.close();
      note('task ' + JSON.parse(ev.data).state + '; end of log');
      setLive('static');
    });
    es.addEventListener('error', function (ev) {
      if (ev.data) { try { note(JSON.parse(ev.data).message); } catch (e) { /* ignore */ } }
    });
    window.addEventListener('pagehide', function () { es.close(); });
  });
  document.addEventListener('submit', function (ev) {
    var form = ev.target;
    var msg = form && form.getAttribute && form.getAttribute('data-confirm');
    if (msg && !window.confirm(msg)) ev.preventDefault();
  }, true);
  var TITLE_PREFIX = /^\\([^)]*\\) /;
  function setTitleCounts(s) {
    var base = document.title.replace(TITLE_PREFIX, '');
    document.title = s.activeRuns > 0
      ? '(' + s.running + ' running, ' + s.waiting + ' waiting' + (s.failed ? ', ' + s.failed + ' failed' : '') + ') ' + base
      : base;
  }
  var toasts = document.querySelector('[data-notify]');
  var enable = document.getElementById('notify-enable');
  var canNotify = typeof window.Notification === 'function';
  if (enable && canNotify && Notification.permission === 'default') {
    enable.hidden = false;
    enable.addEventListener('click', function () {
      Notification.requestPermission().then(function () { enable.hidden = true; });
    });
  }
  function toast(n) {
    var el = document.createElement('div');
    el.className = 'toast ' + n.level;
    el.setAttribute('role', 'status');
    el.setAttribute('data-kind', n.kind);
    var close = document.createElement('button');
    close.type = 'button';
    close.className = 'close';
    close.textContent = '×';
    close.addEventListener('click', function () { el.remove(); });
    var a = document.createElement('a');
    a.href = n.url;
    a.textContent = n.title;
    var body = document.createElement('div');
    body.textContent = n.body;
    el.appendChild(close); el.appendChild(a); el.appendChild(body);
    toasts.appendChild(el);
    while (toasts.children.length > 5) toasts.removeChild(toasts.firstChild);
    setTimeout(function () { el.remove(); }, 15000);
  }
  if (toasts && window.EventSource) {
    var ns = new EventSource(toasts.getAttribute('data-notify'));
    ns.addEventListener('stats', function (ev) {
      try { setTitleCounts(JSON.parse(ev.data)); } catch (e) { console.error(e); }
    });
    ns.addEventListener('notification', function (ev) {
      var n;
      try { n = JSON.parse(ev.data); } catch (e) { return; }
      toast(n);
      if (canNotify && Notification.permission === 'granted' && document.visibilityState !== 'visible') {
        try { new Notification(n.title, { body: n.body, tag: n.runId + ':' + n.kind + ':' + (n.taskId || '') }); } catch (e) { /* ignore */ }
      }
    });
    window.addEventListener('pagehide', function () { ns.close(); });
  }
  if (!document.querySelector('[data-live],[data-follow]')) setLive('static');
})();
`;
