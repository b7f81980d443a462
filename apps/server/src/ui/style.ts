/** The whole stylesheet, inlined in every page (CSP allows inline styles only). */
export const STYLE = `
:root{--bg:#f6f7f9;--panel:#fff;--text:#1d2430;--muted:#5f6b7a;--line:#e2e6eb;--accent:#2857c5;--accent-soft:#e8eefb;
--ok:#1f8a4c;--ok-soft:#e3f4ea;--bad:#c23b30;--bad-soft:#fbe7e5;--warn:#9a6a00;--warn-soft:#fdf3d8;--run:#1f6fd1;--run-soft:#e3eefc;--idle:#6b7480;--idle-soft:#eef0f3}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--text);background:var(--bg)}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
header.top{display:flex;align-items:center;gap:24px;padding:0 24px;height:52px;background:#17202e;color:#fff}
header.top .brand{font-weight:700;font-size:16px;color:#fff;letter-spacing:.2px}
header.top nav{display:flex;gap:4px;flex:1}
header.top nav a{color:#c9d3e1;padding:6px 10px;border-radius:6px}
header.top nav a.active,header.top nav a:hover{background:#2a3547;color:#fff;text-decoration:none}
.live-dot{font-size:12px;color:#9fb0c6}.live-dot::before{content:"";display:inline-block;width:8px;height:8px;border-radius:50%;background:#6b7480;margin-right:6px;vertical-align:1px}
.live-dot.on::before{background:#38c172}.live-dot.off::before{background:#e3a008}
main{max-width:1280px;margin:0 auto;padding:20px 24px 48px}
h1{font-size:22px;margin:4px 0 16px}h2{font-size:16px;margin:24px 0 10px}h3{font-size:14px;margin:0 0 8px}
.muted{color:var(--muted)}.small{font-size:12px}.mono,code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.panel{background:var(--panel);border:1px solid var(--line);border-radius:10px;padding:16px;margin-bottom:16px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:12px;margin-bottom:16px}
.card{background:var(--panel);border:1px solid var(--line);border-radius:10px;padding:14px}
.card .title{display:flex;justify-content:space-between;align-items:center;font-weight:600;margin-bottom:8px}
.kv{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;font-size:13px}.kv dt{color:var(--muted)}.kv dd{margin:0;overflow-wrap:anywhere}
table{width:100%;border-collapse:collapse;background:var(--panel);border:1px solid var(--line);border-radius:10px;overflow:hidden}
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid var(--line);vertical-align:top;font-size:13px}
th{background:#f0f2f5;font-weight:600;color:#3a4554;white-space:nowrap}
tr:last-child td{border-bottom:0}tr.group td{background:#f7f8fa;font-weight:600;color:#3a4554}
.pill{display:inline-block;padding:1px 8px;border-radius:999px;font-size:12px;font-weight:600;white-space:nowrap;background:var(--idle-soft);color:var(--idle)}
.pill.completed,.pill.ok{background:var(--ok-soft);color:var(--ok)}
.pill.failed,.pill.dep_failed,.pill.bad,.pill.timeout,.pill.out_of_memory,.pill.node_fail{background:var(--bad-soft);color:var(--bad)}
.pill.running,.pill.completing{background:var(--run-soft);color:var(--run)}
.pill.queued,.pill.submitted,.pill.submitting,.pill.warn{background:var(--warn-soft);color:var(--warn)}
.pill.cancelled{background:#ececec;color:#555}
.pill.cached{background:var(--ok-soft);color:var(--ok);border:1px dashed var(--ok)}
.bar{display:flex;height:8px;border-radius:4px;overflow:hidden;background:var(--idle-soft);min-width:120px}
.bar span{display:block;height:100%}
.s-completed{background:var(--ok)}.s-failed,.s-dep_failed{background:var(--bad)}.s-running{background:var(--run)}
.s-queued,.s-submitted,.s-submitting{background:#e3a008}.s-cancelled{background:#9aa3ad}.s-pending{background:transparent}
.btn,button{display:inline-block;font:inherit;font-size:13px;padding:5px 12px;border-radius:6px;border:1px solid var(--line);background:#fff;color:var(--text);cursor:pointer}
.btn:hover,button:hover{background:#f0f2f5;text-decoration:none}
.btn.primary,button.primary{background:var(--accent);border-color:var(--accent);color:#fff}.btn.primary:hover,button.primary:hover{background:#1f47a8}
button.danger{color:var(--bad);border-color:#efc4bf}button.danger:hover{background:var(--bad-soft)}
form.inline{display:inline}
.actions{display:flex;gap:8px;flex-wrap:wrap;align-items:center}
.toolbar{display:flex;gap:12px;align-items:center;justify-content:space-between;margin-bottom:10px;flex-wrap:wrap}
.tabs{display:flex;gap:2px;border-bottom:1px solid var(--line);margin:16px 0 12px}
.tabs a{padding:7px 14px;border:1px solid transparent;border-bottom:0;border-radius:8px 8px 0 0;color:var(--muted)}
.tabs a.active{background:var(--panel);border-color:var(--line);color:var(--text);margin-bottom:-1px}
pre{background:#0f1722;color:#dbe4ef;padding:12px;border-radius:8px;overflow:auto;max-height:560px;font-size:12.5px;line-height:1.45;white-space:pre-wrap;word-break:break-all}
pre.light{background:#f7f8fa;color:var(--text);border:1px solid var(--line)}
textarea{width:100%;min-height:360px;font:12.5px/1.45 ui-monospace,Menlo,monospace;border:1px solid var(--line);border-radius:8px;padding:10px}
input[type=text],input[type=password],select{font:inherit;padding:5px 8px;border:1px solid var(--line);border-radius:6px;background:#fff}
.chips{display:flex;gap:6px;flex-wrap:wrap;margin:8px 0}
.chips a{display:inline-flex;gap:6px;align-items:center}
details.group{background:var(--panel);border:1px solid var(--line);border-radius:8px;margin-bottom:6px}
details.group summary{padding:7px 12px;cursor:pointer;display:flex;gap:10px;align-items:center}
details.group .body{padding:6px 12px 10px;font-size:13px}
.groups{max-height:320px;overflow:auto}
.pager{display:flex;gap:8px;align-items:center;margin:10px 0}
.notice{padding:10px 14px;border-radius:8px;margin-bottom:14px;background:var(--accent-soft);border:1px solid #c9d7f5}
.notice.bad{background:var(--bad-soft);border-color:#efc4bf;color:#7c211a}.notice.ok{background:var(--ok-soft);border-color:#bfe3cd}
.issues li{margin:2px 0}
.gantt{background:var(--panel);border:1px solid var(--line);border-radius:10px;padding:10px 12px}
.gantt .row{display:grid;grid-template-columns:220px 1fr;gap:10px;align-items:center;height:22px}
.gantt .label{overflow:hidden;text-overflow:ellipsis;white-space:nowrap;font-size:12px}
.gantt .track{position:relative;height:14px;background:#f3f5f8;border-radius:3px}
.gantt .wait,.gantt .runbar{position:absolute;top:2px;height:10px;border-radius:2px}
.gantt .wait{background:#f1d48a}.gantt .runbar{background:var(--run)}.gantt .runbar.completed{background:var(--ok)}.gantt .runbar.failed{background:var(--bad)}.gantt .runbar.cancelled{background:#9aa3ad}
.gantt .axis{position:relative;height:18px;margin-left:230px;font-size:11px;color:var(--muted)}.gantt .axis span{position:absolute;transform:translateX(-50%)}
.activity svg{display:block;width:100%;height:auto}.activity .grid line{stroke:var(--line)}.activity .axis{font-size:11px;fill:var(--muted)}
.activity path.running{fill:var(--run-soft);stroke:var(--run);stroke-width:1.5}.activity path.queued{fill:none;stroke:var(--warn);stroke-width:1.5;stroke-dasharray:5 3}
.activity .swatch{display:inline-block;width:14px;height:8px;vertical-align:middle;border:1.5px solid var(--run);background:var(--run-soft)}.activity .swatch.queued{border:0;border-top:2px dashed var(--warn);background:none}
.empty{padding:24px;text-align:center;color:var(--muted)}
.login{max-width:360px;margin:80px auto}
#toasts{position:fixed;right:16px;bottom:16px;display:flex;flex-direction:column;gap:8px;z-index:10;max-width:360px}
.toast{background:var(--panel);border:1px solid var(--line);border-left:4px solid var(--accent);border-radius:8px;padding:10px 12px;box-shadow:0 4px 14px rgba(0,0,0,.12);font-size:13px}
.toast.success{border-left-color:var(--ok)}.toast.error{border-left-color:var(--bad)}.toast .close{float:right;border:0;padding:0 4px;background:none}
#notify-enable{font-size:12px;padding:3px 8px;background:#2a3547;color:#c9d3e1;border-color:#3a4557}
.markdown img{max-width:100%}.markdown table{width:auto}
.outputs-images{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:16px}.outputs-images figure{margin:0;background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:8px;max-width:100%}.outputs-images img{max-width:560px;max-height:420px;display:block}
`;
