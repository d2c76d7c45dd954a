"""The access review's pictures, as inline SVG: no script, no external asset, every
label escaped."""

from __future__ import annotations

from html import escape

from ._review_model import Review

MANAGED, UNMANAGED, RISK = "#2f6fde", "#f0a020", "#c62828"


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def stacked_bars(roles: dict[str, tuple[int, int]]) -> str:
    """A horizontal stacked bar per role: managed (blue) then unmanaged (orange)."""
    if not roles:
        return '<p class="muted">No active members in the store.</p>'
    most = max(a + b for a, b in roles.values()) or 1
    left, width, row = 90, 520, 30
    height = row * len(roles) + 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 80}" height="{height}" '
        'role="img" aria-label="Active members by role, managed and unmanaged" '
        'font-family="system-ui,sans-serif" font-size="13">'
    ]
    for i, (role, (managed, unmanaged)) in enumerate(roles.items()):
        y = 10 + i * row
        m_w = width * managed / most
        u_w = width * unmanaged / most
        out.append(f'<text x="{left - 8}" y="{y + 16}" text-anchor="end">{_e(role)}</text>')
        out.append(
            f'<rect class="bar-managed" data-role="{_e(role)}" data-count="{managed}" x="{left}" '
            f'y="{y}" width="{m_w:.1f}" height="22" fill="{MANAGED}"><title>{_e(role)}: '
            f"{managed} managed</title></rect>"
        )
        out.append(
            f'<rect class="bar-unmanaged" data-role="{_e(role)}" data-count="{unmanaged}" '
            f'x="{left + m_w:.1f}" y="{y}" width="{u_w:.1f}" height="22" fill="{UNMANAGED}">'
            f"<title>{_e(role)}: {unmanaged} unmanaged</title></rect>"
        )
        out.append(
            f'<text x="{left + m_w + u_w + 6:.1f}" y="{y + 16}">{managed} + {unmanaged}</text>'
        )
    y = 10 + len(roles) * row + 8
    out.append(f'<rect x="{left}" y="{y}" width="12" height="12" fill="{MANAGED}"/>')
    out.append(f'<text x="{left + 18}" y="{y + 11}">managed (IdP, has externalId)</text>')
    out.append(f'<rect x="{left + 250}" y="{y}" width="12" height="12" fill="{UNMANAGED}"/>')
    out.append(f'<text x="{left + 268}" y="{y + 11}">unmanaged (domain capture)</text>')
    out.append("</svg>")
    return "".join(out)


def waffle(review: Review, risky: set[str]) -> str:
    """One square per active member: at risk (red) first, then unmanaged, then managed."""
    active = [m for m in review.members if m.active]
    if not active:
        return ""
    kinds = sorted(
        ("risk" if m.id in risky else "managed" if m.managed else "unmanaged", m.email)
        for m in active
    )
    order = {"risk": 0, "unmanaged": 1, "managed": 2}
    kinds.sort(key=lambda k: order[k[0]])
    fill = {"risk": RISK, "unmanaged": UNMANAGED, "managed": MANAGED}
    per_row, size = 40, 14
    rows = (len(kinds) + per_row - 1) // per_row
    squares = "".join(
        f'<rect class="cell-{kind}" x="{(i % per_row) * size}" y="{(i // per_row) * size}" '
        f'width="{size - 3}" height="{size - 3}" rx="2" fill="{fill[kind]}">'
        f"<title>{_e(email)}</title></rect>"
        for i, (kind, email) in enumerate(kinds)
    )
    label = "orphaned" if review.roster is not None else "unmanaged"
    y = rows * size + 6
    legend = (
        f'<rect x="0" y="{y}" width="11" height="11" fill="{RISK}"/>'
        f'<text x="16" y="{y + 10}">{label}</text>'
        + (
            f'<rect x="110" y="{y}" width="11" height="11" fill="{UNMANAGED}"/>'
            f'<text x="126" y="{y + 10}">unmanaged</text>'
            if review.roster is not None
            else ""
        )
        + f'<rect x="220" y="{y}" width="11" height="11" fill="{MANAGED}"/>'
        f'<text x="236" y="{y + 10}">managed</text>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{per_row * size}" height="{y + 16}" '
        f'role="img" aria-label="{len(risky)} of {len(active)} active members at risk" '
        f'font-family="system-ui,sans-serif" font-size="12">{squares}{legend}</svg>'
    )
