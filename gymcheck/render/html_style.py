"""The HTML report's stylesheet: inline, no web fonts, readable printed and without scripts."""

STYLE = """
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg2:#f6f8fa;--red:#cf222e;--green:#1a7f37;
--amber:#9a6700;--violet:#8250df;--grey:#6e7781;--redbg:#ffebe9;--greenbg:#dafbe1;--amberbg:#fff8c5}
*{box-sizing:border-box}
body{font:14px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:var(--fg);
background:#fff}
main{max-width:76rem;margin:0 auto;padding:1.2rem 1.6rem 3rem}
h1{font-size:1.25rem;margin:0 0 .2rem} h2{font-size:1.05rem;margin:1.6rem 0 .5rem}
h3{font-size:.98rem;margin:0} code,pre,.mono{font:12.5px/1.45 ui-monospace,SFMono-Regular,Menlo,
Consolas,monospace}
.banner{padding:.9rem 1.6rem;color:#fff;display:flex;gap:1rem;align-items:baseline;flex-wrap:wrap}
.banner.pass{background:var(--green)} .banner.fail{background:var(--red)}
.banner.partial{background:var(--amber)}
.banner.error{background:var(--violet)} .banner .verdict{font-size:1.3rem;font-weight:700}
.banner .why{opacity:.95}
.meta{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:.6rem 0 0;
color:var(--muted)} .meta dt{font-weight:600} .meta dd{margin:0;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%}
.checks td,.checks th{border-bottom:1px solid var(--line);padding:.4rem .6rem;text-align:left;
vertical-align:top} .checks th{background:var(--bg2);font-weight:600}
.checks td.id{white-space:nowrap} .checks tr.bad td{background:var(--redbg)}
.checks tr.bad td:first-child{box-shadow:inset 4px 0 var(--red)}
.checks tr.warned td:first-child{box-shadow:inset 4px 0 var(--amber)}
.steps{margin:.2rem 0 0;padding:0;list-style:none;color:var(--muted);font-size:12.5px}
.badge{display:inline-block;min-width:3.6rem;text-align:center;color:#fff;border-radius:1rem;
padding:0 .55rem;font-size:12px;font-weight:700;letter-spacing:.02em}
.s-pass{background:var(--green)} .s-fail{background:var(--red)} .s-warn{background:var(--amber)}
.s-skip{background:var(--grey)} .s-error{background:var(--violet)}
.sev{font-size:11px;font-weight:700;text-transform:uppercase;border-radius:.25rem;padding:0 .35rem;
border:1px solid currentColor} .sev-error{color:var(--red)} .sev-warning{color:var(--amber)}
.sev-info{color:var(--grey)}
.filters{display:flex;flex-wrap:wrap;gap:.35rem;align-items:center;margin:.3rem 0 .8rem}
input.filter{position:absolute;opacity:0;pointer-events:none}
.filters label{border:1px solid var(--line);border-radius:1rem;padding:.05rem .65rem;cursor:pointer;
font-size:12.5px;background:#fff}
.filters .kind{color:var(--muted);font-size:12px;margin-left:.4rem}
.group{border:1px solid var(--line);border-radius:.5rem;margin:0 0 1rem;overflow:hidden}
.group>header{background:var(--bg2);padding:.55rem .8rem;display:flex;gap:.6rem;align-items:center;
flex-wrap:wrap;border-bottom:1px solid var(--line)}
.group .count{color:var(--muted)} .group .check{margin-left:auto;color:var(--muted)}
.cause{background:#ddf4ff;color:#0550ae;border-radius:.3rem;padding:0 .4rem}
.fix{margin:0;padding:.55rem .8rem;background:var(--amberbg);border-bottom:1px solid var(--line)}
.members{list-style:none;margin:0;padding:0}
.member{padding:.7rem .8rem;border-top:1px solid var(--line)} .member:first-child{border-top:0}
.loc{font-weight:600} .loc .mono{font-weight:400;color:var(--muted)}
.member p{margin:.2rem 0 .5rem} .member.brief{padding:.25rem .8rem;font-size:12.5px}
.sides{display:grid;grid-template-columns:1fr 1fr;gap:.6rem}
.sides h4{margin:0 0 .15rem;font-size:12px;text-transform:uppercase;color:var(--muted)}
.sides pre{margin:0;padding:.45rem .55rem;background:var(--bg2);border-radius:.3rem;
white-space:pre-wrap;word-break:break-all;max-height:11rem;overflow:auto}
.tokens{margin:.6rem 0 0;width:auto;min-width:60%}
.tokens th,.tokens td{padding:.1rem .55rem;border-bottom:1px solid #eef1f4;text-align:left}
.tokens th{font-size:11.5px;color:var(--muted);font-weight:600;background:#fff}
.tokens th.side{border-bottom:1px solid var(--line)} .tokens .num{text-align:right;
color:var(--muted)} .tokens .gap{border-left:2px solid var(--line)}
.tokens tr.same td{color:#6e7781} .tokens tr.differs td.piece{background:#fff1e5}
.tokens td.diverge{background:var(--red)!important;color:#fff!important;font-weight:700}
.tokens tr.diverge-row td.num{color:var(--red);font-weight:700}
.tokens tr.diverge-row td:first-child::before{content:"▶ ";color:var(--red)}
.piece{white-space:pre} .ws{color:#8c959f} .diverge .ws{color:#ffd8d3}
.special{color:var(--violet);font-weight:600} .diverge .special{color:#fff}
.plot img{max-width:34rem;width:100%;border:1px solid var(--line);border-radius:.4rem}
.note{color:var(--muted)} .empty{color:var(--green);font-weight:600}
footer{margin-top:2rem;color:var(--muted);font-size:12px}
"""
