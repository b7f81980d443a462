/**
 * The terminal page's script, served from memory at /assets/terminal.js. It needs xterm.js and its
 * fit addon (served from the installed packages at /assets/xterm.js and /assets/addon-fit.js).
 *
 * `#terminal[data-ws]` names the WebSocket path (without size); the script opens it with the fitted
 * size, writes binary frames to the terminal (xterm decodes UTF-8 across frames), sends keystrokes
 * as `{type:'input'}` and size changes as `{type:'resize'}`, and shows `ready`/`exit`/`error`
 * messages in `#terminal-status`. The terminal object is `window.scripthutTerminal` (tests read its
 * buffer).
 */
export const TERMINAL_JS = `(function () {
  'use strict';
  var el = document.getElementById('terminal');
  var statusEl = document.getElementById('terminal-status');
  if (!el || !window.Terminal || !window.FitAddon) return;
  function status(text, state) {
    if (!statusEl) return;
    statusEl.textContent = text;
    statusEl.setAttribute('data-state', state);
  }
  var term = new window.Terminal({ cursorBlink: true, convertEol: false, scrollback: 5000,
    fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace', fontSize: 14 });
  var fit = new window.FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(el);
  fit.fit();
  window.scripthutTerminal = term;
  var scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  var path = el.getAttribute('data-ws');
  var sep = path.indexOf('?') >= 0 ? '&' : '?';
  var ws = new WebSocket(scheme + '//' + location.host + path + sep + 'cols=' + term.cols + '&rows=' + term.rows);
  ws.binaryType = 'arraybuffer';
  status('connecting…', 'connecting');
  function send(msg) { if (ws.readyState === 1) ws.send(JSON.stringify(msg)); }
  ws.onmessage = function (e) {
    if (typeof e.data !== 'string') { term.write(new Uint8Array(e.data)); return; }
    var msg; try { msg = JSON.parse(e.data); } catch (_) { return; }
    if (msg.type === 'ready') { status('connected: ' + msg.description, 'open'); el.setAttribute('data-session', msg.id); term.focus(); }
    else if (msg.type === 'exit') status('ended' + (msg.exitCode !== null ? ' (exit ' + msg.exitCode + ')' : ''), 'closed');
    else if (msg.type === 'error') status(msg.message, 'error');
  };
  ws.onclose = function () {
    if (statusEl && statusEl.getAttribute('data-state') !== 'error') status((statusEl.textContent.indexOf('ended') === 0 ? statusEl.textContent : 'disconnected'), 'closed');
    term.options.disableStdin = true;
  };
  term.onData(function (data) { send({ type: 'input', data: data }); });
  term.onResize(function (size) { send({ type: 'resize', cols: size.cols, rows: size.rows }); });
  var pending = null;
  window.addEventListener('resize', function () {
    if (pending) clearTimeout(pending);
    pending = setTimeout(function () { pending = null; fit.fit(); }, 100);
  });
  if (window.ResizeObserver) new ResizeObserver(function () { fit.fit(); }).observe(el);
  window.addEventListener('beforeunload', function () { try { ws.close(); } catch (_) {} });
})();
`;
