"""Kinds of data subject: every person is one, and each has its own key.

A subject is named in the key and vault tables by a reference, an HMAC under the tenant key
of its kind and pseudonym (``Keyring.subject_ref``), never by the pseudonym's text: tokens
travel into content and models, references never leave these tables.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

CUSTOMER = "CUSTOMER"
AGENT = "AGENT"
EMPLOYEE = "EMPLOYEE"
#: A person named in someone's records (or a value of a record without a customer).
THIRD_PARTY = "THIRD_PARTY"
#: The content of events that name no subject (knowledge-base articles, staff-only logs).
TENANT_CONTENT = "TENANT_CONTENT"

#: Subject kind of each identity owner a schema declares.
OWNER_KINDS: dict[str, str] = {"customer": CUSTOMER, "agent": AGENT, "employee": EMPLOYEE}

EraseKind = Literal["customer", "agent", "employee"]


class SubjectKind(StrEnum):
    """The kinds ``privacy erase --kind`` takes (customer by default)."""

    customer = "customer"
    agent = "agent"
    employee = "employee"


#: Pseudonym kind of the identifier ``privacy erase --kind K`` takes.
TOKEN_KINDS: dict[str, str] = {"customer": CUSTOMER, "agent": "PERSON", "employee": "PERSON"}
