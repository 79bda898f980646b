"""The pure suggestion rules: query terms, the light stemmer, matched terms, passages, score."""

from __future__ import annotations

import pytest

from opsdesk.core.errors import ValidationFailed
from opsdesk.knowledge import text_terms
from opsdesk.knowledge.suggest import _fts5_query, _tsquery, parse_kinds
from opsdesk.knowledge.text_terms import Signals


def test_query_terms_drop_stop_words_repeats_and_contractions() -> None:
    text = "My printer isn't printing; the PRINTER queue is stuck. Printers!"
    assert text_terms.query_terms(text) == ["printer", "queue", "stuck"]
    assert text_terms.query_terms("it is not the") == []
    assert text_terms.query_terms("") == []


def test_query_terms_keep_unicode_words_and_codes_but_no_operators() -> None:
    terms = text_terms.query_terms('Fehler "0x80070005" bei Anmeldung -- NOT OR * ( )')
    assert terms == ["fehler", "0x80070005", "bei", "anmeldung"]
    assert all(term.isalnum() for term in terms)


def test_query_terms_are_bounded() -> None:
    many = " ".join(f"word{i}" for i in range(100))
    assert len(text_terms.query_terms(many)) == text_terms.MAX_TERMS
    assert text_terms.query_terms("x " * 5000 + "late") == []  # past MAX_TEXT is not read


@pytest.mark.parametrize(
    ("word", "stem"),
    [
        ("printing", "print"),
        ("printer", "print"),
        ("printers", "print"),
        ("prints", "print"),
        ("stopped", "stop"),
        ("policies", "policy"),
        ("syncing", "sync"),
        ("vpn", "vpn"),
    ],
)
def test_stem(word: str, stem: str) -> None:
    assert text_terms.stem(word) == stem


def test_matched_terms_by_stem_and_long_shared_start() -> None:
    terms = ["printing", "offline", "authenticating", "vpn"]
    text = "Printers shown as Offline after authentication changes"
    assert text_terms.matched_terms(terms, text) == ["printing", "offline", "authenticating"]


def test_passage_is_the_sentence_with_most_matches_cut_to_width() -> None:
    texts = ["Printer fine. The printer queue is stuck and offline. Other sentence."]
    assert text_terms.passage(["printer", "offline"], texts) == (
        "The printer queue is stuck and offline."
    )
    long = ["printer " * 100]
    cut = text_terms.passage(["printer"], long, width=40)
    assert len(cut) <= 40 and cut.endswith("…")
    assert text_terms.passage(["absent"], texts) == ""


def test_coverage_counts_title_matches_more() -> None:
    terms = ["printer", "offline"]
    assert text_terms.coverage(terms, "Printer", "offline") == 1.0
    assert text_terms.coverage(terms, "", "printer") == 0.5
    assert text_terms.coverage(terms, "Printer", "") == 0.75
    assert text_terms.coverage([], "a", "b") == 0.0


def test_score_fuses_and_scales_by_recency() -> None:
    full = Signals(lexical=1.0, coverage=1.0)
    assert text_terms.score(full) == 1.0
    assert text_terms.score(Signals(lexical=1.0, coverage=1.0, recency=0.0)) == 0.8
    assert text_terms.score(Signals(lexical=0.0, coverage=0.0)) == 0.0
    with_meaning = Signals(lexical=0.0, coverage=0.0, semantic=0.8)
    assert text_terms.score(with_meaning) == 0.4
    assert text_terms.score(Signals(lexical=1.0, coverage=1.0, semantic=-0.5)) == 0.5


def test_index_queries_or_the_terms_and_prefix_the_unfinished_last_word() -> None:
    assert _fts5_query(["vpn", "drops"], prefix_last=False) == '"vpn" OR "drops"'
    assert _fts5_query(["vpn", "dro"], prefix_last=True) == '"vpn" OR "dro"*'
    assert _fts5_query(["vpn", "dr"], prefix_last=True) == '"vpn" OR "dr"'
    assert _tsquery(["vpn", "dro"], prefix_last=True) == "vpn | dro:*"


def test_kinds_parse_or_name_the_parameter() -> None:
    assert parse_kinds("incident, article,incident") == ("incident", "article")
    for bad in ("", ",", "articles", "article,people"):
        with pytest.raises(ValidationFailed) as refused:
            parse_kinds(bad)
        assert refused.value.field == "kinds"


def test_the_narrow_query_asks_for_two_of_the_first_words() -> None:
    from opsdesk.knowledge.suggest import PAIR_TERMS, _queries

    pairs, wide = _queries(["vpn", "drops", "home"], prefix_last=True, postgres=False)
    assert pairs == '("vpn" AND "drops") OR ("vpn" AND "home"*) OR ("drops" AND "home"*)'
    assert wide == '"vpn" OR "drops" OR "home"*'
    assert _queries(["vpn", "drops"], prefix_last=False, postgres=True) == [
        "(vpn & drops)",
        "vpn | drops",
    ]
    assert _queries(["vpn"], prefix_last=True, postgres=True) == ["vpn:*"]
    many = [f"w{i}" for i in range(12)]
    narrow = _queries(many, prefix_last=False, postgres=True)[0]
    assert narrow.count("&") == PAIR_TERMS * (PAIR_TERMS - 1) // 2
    assert "w8" not in narrow
