"""The access review as one HTML page that opens offline: inline CSS and SVG, no script,
no external asset. Every piece of text is escaped (names and emails come from the server)."""

from __future__ import annotations

from html import escape

from loom_scim_connector.store import Evidence

from ._review_model import MemberRow, Review
from ._review_svg import stacked_bars, waffle

NO_ROLE_SHOWN = "no role"

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
color:#1d2330;background:#f5f6f8}
header{background:#1d2330;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:22px}header p{margin:4px 0 0;color:#c9cfdb}
main{padding:18px 28px;max-width:1200px}
section{background:#fff;border-radius:8px;padding:14px 18px;margin:0 0 16px;
box-shadow:0 1px 2px rgba(0,0,0,.08)}
h2{font-size:17px;margin:0 0 10px}
.cards{display:flex;flex-wrap:wrap;gap:12px}
section.bare{background:none;box-shadow:none;padding:0}
.card{flex:1 1 150px;background:#fff;border-radius:8px;padding:12px 16px;
box-shadow:0 1px 2px rgba(0,0,0,.08)}
.card b{display:block;font-size:26px}.card span{color:#5b6475}
.card.risk b{color:#c62828}
.banner{padding:10px 14px;border-radius:6px;margin:0 0 16px;font-weight:600}
.ok{background:#e3f4e6;color:#1f6b2c}.expiring{background:#fff4d6;color:#7a5200}
.expired{background:#fde2e2;color:#a11}.unknown{background:#eceff4;color:#3b4252}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e6e8ee;vertical-align:top}
table.log td{overflow-wrap:anywhere}
th{background:#f0f2f6;font-weight:600}
tr.risk td{background:#fdecec}tr.gone td{color:#7b8494}
.tag{display:inline-block;padding:0 6px;border-radius:9px;font-size:12px;color:#fff;
white-space:nowrap}
.managed{background:#2f6fde}.unmanaged{background:#d98a00}
.risklist li{margin:2px 0}.muted{color:#6b7383}
footer{color:#6b7383;font-size:12px;padding:0 28px 24px}
@media print{body{background:#fff}section,.card{box-shadow:none;border:1px solid #ddd}}
"""


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def render(review: Review) -> str:
    title = f"Loom access review, {review.generated_at[:10]}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # No script, no request: the page shows what is written here and nothing else.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">",
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<header><h1>{_e(title)}</h1><p>{_e(review.base_url)} &middot; generated "
        f"{_e(review.generated_at)} from the synced store</p></header><main>",
        _key_banner(review),
        _cards(review),
        _charts(review),
        _at_risk(review),
        _members(review),
        _evidence(review.evidence),
        _roster(review),
        "</main><footer>loom-scim review: managed means the identity provider created the "
        "account (it has an externalId) and can deprovision it; unmanaged accounts joined by "
        "domain capture and must be offboarded by hand (loom-scim offboard).</footer>",
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def _key_banner(review: Review) -> str:
    days, status = review.key_days_left, review.key_status
    if days is None:
        text = (
            f"SCIM key expiry unknown: set {review.expiry_origin} so an expired key cannot "
            "silently stop deprovisioning."
        )
    elif days < 0:
        text = (
            f"The SCIM key expired {-days} days ago ({review.key_expires_at}): "
            "deprovisioning is stopped until it is regenerated."
        )
    else:
        text = f"The SCIM key expires in {days} days ({review.key_expires_at})."
    return (
        f'<div class="banner {_e(status)}" id="key-expiry" data-status="{_e(status)}">'
        f"{_e(text)}</div>"
    )


def _cards(review: Review) -> str:
    live = review.live
    cards = [
        ("members", len(live), "members in the store", False),
        ("active", review.active, "active", False),
        ("unmanaged", review.unmanaged_active, "active and unmanaged", review.unmanaged_active > 0),
    ]
    if review.roster is not None:
        orphaned = len(review.at_risk())
        cards.append(("orphaned", orphaned, "orphaned (roster)", orphaned > 0))
    cards.append(("evidence", len(review.evidence), "offboarding records", False))
    shown = "".join(
        f'<div class="card{" risk" if risk else ""}" id="count-{key}"><b>{n}</b>'
        f"<span>{_e(label)}</span></div>"
        for key, n, label, risk in cards
    )
    return f'<section class="cards bare" id="summary">{shown}</section>'


def _charts(review: Review) -> str:
    roles = review.by_role()
    return (
        '<section id="chart-roles"><h2>Active members by role: managed and unmanaged</h2>'
        + stacked_bars(roles)
        + "</section>"
    )


def _at_risk(review: Review) -> str:
    risky = review.at_risk()
    if review.roster is not None:
        title = f"Orphaned members at a glance: {len(risky)} of {review.active} active"
        why = "active in Loom, and absent from the roster or gone there: offboard them."
    else:
        title = f"Unmanaged members at a glance: {len(risky)} of {review.active} active"
        why = (
            "the identity provider cannot deprovision these accounts. Give --roster to "
            "see which are orphaned."
        )
    items = "".join(
        f'<li><b>{_e(m.email)}</b> <span class="muted">{_e(m.role or NO_ROLE_SHOWN)}; '
        f"{_e(_why(m, review))}</span></li>"
        for m in risky
    )
    body = f'<ul class="risklist">{items}</ul>' if risky else '<p class="muted">None.</p>'
    return (
        f'<section id="at-risk" data-count="{len(risky)}"><h2>{_e(title)}</h2>'
        f'<p class="muted">{_e(why)}</p>{waffle(review, {m.id for m in risky})}{body}</section>'
    )


def _why(member: MemberRow, review: Review) -> str:
    if review.roster is not None:
        return member.roster_status or "orphaned"
    return "no externalId"


def _members(review: Review) -> str:
    with_roster = review.roster is not None
    head = ["Email", "Name", "Role", "Status", "Managed"]
    head += ["Roster", "Findings"] if with_roster else []
    head += ["Last offboarding action (verified)"]
    rows = []
    risky = {m.id for m in review.at_risk()}
    # At-risk members first (highlighted), then everyone else in the store's order.
    for m in sorted(review.members, key=lambda m: m.id not in risky):
        status = m.status
        kind = "managed" if m.managed else "unmanaged"
        cells = [
            _e(m.email),
            _e(m.name or ""),
            _e(m.role or "-"),
            _e(status),
            f'<span class="tag {kind}">{kind}</span>',
        ]
        if with_roster:
            # Unmanaged and orphaned have their own columns: the rest (role drift, duplicates).
            shown = [f for f in m.findings if not f.startswith(("unmanaged", "orphaned"))]
            cells += [_e(m.roster_status or "-"), _e("; ".join(shown))]
        cells.append(_last(m.evidence))
        css = "risk" if m.id in risky else "gone" if status != "active" else ""
        rows.append(
            f'<tr class="{css}" data-id="{_e(m.id)}">'
            + "".join(f"<td>{c}</td>" for c in cells)
            + "</tr>"
        )
    header = "".join(f"<th>{_e(h)}</th>" for h in head)
    note = (
        f'<p class="muted">Roster: {_e(review.roster)}</p>'
        if with_roster
        else (
            '<p class="muted">No roster given: --roster FILE adds each member\'s status '
            "in the identity provider.</p>"
        )
    )
    return (
        f'<section id="members"><h2>Members ({len(review.members)})</h2>{note}'
        f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )


def _last(evidence: tuple[Evidence, ...]) -> str:
    if not evidence:
        return '<span class="muted">-</span>'
    last = evidence[0]
    return (
        f"<b>{_e(last.outcome)}</b> ({_e(last.action)})<br>"
        f'<span class="muted">{_e(last.at)}, {_e(last.actor)}</span>'
    )


def _evidence(evidence: list[Evidence]) -> str:
    head = ["When (UTC)", "Who", "Source", "Email", "User id", "Action", "Outcome", "Verified by"]
    rows = "".join(
        f'<tr data-evidence="{e.evidence_id}"><td>{_e(e.at)}</td><td>{_e(e.actor)}</td>'
        f"<td>{_e(e.source)}</td><td>{_e(e.email)}</td><td>{_e(e.user_id or '-')}</td>"
        f"<td>{_e(e.action)}</td><td>{_e(e.outcome)}</td><td>{_e(e.request)}"
        + (f'<br><span class="muted">{_e(e.detail)}</span>' if e.detail else "")
        + "</td></tr>"
        for e in evidence
    )
    if not evidence:
        return (
            '<section id="evidence"><h2>Offboarding evidence</h2>'
            '<p class="muted">None recorded.</p></section>'
        )
    header = "".join(f"<th>{_e(h)}</th>" for h in head)
    return (
        f'<section id="evidence"><h2>Offboarding evidence ({len(evidence)})</h2>'
        f'<table class="log"><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table>'
        "</section>"
    )


def _roster(review: Review) -> str:
    if review.roster is None:
        return ""
    counts = ", ".join(f"{name.replace('_', ' ')}: {n}" for name, n in review.roster_counts.items())
    missing = "".join(f"<li>{_e(m)}</li>" for m in review.missing)
    return (
        f'<section id="roster"><h2>Against the roster</h2><p>{_e(counts)}</p>'
        + (f"<h3>In the roster, without Loom access</h3><ul>{missing}</ul>" if missing else "")
        + "</section>"
    )
