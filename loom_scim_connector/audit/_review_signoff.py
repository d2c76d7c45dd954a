"""The access review's sign-off block: each finding with a decision to record (keep,
remove or investigate) and a note, then who reviewed, when, and their signature.

No script: the choices are plain form fields a browser lets you tick and type into, and
they print (save the page as PDF once decided). The same decisions go in the CSV's
``decision``, ``reviewer`` and ``decidedOn`` columns, for a spreadsheet.
"""

from __future__ import annotations

from html import escape

from ._review_model import DECISIONS, MemberRow, Review


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def email_html(email: str) -> str:
    """An email, escaped, that breaks after its ``@`` before anywhere else."""
    local, at, domain = email.partition("@")
    return _e(local) + (f"@<wbr>{_e(domain)}" if at else "")


def sign_off(review: Review) -> str:
    decide = review.to_decide()
    if decide:
        rows = "".join(_row(n, m, review) for n, m in enumerate(decide, 1))
        head = "".join(f"<th>{h}</th>" for h in ("Member", "Finding", "Decision", "Note"))
        findings = (
            f'<table class="decide"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
        )
        intro = (
            f"Decide each of the {len(decide)} members with a finding: keep (the access is "
            "right), remove (offboard them), or investigate (ask their manager). Record it "
            "here and save the page as PDF, or fill in the CSV's decision column."
        )
    else:
        findings = ""
        intro = "No member has a finding: sign to record that the list of members was reviewed."
    reviewer = (
        f"<b>{_e(review.reviewer)}</b>"
        if review.reviewer
        else '<input type="text" aria-label="Reviewer">'
    )
    return (
        f'<section id="sign-off" data-findings="{len(decide)}"><h2>Sign-off</h2>'
        f'<p class="muted">{_e(intro)}</p>{findings}<div class="sign">'
        f"<div><span>Reviewer</span>{reviewer}</div>"
        '<div><span>Date</span><input type="text" aria-label="Date"></div>'
        '<div><span>Signature</span><input type="text" aria-label="Signature"></div>'
        "</div></section>"
    )


def _row(n: int, member: MemberRow, review: Review) -> str:
    found = list(member.findings) or [_why(member, review)]
    choices = "".join(
        f'<label class="nw"><input type="radio" name="decision-{n}" value="{d}"> {d}</label>'
        for d in DECISIONS
    )
    who = _e(member.name) + "<br>" if member.name else ""
    email = f'<span class="id">{email_html(member.email)}</span>'
    return (
        f'<tr data-id="{_e(member.id)}"><td>{who}{email}</td>'
        f"<td>{'<br>'.join(_e(f) for f in found)}</td><td>{choices}</td>"
        f'<td><input type="text" aria-label="Note on {_e(member.email)}"></td></tr>'
    )


def _why(member: MemberRow, review: Review) -> str:
    if review.roster is not None:
        return f"orphaned: {member.roster_status or 'not in the roster'}"
    return "unmanaged: no externalId, so the identity provider cannot deprovision them"
