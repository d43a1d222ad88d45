"""Sentiment trend from a small, transparent word lexicon (no model exists yet).

A text's score is ``(positive - negative) / (positive + negative)`` over its lexicon hits,
in ``[-1, 1]``; texts without hits score 0. A word right after a negator ("not", "never",
"no", ...) counts with the opposite sign. Crude, but every number can be traced to words;
swap in a trained sentiment model by replacing ``score_texts``.
"""

from __future__ import annotations

from typing import Any

import duckdb

from supportops.analytics.metrics import rows


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


POSITIVE = _words("""
thanks thank thx great good excellent awesome amazing perfect love happy glad helpful
appreciate appreciated resolved works working fixed quick fast easy nice wonderful pleased
satisfied fantastic brilliant smooth kind friendly solved best""")
NEGATIVE = _words("""
angry annoyed annoying frustrated frustrating terrible awful horrible bad worst broken
fail failed failing failure error errors problem problems issue issues wrong slow
disappointed disappointing unacceptable useless complaint complain refund cancel charged
lost stolen stuck declined denied delay delayed late waiting wait unhappy ridiculous
hate poor fraud scam worried urgent crash crashed down""")
NEGATORS = _words("not no never don't doesn't didn't isn't wasn't can't cannot won't")


def _lexicon_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE OR REPLACE TEMP TABLE lexicon (word VARCHAR, polarity INTEGER)")
    con.executemany("INSERT INTO lexicon VALUES (?, ?)",
                    [(w, 1) for w in sorted(POSITIVE)] + [(w, -1) for w in sorted(NEGATIVE)])
    con.execute("CREATE OR REPLACE TEMP TABLE negator (word VARCHAR)")
    con.executemany("INSERT INTO negator VALUES (?)", [(w,) for w in sorted(NEGATORS)])


def score_texts(con: duckdb.DuckDBPyConnection) -> None:
    """Table ``sentiment(ticket_id, ts, score)``: customer texts of the selected tickets."""
    _lexicon_table(con)
    con.execute("""
        CREATE OR REPLACE TABLE sentiment AS
        WITH texts AS (
            SELECT ticket_id, seq, ts, text FROM ev SEMI JOIN sel USING (ticket_id)
            WHERE text IS NOT NULL AND (type = 'ticket.created'
                  OR (type = 'message.added' AND author = 'customer'))),
        split AS (
            SELECT seq, regexp_split_to_array(lower(text), '[^a-z'']+') AS arr FROM texts),
        words AS (
            SELECT seq, unnest(arr) AS word, generate_subscripts(arr, 1) AS i FROM split),
        marked AS (
            SELECT seq, word, lag(word) OVER (PARTITION BY seq ORDER BY i) AS prev
            FROM words),
        hits AS (
            SELECT seq, sum(CASE WHEN prev IN (SELECT word FROM negator)
                                 THEN -polarity ELSE polarity END) AS net,
                   count(*) AS n
            FROM marked JOIN lexicon USING (word) GROUP BY seq)
        SELECT ticket_id, ts, COALESCE(net / n, 0.0) AS score
        FROM texts LEFT JOIN hits USING (seq)""")


def trend(con: duckdb.DuckDBPyConnection, period: str) -> dict[str, Any]:
    """Mean score and share of negative texts, overall and per period."""
    score_texts(con)
    head = rows(con, """SELECT count(*) AS texts, avg(score) AS mean,
                               avg(CASE WHEN score < 0 THEN 1.0 ELSE 0.0 END) AS negative_share
                        FROM sentiment""")[0]
    per = rows(con, f"""
        SELECT date_trunc('{period}', ts) AS period, count(*) AS texts, avg(score) AS mean,
               avg(CASE WHEN score < 0 THEN 1.0 ELSE 0.0 END) AS negative_share
        FROM sentiment GROUP BY ALL ORDER BY period""")
    return {"method": "lexicon", **head, "trend": per}
