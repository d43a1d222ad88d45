"""Terms of a text for the blind full-text index: words, stemmed, then keyed hashes.

A pseudonym token (``<EMAIL_1f3a9c>``) is indexed by its kind (``tok:email``) and as
itself: the same value is the same token within a tenant, so a product name the PII model
mistook for a person ("Gmail" -> ``<PERSON_..>``) still matches itself. Only keyed hashes of
either are stored. Placeholders of
knowledge-base templates (``{{Order Number}}``) count as their words. Each term becomes the
first 8 bytes of ``HMAC-SHA256(tenant blind key, term)``: the database holds no word, so the
words of an erased customer can never be read back from dead rows or old pages.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import Counter
from functools import lru_cache

import numpy as np
import numpy.typing as npt

_TOKEN = re.compile(r"<([A-Z][A-Z_]*?)_[0-9a-f]{4,}>")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STOP_TEXT = ("a an and are as at be by can could do does for from had has have how i i'm if "
              "in is it its me my of on or our so that the their them then there these this "
              "to was we were what when where which who will with would you your")
STOPWORDS = frozenset(_STOP_TEXT.split(" "))
_STEMMERS = {"en": "english", "de": "german", "fr": "french", "es": "spanish",
             "pt": "portuguese", "it": "italian", "nl": "dutch"}
HashArray = npt.NDArray[np.int64]


@lru_cache(maxsize=16)
def _stemmer(language: str) -> object:
    import snowballstemmer

    return snowballstemmer.stemmer(_STEMMERS.get(language[:2].lower(), "english"))


@lru_cache(maxsize=200_000)
def _stem(word: str, language: str) -> str:
    return str(_stemmer(language).stemWord(word))  # type: ignore[attr-defined]


def words(text: str, language: str = "en") -> list[str]:
    """Index terms of ``text``: tokens by kind, stemmed words without stopwords."""
    kinds = [t for m in _TOKEN.finditer(text)
             for t in (f"tok:{m.group(1).lower()}", f"tok:{m.group(0).lower()}")]
    plain = _TOKEN.sub(" ", text).lower()
    stems = [_stem(w, language) for w in _WORD.findall(plain) if w not in STOPWORDS]
    return stems + kinds


class BlindHasher:
    """Keyed term hashes of one tenant (a small cache: support language repeats itself)."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._cache: dict[str, int] = {}

    def term(self, term: str) -> int:
        found = self._cache.get(term)
        if found is None:
            mac = hmac.new(self._key, term.encode(), hashlib.sha256).digest()
            found = int.from_bytes(mac[:8], "little", signed=True)
            if len(self._cache) < 500_000:
                self._cache[term] = found
        return found

    def counts(self, text: str, language: str = "en") -> tuple[HashArray, npt.NDArray[np.int32]]:
        """Distinct term hashes of ``text`` and how often each occurs."""
        counted = Counter(self.term(t) for t in words(text, language))
        hashes = np.fromiter(counted.keys(), dtype=np.int64, count=len(counted))
        tf = np.fromiter(counted.values(), dtype=np.int32, count=len(counted))
        return hashes, tf

    def query(self, text: str, language: str = "en") -> HashArray:
        return self.counts(text, language)[0]


def pack(hashes: HashArray, tf: npt.NDArray[np.int32]) -> bytes:
    """Stored form of a document's terms: hashes then counts (uint16, capped)."""
    return hashes.astype("<i8").tobytes() + np.minimum(tf, 65535).astype("<u2").tobytes()


def unpack(blob: bytes) -> tuple[HashArray, npt.NDArray[np.int32]]:
    n = len(blob) // 10
    hashes = np.frombuffer(blob[: 8 * n], dtype="<i8").astype(np.int64)
    tf = np.frombuffer(blob[8 * n :], dtype="<u2").astype(np.int32)
    return hashes, tf
