"""Suggestion text rules (pure): query terms from typed text, which terms a candidate matches,
the passage that shows why, and the score that fuses the ranking signals.

The database does the real stemming (FTS5 ``porter``, PostgreSQL ``english``); the light
stemmer here only decides which of the query's words a candidate contains, for the
explanation and the coverage part of the score, so it may be rougher than Porter's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

MAX_TEXT = 2000  # characters of typed text a query reads
MAX_TERMS = 24  # query terms sent to the index
PASSAGE_CHARS = 180

_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)?", re.UNICODE)
_SENTENCE = re.compile(r"(?<=[.!?;:\n])\s+")

# English function words and service-desk filler: they match everything and explain nothing.
_STOP_TEXT = """
    a about above after again against all am an and any are as at be because been before being
    below between both but by can cannot could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    out over own same she should so some such than that the their theirs them then there these
    they this those through to too under until up very was we were what when where which while
    who whom why will with would you your yours yourself also get got getting gets since still
    again please hi hello thanks thank regards dear team anyone someone somebody something
    anything everything ever even really today yesterday morning afternoon keep keeps kept
    since help need needs want tried try trying issue problem problems issues work working
    works worked doesn't don't didn't isn't can't won't wont cant dont doesnt didnt isnt im ive
    i'm i've it's its we're there's seems seem seemed like one us via per able unable
    every come comes came coming go goes going went give gives gave make makes made say says
    said see seen saw show shows showing shown
    """
STOP_WORDS = frozenset(_STOP_TEXT.split())


def words(text: str) -> list[str]:
    """The lower-cased words of ``text`` (letters and digits; an inner apostrophe stays)."""
    return [match.group(0).lower().replace("\u2019", "'") for match in _WORD.finditer(text)]


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light English suffix stripper: enough to see "printing" and "printer" as "print"."""
    word = word.lower().replace("'", "")
    if len(word) <= 3:
        return word
    for suffix, keep in (
        ("ational", "ate"),
        ("ization", "ize"),
        ("iness", "y"),
        ("ies", "y"),
        ("ied", "y"),
        ("ings", ""),
        ("ing", ""),
        ("edly", ""),
        ("ers", ""),
        ("er", ""),
        ("ed", ""),
        ("ly", ""),
        ("es", ""),
        ("s", ""),
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: len(word) - len(suffix)] + keep
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
        word = word[:-1]  # "stopp" → "stop"
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


def query_terms(text: str, *, limit: int = MAX_TERMS) -> list[str]:
    """Distinct content words of ``text`` in order of appearance: stop words, one-letter
    words and pure punctuation dropped, at most ``limit``."""
    seen: set[str] = set()
    terms: list[str] = []
    for word in words(text[:MAX_TEXT]):
        if word in STOP_WORDS or len(word) < 2 or "'" in word:
            continue
        key = stem(word)
        if key in seen:
            continue
        seen.add(key)
        terms.append(word)
        if len(terms) >= limit:
            break
    return terms


PREFIX_MIN = 5  # a shared start this long counts: "authenticat" ~ "authentication"


@dataclass(frozen=True)
class Stems:
    """The stems of a text, and every start (5+ letters) of its longer stems."""

    exact: frozenset[str]
    starts: frozenset[str]

    def has(self, term_stem: str) -> bool:
        if term_stem in self.exact:
            return True
        if len(term_stem) < PREFIX_MIN:
            return False
        # One of the two begins with the other: "config" ~ "configur".
        return term_stem in self.starts or any(
            term_stem[:end] in self.exact for end in range(PREFIX_MIN, len(term_stem))
        )


def stems_of(text: str) -> Stems:
    exact = frozenset(stem(word) for word in words(text))
    starts = frozenset(
        key[:end] for key in exact if len(key) > PREFIX_MIN for end in range(PREFIX_MIN, len(key))
    )
    return Stems(exact, starts)


def matched_in(terms: Sequence[str], stems: Stems) -> list[str]:
    """The query terms (as the user wrote them) whose stems ``stems`` holds."""
    return [term for term in terms if stems.has(stem(term))]


def matched_terms(terms: Sequence[str], text: str) -> list[str]:
    """The query terms (as the user wrote them) that occur in ``text``, stemmed."""
    return matched_in(terms, stems_of(text))


def passage(terms: Sequence[str], texts: Iterable[str], *, width: int = PASSAGE_CHARS) -> str:
    """The sentence of ``texts`` that holds the most query terms, cut to ``width``."""
    best, best_hits = "", 0
    for text in texts:
        for sentence in _SENTENCE.split(text):
            sentence = " ".join(sentence.split())
            if not sentence:
                continue
            hits = len(matched_terms(terms, sentence))
            if hits > best_hits:
                best, best_hits = sentence, hits
    if len(best) > width:
        best = best[: width - 1].rsplit(" ", 1)[0] + "…"
    return best


@dataclass(frozen=True)
class Signals:
    """What one candidate's score is made of (each from 0 to 1)."""

    lexical: float  # the database's rank, relative to the best candidate of its kind
    coverage: float  # share of the query terms it contains, title matches counting more
    recency: float = 1.0  # incidents: 1 now, falling to 0.5 at the end of the window
    semantic: float | None = None  # cosine similarity of sentence embeddings (ai extra)


def coverage(terms: Sequence[str], title: str, body: str) -> float:
    """Share of the query terms found, a title match counting 1.5 (capped at 1)."""
    return coverage_of(terms, stems_of(title), stems_of(body))


def coverage_of(terms: Sequence[str], title: Stems, body: Stems) -> float:
    """``coverage`` on stems computed once per candidate."""
    if not terms:
        return 0.0
    in_title = set(matched_in(terms, title))
    in_body = set(matched_in(terms, body))
    points = sum(1.5 if term in in_title else 1.0 if term in in_body else 0.0 for term in terms)
    return min(1.0, points / len(terms))


def score(signals: Signals) -> float:
    """The fused score: lexical rank and coverage, then (with embeddings) the cosine
    similarity, scaled by recency. Rounded to 3 places for display."""
    lexical = 0.55 * signals.lexical + 0.45 * signals.coverage
    if signals.semantic is not None:
        lexical = 0.5 * lexical + 0.5 * max(0.0, signals.semantic)
    return round(lexical * (0.8 + 0.2 * signals.recency), 3)
