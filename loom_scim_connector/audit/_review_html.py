"""The access review as one HTML page that opens offline: inline CSS (:mod:`._review_css`)
and SVG, no script, no external asset. Every piece of text is escaped (names and emails
come from the server). The sign-off block is :mod:`._review_signoff`'s."""

from __future__ import annotations

from html import escape

from loom_scim_connector.store import Evidence

from ._review_css import CSS
from ._review_model import MemberRow, Review
from ._review_signoff import email_html, sign_off
from ._review_svg import stacked_bars, waffle

NO_ROLE_SHOWN = "no role"


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
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>",
        f"<header><div><h1>{_e(title)}</h1><p>{_e(review.base_url)} &middot; generated "
        f"{_e(review.generated_at)} from the synced store</p></div></header><main>",
        _key_banner(review),
        _sync_note(review),
        _cards(review),
        _charts(review),
        _at_risk(review),
        _members(review),
        _evidence(review.evidence),
        _roster(review),
        sign_off(review),
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


def _sync_note(review: Review) -> str:
    if not review.sync_note:
        return ""
    return f'<div class="banner expiring" id="sync-note">{_e(review.sync_note)}</div>'


def _cards(review: Review) -> str:
    removed = len(review.removed)
    cards = [
        (
            "members",
            len(review.members),
            "members, active or not",
            False,
            f"and {removed} deleted by offboarding" if removed else "",
        ),
        ("active", review.active, "active", False, ""),
        (
            "unmanaged",
            review.unmanaged_active,
            "active and unmanaged",
            review.unmanaged_active > 0,
            "",
        ),
    ]
    if review.roster is not None:
        orphaned = len(review.at_risk())
        cards.append(("orphaned", orphaned, "orphaned (roster)", orphaned > 0, ""))
    cards.append(("evidence", len(review.evidence), "offboarding records", False, ""))
    shown = "".join(
        f'<div class="card{" risk" if risk else ""}" id="count-{key}"><b>{n}</b>'
        f"<span>{_e(label)}</span>" + (f"<small>{_e(note)}</small>" if note else "") + "</div>"
        for key, n, label, risk, note in cards
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
    # Unmanaged and orphaned have their own columns: the rest (role drift, duplicates) are
    # findings, a column shown when there are any.
    others = {m.id: [f for f in m.findings if not f.startswith(("unmanaged", "orphaned"))]
              for m in review.members}  # fmt: skip
    with_findings = any(others.values())
    head = ["Email", "Name", "Role", "Status", "Managed"]
    head += ["Roster"] if with_roster else []
    head += ["Findings"] if with_findings else []
    head += ["Last offboarding action (verified)"]
    rows = []
    risky = {m.id for m in review.at_risk()}
    # At-risk members first (highlighted), then everyone else in the store's order.
    for m in sorted(review.members, key=lambda m: m.id not in risky):
        status = m.status
        kind = "managed" if m.managed else "unmanaged"
        cells = [
            f'<td class="id">{email_html(m.email)}</td>',
            f"<td>{_name(m)}</td>",
            f"<td>{_e(m.role or '-')}</td>",
            f"<td>{_e(status)}</td>",
            f'<td><span class="tag {kind}">{kind}</span></td>',
        ]
        cells += [f'<td class="roster">{_e(m.roster_status or "-")}</td>'] if with_roster else []
        cells += [f"<td>{_e('; '.join(others[m.id]))}</td>"] if with_findings else []
        cells.append(f"<td>{_last(m.evidence)}</td>")
        css = "risk" if m.id in risky else "gone" if status != "active" else ""
        rows.append(f'<tr class="{css}" data-id="{_e(m.id)}">{"".join(cells)}</tr>')
    header = "".join(f"<th>{_e(h)}</th>" for h in head)
    notes = [
        f"Roster: {review.roster}. A name marked (roster) is the roster's: Loom has none."
        if with_roster
        else "No roster given: --roster FILE adds each member's status in the identity provider."
    ]
    if review.removed:
        gone = len(review.removed)
        notes.append(
            "1 account deleted by offboarding is no longer a member"
            if gone == 1
            else f"{gone} accounts deleted by offboarding are no longer members"
        )
        notes[-1] += " (see the offboarding evidence)."
    note = f'<p class="muted">{_e(" ".join(notes))}</p>'
    return (
        f'<section id="members" data-count="{len(review.members)}">'
        f"<h2>Members ({len(review.members)})</h2>{note}"
        f'<div class="scroll"><table><thead><tr>{header}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div></section>"
    )


def _name(member: MemberRow) -> str:
    if not member.name:
        return ""
    marked = ' <span class="muted">(roster)</span>' if member.name_from_roster else ""
    return _e(member.name) + marked


def _when(at: str) -> str:
    """An evidence time (ISO 8601 UTC) as a date and a time, each never broken."""
    day, _, clock = at.partition("T")
    clock = clock.removesuffix("+00:00").removesuffix("Z")
    shown = f'<span class="nw">{_e(day)}</span> <span class="nw">{_e(clock)}</span>'
    return f'<time datetime="{_e(at)}">{shown}</time>' if clock else _e(at)


def _last(evidence: tuple[Evidence, ...]) -> str:
    if not evidence:
        return '<span class="muted">-</span>'
    last = evidence[0]
    return (
        f'<b>{_e(last.outcome)}</b> <span class="nw">({_e(last.action)})</span><br>'
        f'<span class="muted">{_when(last.at)}, {_e(last.actor)}</span>'
    )


def _evidence(evidence: list[Evidence]) -> str:
    if not evidence:
        return (
            '<section id="evidence"><h2>Offboarding evidence</h2>'
            '<p class="muted">None recorded.</p></section>'
        )
    head = ["When (UTC)", "Who", "Source", "Email", "User id", "Action", "Outcome", "Verified by"]
    rows = "".join(
        f'<tr data-evidence="{e.evidence_id}"><td>{_when(e.at)}</td><td>{_e(e.actor)}</td>'
        f'<td class="nw">{_e(e.source)}</td><td class="id email">{email_html(e.email)}</td>'
        f'<td class="id uid"><code>{_e(e.user_id or "-")}</code></td>'
        f'<td class="nw">{_e(e.action)}</td><td class="nw">{_e(e.outcome)}</td>'
        f'<td class="req"><code class="id">{_e(e.request)}</code>'
        + (f'<br><span class="muted">{_e(e.detail)}</span>' if e.detail else "")
        + "</td></tr>"
        for e in evidence
    )
    header = "".join(f"<th>{_e(h)}</th>" for h in head)
    return (
        f'<section id="evidence"><h2>Offboarding evidence ({len(evidence)})</h2>'
        f'<div class="scroll"><table class="log"><thead><tr>{header}</tr></thead>'
        f"<tbody>{rows}</tbody></table></div></section>"
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
