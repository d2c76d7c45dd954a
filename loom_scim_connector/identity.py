"""Who is who: the one rule for deciding that two email addresses name the same person.

Every comparison of people in this package (the client's filter fallbacks, the actions'
read-backs, offboarding, reconciling, the access review, the store's evidence) goes
through :func:`email_key` or :func:`same_email`; nothing else compares emails.

The rule:

1. **Unicode NFC.** Canonically equivalent spellings are one spelling: ``josé`` written as
   ``e`` + combining accent (NFD, as macOS exports it) equals the precomposed ``é`` (NFC,
   as Loom stores it). Compatibility forms are *not* folded (no NFKC): full-width
   ``ｂｏｂ`` is another string, and so is the long s ``ſ``, which NFKC would turn into
   ``s``.
2. **Case, by lowercasing, never by case folding.** Both the domain (case-insensitive by
   RFC 5321) and the local part (case-sensitive in theory; in practice every mail system
   Loom's identity providers use, and SCIM's ``userName`` by RFC 7643, compare it
   case-insensitively) are compared after :meth:`str.lower`. ``casefold`` is not used: it
   turns ``straße`` into ``strasse`` and ``ſtrasse`` into ``strasse``, so offboarding one
   address could deactivate another person. Lowercasing keeps ``ß``, ``ſ``, the dotless
   ``ı`` and ``i`` distinct, while ``Bob`` and ``bob``, ``JOSÉ`` and ``josé`` match.
3. **Whitespace around the address is not part of it**; nothing inside it is changed.

An Entra ID guest's user principal name (``jane.doe_example.com#EXT#@tenant.onmicrosoft.com``)
is not an address of its own but Entra's encoding of the address the guest was invited
with: :func:`guest_address` decodes it exactly (the last ``_`` before ``#EXT#`` was the
``@``; a domain has no ``_``), and nothing more. Rosters read it so (a guest shows and
matches as ``jane.doe@example.com``, or as the row's own ``mail``); two addresses are
still compared by the rule above alone.

Two addresses that differ after this are different people, even when a human might guess
otherwise (``bob+loom@`` and ``bob@``, punycode and Unicode domains): the connector acts
only on the person asked for, or no one.

A person can still be *missed* that way: an address typed or exported with a full-width
letter, a long s or a lost accent finds no account. :func:`look_alike` says when two
addresses that name different people would look the same to a reader (compatibility
forms folded, accents dropped, case folded): never to act on, only to say, next to "not
found", which account the person may have meant. It does not know every homoglyph (a
Cyrillic ``а`` for a Latin ``a`` is not folded).
"""

from __future__ import annotations

import re
import unicodedata

# local_domain#EXT#@tenant: the local part up to the last "_", then a domain (no "_").
_GUEST_UPN = re.compile(r"^(?P<local>[^@]+)_(?P<domain>[^_@#]+\.[^_@#]+)#ext#@[^@]+$")


def email_key(email: str) -> str:
    """The form of ``email`` under which two addresses of one person are equal."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", email.strip()).lower())


def same_email(a: object, b: object) -> bool:
    """Whether ``a`` and ``b`` are both addresses and name the same person."""
    return isinstance(a, str) and isinstance(b, str) and email_key(a) == email_key(b)


def _skeleton(email: str) -> str:
    """What a reader sees: compatibility forms folded, accents dropped, case folded."""
    decomposed = unicodedata.normalize("NFKD", email.strip())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFKC", bare.casefold())


def look_alike(a: object, b: object) -> bool:
    """Whether ``a`` and ``b`` name different people (:func:`same_email`) but look the
    same to a reader: a hint to show, never a match to act on."""
    return (
        isinstance(a, str)
        and isinstance(b, str)
        and not same_email(a, b)
        and _skeleton(a) == _skeleton(b)
    )


def guest_address(upn: str) -> str | None:
    """The address an Entra guest's UPN encodes (under :func:`email_key`), or None when
    ``upn`` is not a guest's UPN."""
    found = _GUEST_UPN.match(email_key(upn))
    return f"{found['local']}@{found['domain']}" if found else None
