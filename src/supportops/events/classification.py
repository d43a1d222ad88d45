"""Every string of every payload has a class, declared by its event schema.

- :class:`Identity`: a personal value, tokenised whole; ``owner`` says whose subject it is
  (the event's customer, an agent, an employee, or the message's author).
- :class:`Code`: a closed vocabulary or an identifier pattern; a value that fails the check
  is tokenised whole as ``<CODE_..>`` (so a code field cannot smuggle personal data in clear
  and the columns that copy codes keep their width).
- :data:`FREE`: free text, scanned for personal data.

Anything not declared, at any depth (nested attributes, lists), is free text. Privacy walks
payloads with :func:`strings`, given the classes an event type declares (each type carries
its own, see :mod:`supportops.events.catalogue`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

Owner = Literal["customer", "agent", "employee", "author"]


@dataclass(frozen=True)
class Identity:
    """Tokenised whole as ``kind``; vaulted under the subject of ``owner``."""

    kind: str
    owner: Owner = "customer"


@dataclass(frozen=True)
class Code:
    """A closed vocabulary or an identifier pattern (with a cap on digits: no phone numbers)."""

    pattern: re.Pattern[str] | None = None
    vocabulary: frozenset[str] | None = None
    max_digits: int | None = 6

    def accepts(self, value: str) -> bool:
        if self.vocabulary is not None:
            return value in self.vocabulary
        if self.pattern is None or not self.pattern.fullmatch(value):
            return False
        return self.max_digits is None or sum(c.isdigit() for c in value) <= self.max_digits


@dataclass(frozen=True)
class FreeText:
    """Scanned for personal data; stored encrypted under its subject's key."""


FieldClass = Identity | Code | FreeText
FREE = FreeText()
#: A short label of a source system ("Awaiting User Info", "2 - Medium", "Group 70").
LABEL = Code(re.compile(r"[A-Za-z0-9][A-Za-z0-9 _./&()'#,-]{0,79}"))
TIME = Code(re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?"
                       r"(Z|[+-]\d{2}:?\d{2})?)?"), max_digits=None)
DAYFIRST = Code(re.compile(r"\d{1,2}/\d{1,2}/\d{4}( \d{1,2}:\d{2})?"), max_digits=None)
BOOL = Code(vocabulary=frozenset({"true", "false", "True", "False"}))
NUMBER = Code(re.compile(r"-?\d{1,6}(\.\d{1,6})?"), max_digits=None)
AGENT = Identity("PERSON", "agent")

#: Classes of the ticket state any payload may carry (``state.status``...).
_STATE: dict[str, FieldClass] = {
    "status": LABEL, "priority": LABEL, "category": LABEL, "group": LABEL, "assignee": AGENT,
    "channel": LABEL, "opened_at": TIME, "resolved_at": TIME, "closed_at": TIME}
STATE_CLASSES: dict[str, FieldClass] = {f"state.{k}": v for k, v in _STATE.items()}

#: A language tag (BCP 47 style: "en", "pt-BR").
LANGUAGE = Code(re.compile(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})?"))

#: Attributes that the importers of real exports emit as codes (anything else under
#: ``attributes`` is identity by its name, or free text).
ATTRIBUTE_CODES: dict[str, FieldClass] = {
    **dict.fromkeys(("active", "made_sla", "knowledge", "u_priority_confirmation"), BOOL),
    **dict.fromkeys(("location", "subcategory", "u_symptom", "cmdb_ci", "impact", "urgency",
                     "notify", "problem_id", "rfc", "vendor", "caused_by", "closed_code",
                     "st_level", "function_div", "org_line", "country", "owner_country",
                     "activity", "category_group", "tags"), LABEL),
    "sys_mod_count": NUMBER, "sys_created_at": DAYFIRST,
}


_KEY_KINDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("email", "e-mail", "mail"), "EMAIL_ADDRESS"),
    (("phone", "mobile", "tel", "fax"), "PHONE_NUMBER"),
    (("iban",), "IBAN_CODE"),
    (("card", "pan"), "CREDIT_CARD"),
    (("account", "bank"), "BANK_ACCOUNT"),
    (("ssn", "national", "passport", "nino", "tax_id", "license"), "NATIONAL_ID"),
    (("birth", "dob"), "DATE_OF_BIRTH"),
    (("address", "street", "postcode", "zip", "city"), "LOCATION"),
    (("ip",), "IP_ADDRESS"),
    (("name", "caller", "owner", "customer", "assignee", "contact", "user", "agent"), "PERSON"),
)
#: Words that make a person-like attribute name descriptive ("owner_country", "user_group").
_NOT_PERSONAL = ("country", "count", "group", "level", "type", "status", "category")
#: Person-like attribute names that name staff (employees), not the customer.
_STAFF = ("assign", "agent", "resolver", "owner", "opened", "created", "updated", "resolved")


@lru_cache(maxsize=4096)
def attribute_kind(key: str) -> str | None:
    """Token kind of an attribute whose name says it holds personal data (else ``None``)."""
    k = key.lower().replace(" ", "_").replace("-", "_")
    for needles, kind in _KEY_KINDS:
        if any(k == n or (len(n) > 3 and n in k) or k.startswith(n + "_") or
               k.endswith("_" + n) for n in needles):
            if kind == "PERSON" and any(word in k for word in _NOT_PERSONAL):
                return None
            return kind
    if k.endswith("_by") and not any(word in k for word in _NOT_PERSONAL):
        return "PERSON"
    return None


@lru_cache(maxsize=4096)
def attribute_class(key: str) -> FieldClass:
    """Class of an attribute value, by the attribute's name."""
    declared = ATTRIBUTE_CODES.get(key)
    if declared is not None:
        return declared
    kind = attribute_kind(key)
    if kind is None:
        return FREE
    k = key.lower()
    staff = kind == "PERSON" and (k.endswith("_by") or any(w in k for w in _STAFF))
    return Identity(kind, "employee" if staff else "customer")


Slot = tuple[dict[str, Any] | list[Any], Any, FieldClass]


def strings(declared: Mapping[str, FieldClass], payload: dict[str, Any]) -> Iterator[Slot]:
    """``(holder, key, class)`` of every string in ``payload``, at any depth; ``holder[key]``
    is the string (so callers can replace it in place). ``declared``: the classes the event
    type declares (``Catalogue.classes``)."""
    yield from _walk(payload, "", declared, None)


def _walk(node: dict[str, Any] | list[Any], path: str, declared: Mapping[str, FieldClass],
          attribute: str | None) -> Iterator[Slot]:
    pairs = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
    for key, value in pairs:
        is_dict = isinstance(node, dict)
        sub = (f"{path}.{key}" if path else str(key)) if is_dict else f"{path}[]"
        name = (str(key) if is_dict else attribute) if attribute is not None else None
        if value.__class__ is str:
            yield node, key, _class_of(sub, declared, name)
        elif isinstance(value, dict | list):
            inner = name if attribute is not None else (
                "" if is_dict and key == "attributes" else None)
            yield from _walk(value, sub, declared, inner)


def _class_of(path: str, declared: Mapping[str, FieldClass], attribute: str | None) -> FieldClass:
    found = declared.get(path)
    if found is not None:
        return found
    if attribute:
        return attribute_class(attribute)
    return FREE


#: Names a dict key under ``attributes`` may have in clear (else the key is free text too).
KEY_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_ .+-]{0,63}")


def safe_key(key: str) -> bool:
    """An attribute name that cannot hold personal data (short identifier, few digits)."""
    return bool(KEY_PATTERN.fullmatch(key)) and sum(c.isdigit() for c in key) <= 4
