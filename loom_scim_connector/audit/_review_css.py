"""The access review page's style sheet, inlined in the page (no external asset).

Laid out for a laptop (1280 to 1366 pixels wide) and for print: the page never scrolls
sideways, and a word never breaks mid-word. Only ids, emails and request paths may
break anywhere (``.id``); short codes (an action, an outcome, a time) never break
(``.nw``); other text breaks between words, and inside one only if it cannot fit on a
line of its own.
"""

CSS = """
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
color:#1d2330;background:#f5f6f8;overflow-wrap:break-word;hyphens:manual}
header{background:#1d2330;color:#fff;padding:18px 28px}
header>div{max-width:1280px;margin:0 auto}
main{max-width:1336px;margin:0 auto}
header h1{margin:0;font-size:22px}header p{margin:4px 0 0;color:#c9cfdb}
main{padding:18px 28px}
section{background:#fff;border-radius:8px;padding:14px 18px;margin:0 0 16px;
box-shadow:0 1px 2px rgba(0,0,0,.08)}
h2{font-size:17px;margin:0 0 10px}h3{font-size:15px;margin:14px 0 6px}
.cards{display:flex;flex-wrap:wrap;gap:12px}
section.bare{background:none;box-shadow:none;padding:0}
.card{flex:1 1 150px;background:#fff;border-radius:8px;padding:12px 16px;
box-shadow:0 1px 2px rgba(0,0,0,.08)}
.card b{display:block;font-size:26px}.card span{color:#5b6475}
.card small{display:block;color:#6b7383}
.card.risk b{color:#c62828}
.banner{padding:10px 14px;border-radius:6px;margin:0 0 16px;font-weight:600}
.ok{background:#e3f4e6;color:#1f6b2c}.expiring{background:#fff4d6;color:#7a5200}
.expired{background:#fde2e2;color:#a11}.unknown{background:#eceff4;color:#3b4252}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e6e8ee;vertical-align:top}
th{background:#f0f2f6;font-weight:600}
.id{overflow-wrap:anywhere}
.nw{white-space:nowrap}
code{font:12px/1.4 ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace}
table.log td:nth-child(2){min-width:110px}
table.log td.email{min-width:160px}table.log td.uid{min-width:100px}
.scroll{overflow-x:auto}
tr.risk td{background:#fdecec}tr.gone td{color:#7b8494}
.tag{display:inline-block;padding:0 6px;border-radius:9px;font-size:12px;color:#fff;
white-space:nowrap}
.managed{background:#2f6fde}.unmanaged{background:#d98a00}
.risklist li{margin:2px 0}.muted{color:#6b7383}
.decide td:nth-child(3){white-space:nowrap}.decide td:last-child{width:28%}
td.roster{min-width:140px}
.decide label{margin-right:12px}.decide input[type=radio]{margin:0 4px 0 0;vertical-align:-2px}
input[type=text]{font:inherit;border:0;border-bottom:1px solid #9aa2b1;width:100%;
background:transparent;padding:2px 0}
.sign{display:flex;flex-wrap:wrap;gap:16px 32px;margin-top:16px}
.sign div{flex:1 1 220px}.sign span{display:block;color:#5b6475;font-size:12px}
.sign b{display:block;border-bottom:1px solid #9aa2b1;min-height:24px;padding:2px 0}
footer{color:#6b7383;font-size:12px;padding:0 28px 24px;max-width:1336px;margin:0 auto}
@media print{body{background:#fff}section,.card{box-shadow:none;border:1px solid #ddd}
#sign-off{break-inside:avoid-page}table.log td.email,table.log td.uid{min-width:0}}
"""
