"""Text analysis for the embedded engine: Chinese, English and mixed text.

Two ways to cut Chinese, both lowercasing and stemming English:

- `han`: every Han character is a token (a regex tokenizer inside tantivy);
  a query turns each run of Han characters into overlapping two-character
  phrases, like Elasticsearch's `cjk` bigrams, so "口红" only matches the
  characters side by side.
- `jieba`: words from jieba's search mode (which also emits the shorter words
  inside long ones); tokens are computed in Python and handed to tantivy
  pre-tokenized.

Which one is the default was decided by precision@5 on the relevance set in
tests/search/relevance/ (see README there). Tantivy forgets custom tokenizers
when an index is closed, so `register` runs on every open.
"""

from __future__ import annotations

import functools
import html
import itertools
import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal, Protocol

import tantivy

ChineseMode = Literal["han", "jieba"]
TOKENIZER_NAME = "xl_text"
KEYWORD_TOKENIZER = "raw"
HAN_PATTERN = r"\p{Han}|[[\p{L}\p{N}]--\p{Han}]+"
_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef]+")
_WORD = re.compile(r"[^\W_]+")


def normalise(text: str) -> str:
    """Full-width letters and digits become ASCII, compatibility characters their plain form."""
    return unicodedata.normalize("NFKC", text)


@dataclass(frozen=True)
class Token:
    text: str
    start: int  # character offsets into the analysed text
    end: int
    position: int


@functools.cache
def _latin_analyzer() -> tantivy.TextAnalyzer:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.regex(HAN_PATTERN))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


class Analyzer(Protocol):
    mode: ChineseMode
    pretokenized: bool

    def register(self, index: tantivy.Index) -> None: ...

    def tokens(self, text: str) -> list[Token]: ...

    def query_clauses(self, text: str) -> list[tuple[str, ...]]:
        """What a query matches: each clause is a term (one element) or a phrase of adjacent terms."""


class HanAnalyzer:
    mode: ChineseMode = "han"
    pretokenized = False

    def register(self, index: tantivy.Index) -> None:
        index.register_tokenizer(TOKENIZER_NAME, _latin_analyzer())

    def tokens(self, text: str) -> list[Token]:
        pre = _latin_analyzer().pre_tokenize(text)
        return [Token(t.text, t.char_offset_from, t.char_offset_to, t.position) for t in pre.tokens]

    def query_clauses(self, text: str) -> list[tuple[str, ...]]:
        clauses: list[tuple[str, ...]] = []
        run: list[str] = []

        def flush() -> None:
            if len(run) == 1:
                clauses.append((run[0],))
            else:
                clauses.extend((a, b) for a, b in itertools.pairwise(run))
            run.clear()

        last_end = -1
        for tok in self.tokens(normalise(text)):
            is_han = len(tok.text) == 1 and _HAN_RUN.fullmatch(tok.text) is not None
            if is_han and run and tok.start == last_end:
                run.append(tok.text)
            else:
                if run:
                    flush()
                if is_han:
                    run.append(tok.text)
                else:
                    clauses.append((tok.text,))
            last_end = tok.end
        if run:
            flush()
        return _dedupe(clauses)


class JiebaAnalyzer:
    mode: ChineseMode = "jieba"
    pretokenized = True

    def __init__(self) -> None:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()
        self._jieba = jieba

    def register(self, index: tantivy.Index) -> None:
        # Values arrive pre-tokenized; the registered analyzer only serves tantivy's own snippets.
        index.register_tokenizer(TOKENIZER_NAME, _latin_analyzer())

    def tokens(self, text: str) -> list[Token]:
        out: list[Token] = []
        latin = _latin_analyzer()
        for word, start, end in self._jieba.tokenize(text, mode="search"):
            if not _WORD.search(word):
                continue
            if _HAN_RUN.search(word):
                out.append(Token(word, start, end, len(out)))
                continue
            for sub in latin.pre_tokenize(word).tokens:
                out.append(Token(sub.text, start + sub.char_offset_from, start + sub.char_offset_to, len(out)))
        return out

    def query_clauses(self, text: str) -> list[tuple[str, ...]]:
        return _dedupe([(t.text,) for t in self.tokens(normalise(text))])

    def pretokenize(self, text: str) -> tantivy.PreTokenizedString:
        return tantivy.PreTokenizedString(
            text, [tantivy.Token(t.text, t.position, t.start, t.end) for t in self.tokens(text)]
        )


def _dedupe(clauses: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    return list(dict.fromkeys(c for c in clauses if c))


@functools.cache
def analyzer(mode: ChineseMode) -> Analyzer:
    if mode == "jieba":
        return JiebaAnalyzer()
    if mode == "han":
        return HanAnalyzer()
    raise ValueError(f"unknown Chinese tokenizer {mode!r}: use 'han' or 'jieba'")


def highlight(an: Analyzer, text: str, clauses: list[tuple[str, ...]], tag: str = "em") -> str | None:
    """The whole text, HTML-escaped, with every matched term or phrase wrapped in <tag>; None if nothing matched."""
    tokens = an.tokens(text)
    spans: list[tuple[int, int]] = []
    for clause in clauses:
        n = len(clause)
        for i in range(len(tokens) - n + 1):
            window = tokens[i : i + n]
            if all(t.text == c for t, c in zip(window, clause, strict=True)) and all(
                b.position == a.position + 1 for a, b in itertools.pairwise(window)
            ):
                spans.append((window[0].start, window[-1].end))
    if not spans:
        return None
    spans.sort()
    merged: list[list[int]] = [list(spans[0])]
    for start, end in spans[1:]:
        if start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, pos = [], 0
    for start, end in merged:
        out.append(html.escape(text[pos:start]))
        out.append(f"<{tag}>{html.escape(text[start:end])}</{tag}>")
        pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out)
