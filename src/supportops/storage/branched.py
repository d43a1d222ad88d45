"""The branched migration history of the releases up to 4536969, frozen, and the one revision
of today's single line at which a database such a release left stands.

Those releases kept one row in the version table per branch head (every revision stood on
``0001_foundation`` or ``0002_privacy``). Each release applied all of its heads at once, so
the databases they left hold one of two sets: the first release's (``0001``-``0004``) and the
last one's (every revision up to ``0014_domain_terms``). The single line keeps the revision
ids and orders them as the last release applied them to a workspace of the first:
``0010_subjects`` before ``0005_integrity``, because the data of that first release is brought
forward between the two.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from itertools import takewhile

from supportops.errors import ConfigError

#: Each revision of the branched history and those it stood on (``down_revision`` and
#: ``depends_on``), as they were: never edit.
BRANCHED_PARENTS: dict[str, tuple[str, ...]] = {
    "0001_foundation": (),
    "0002_privacy": ("0001_foundation",),
    "0003_ml": ("0001_foundation",),
    "0004_analytics": ("0001_foundation",),
    "0005_integrity": ("0001_foundation", "0002_privacy"),
    "0006_boundary": ("0001_foundation",),
    "0010_subjects": ("0002_privacy",),
    "0011_assist": ("0001_foundation",),
    "0012_server": ("0001_foundation",),
    "0013_monitor": ("0001_foundation",),
    "0014_domain_terms": ("0002_privacy",),
}


def applied(heads: Collection[str]) -> set[str]:
    """Every revision a database at these branched heads has run."""
    done: set[str] = set()
    todo = list(heads)
    while todo:
        revision = todo.pop()
        if revision not in done:
            done.add(revision)
            todo.extend(BRANCHED_PARENTS[revision])
    return done


def single_revision(heads: Collection[str], line: Sequence[str]) -> str:
    """The revision of ``line`` (base first) that has run exactly what ``heads`` ran."""
    unknown = sorted(set(heads) - BRANCHED_PARENTS.keys())
    if unknown:
        raise ConfigError(f"The database's version table names {', '.join(unknown)}, which no "
                          "release of supportops wrote: restore the workspace from a backup.")
    done = applied(heads)
    prefix = list(takewhile(done.__contains__, line))
    if not prefix or set(prefix) != done:
        raise ConfigError(
            f"The database stands at revisions {', '.join(sorted(heads))}, a set no release of "
            "supportops left: upgrade it with the release that wrote it (or restore a backup) "
            "first, then run 'supportops init' again.")
    return prefix[-1]
