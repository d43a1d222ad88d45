"""A tenant's domain vocabulary: product and service names its own published articles use.

Why: the statistical NER model tags capitalised product words ("Gmail", "Google Docs",
"GitHub") as people or places. Tokenised on both sides (articles and questions) they stop
matching, and retrieval loses them (StackFAQ: 51 of 125 titles). A detection that comes *only*
from the NER model and equals (ignoring case) a term of the vocabulary is therefore not
tokenised, in tickets, articles and questions alike.

Privacy argument: a term enters the vocabulary only from the titles and headings of the
tenant's own *published* knowledge-base articles (``kb_article.published`` / ``.updated``),
content the tenant itself makes public, and only when an admin publishes them
(:data:`VOCABULARY_ROLES`): agents may write articles too, but a term waives detection in
every later ticket, so an agent's title (a customer's name, say) must not be able to. Customer
data never adds a term. The exemption is
narrow: only statistical guesses are waived, never a pattern recogniser (e-mail, phone, card,
IBAN, address, cued name), and never a value a record declares as identity; a span that is
longer than the term ("Gmail Maria") is tokenised as before. At rest the vocabulary is kept as
keyed hashes under the tenant's blind-index key, beside the article id, written in the same
transaction as the article, so nothing readable of it is stored and destroying the tenant key
makes it unreadable.

Loading: the hashes are read once per process and tenant and cached; every use checks a cheap
stamp (row count and highest sequence number), so an article published by another process or
a rolled-back load is seen at the next use.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from supportops.events.schemas import EventDraft
from supportops.privacy.keys import Keyring
from supportops.privacy.tables import domain_terms

KB_EVENTS = frozenset({"kb_article.published", "kb_article.updated"})
#: Whose articles add terms; another role's article only drops the terms it replaces.
VOCABULARY_ROLES = frozenset({"admin"})
#: Longest phrase (in words) taken from a run of capitalised words.
MAX_WORDS = 4
_WORD = re.compile(r"[^\W_][\w.+#&'’-]*")
_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_EDGE = " \t\r\n.,;:!?'\"()[]{}<>’"
_POSSESSIVE = re.compile(r"['’]s$")
_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    """How terms and detected values are compared: case-folded, one space, no edge
    punctuation or possessive."""
    value = _SPACES.sub(" ", text).strip(_EDGE)
    return _POSSESSIVE.sub("", value).strip(_EDGE).casefold()


def terms_of(text: str) -> set[str]:
    """Capitalised words of a title and the phrases (up to :data:`MAX_WORDS`) their runs make:
    "Share Google Docs with Gmail" gives "share google docs", "google docs", "gmail", ..."""
    out: set[str] = set()
    for run in _capitalised_runs(text):
        for i in range(len(run)):
            for j in range(i + 1, min(len(run), i + MAX_WORDS) + 1):
                term = normalise(" ".join(run[i:j]))
                if len(term) >= 2:
                    out.add(term)
    return out


def _capitalised_runs(text: str) -> list[list[str]]:
    """Runs of adjacent words that hold an upper-case letter ("GitHub", "iPhone", "Docs")."""
    runs: list[list[str]] = [[]]
    at = 0
    for match in _WORD.finditer(text):
        word = match.group(0)
        gap = text[at : match.start()]
        if not any(ch.isupper() for ch in word) or (gap.strip() and runs[-1]):
            runs.append([])
        if any(ch.isupper() for ch in word):
            runs[-1].append(word.rstrip(".'’-"))
        at = match.end()
    return [r for r in runs if r]


def article_terms(draft: EventDraft) -> set[str]:
    """Terms of a knowledge-base draft: its title and its Markdown headings."""
    payload = draft.payload
    texts = [payload.get("title")]
    body = payload.get("body")
    if isinstance(body, str):
        texts.extend(_HEADING.findall(body))
    return set().union(*(terms_of(t) for t in texts if isinstance(t, str)))


def term_hash(keyring: Keyring, term: str) -> str:
    """The keyed hash a term is stored (and looked up) as."""
    mac = hmac.new(keyring.blind_key(), f"domain-term\x1f{normalise(term)}".encode(),
                   hashlib.sha256)
    return mac.hexdigest()[:32]


@dataclass(frozen=True)
class Vocabulary:
    """A tenant's term hashes, and the keyring to hash a detected value with."""

    keyring: Keyring
    hashes: frozenset[str]

    def __contains__(self, value: object) -> bool:
        return (isinstance(value, str) and bool(self.hashes)
                and term_hash(self.keyring, value) in self.hashes)

    def with_terms(self, terms: Iterable[str]) -> Vocabulary:
        return Vocabulary(self.keyring,
                          self.hashes | {term_hash(self.keyring, t) for t in terms})


_Stamp = tuple[int, int]
_CACHE: dict[tuple[int, str], tuple[_Stamp, frozenset[str]]] = {}
_LOCK = threading.Lock()


def load(conn: Connection, keyring: Keyring) -> Vocabulary:
    """The tenant's vocabulary, from the process cache unless its stamp changed."""
    tenant = keyring.ctx.tenant_id
    where = domain_terms.c.tenant_id == tenant
    row = conn.execute(select(func.count(), func.max(domain_terms.c.seq)).where(where)).one()
    stamp = (int(row[0]), int(row[1] or 0))
    key = (id(conn.engine), tenant)
    with _LOCK:
        cached = _CACHE.get(key)
    if cached is None or cached[0] != stamp:
        hashes = frozenset(conn.execute(select(domain_terms.c.term).where(where)).scalars())
        cached = (stamp, hashes)
        with _LOCK:
            _CACHE[key] = cached
    return Vocabulary(keyring, cached[1])


def record(conn: Connection, keyring: Keyring, drafts: Sequence[EventDraft]) -> set[str]:
    """Store the terms of the knowledge-base drafts (replacing an updated article's), in the
    caller's transaction, before the drafts are pseudonymised; the terms they add. Drafts of a
    role outside :data:`VOCABULARY_ROLES` add none (an updated article's old terms still go)."""
    by_article: dict[str, set[str]] = {}
    for draft in drafts:
        if draft.type in KB_EVENTS and isinstance(draft.payload.get("article_id"), str):
            by_article.setdefault(draft.payload["article_id"], set()).update(
                article_terms(draft))
    if not by_article:
        return set()
    tenant = keyring.ctx.tenant_id
    conn.execute(delete(domain_terms).where(domain_terms.c.tenant_id == tenant,
                                            domain_terms.c.article_id.in_(list(by_article))))
    seq = int(conn.execute(select(func.max(domain_terms.c.seq)).where(
        domain_terms.c.tenant_id == tenant)).scalar() or 0) + 1
    if keyring.ctx.role not in VOCABULARY_ROLES:
        by_article = {article: set() for article in by_article}
    rows: list[dict[str, Any]] = [
        {"tenant_id": tenant, "article_id": article, "term": h, "seq": seq}
        for article, terms in by_article.items()
        for h in sorted({term_hash(keyring, t) for t in terms})]
    if rows:
        conn.execute(insert(domain_terms), rows)
    return set().union(*by_article.values())
