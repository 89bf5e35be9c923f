"""Tag suggestions: which products (and topic hashtags) fit a video, from its text.

The video's title, hashtags and description are matched against the products its
owner may link: segmented with jieba (search mode, so 连衣裙 also yields 连衣/衣裙),
English words lower-cased and de-pluralised, and scored with BM25F over the product's
name, category names (Chinese, English and the words shoppers use for it), brand and
description. Ranking sits behind `ProductRanker`, so the search engine can take over
without changing callers; the in-process ranker needs no index because the candidate
set (one brand's catalog plus a showcase) is small.

Decisions are recorded per video. A dismissed product or hashtag is never suggested for
that video again, and the uploader's decisions on other videos nudge future scores
(products they keep accepting rise, ones they keep dismissing sink).
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import jieba
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from commerce.catalog import categories
from commerce.catalog.limits import CatalogLimits
from commerce.catalog.links import LinkSpec, append_link, linkable_product_ids, links_conflict, video_for_editor
from commerce.catalog.models import Decision, Product, SuggestionKind, TagDecision, VideoProduct
from commerce.catalog.products import get_product
from commerce.catalog.tx import unit_of_work
from core import clock
from core.accounts.models import User
from core.errors import ValidationFailed, register_messages
from media.models import Video

jieba.setLogLevel(logging.WARNING)

register_messages(
    {"invalid_hashtag": ("话题应为 1–30 个字，不含空格和 #", "Hashtags are 1–30 characters, no spaces or #")}
)

K1 = 1.2
B = 0.75
QUERY_WEIGHTS = {"title": 2.0, "hashtags": 2.0, "description": 1.0}
PRODUCT_FIELD_WEIGHTS = {"name": 3.0, "category": 1.5, "brand": 1.0, "description": 1.0}
# A word repeated in a caption counts, but not without bound (keyword stuffing).
MAX_QUERY_WEIGHT = 6.0
HISTORY_BOOST = 0.1  # per earlier acceptance of the product by this uploader, up to 5
HISTORY_PENALTY = 0.85  # per earlier dismissal, up to 5
MAX_HASHTAG_LENGTH = 30

_STOPWORD_TEXT = (
    "的 了 和 与 及 是 在 我 你 他 她 它 我们 你们 他们 这 那 这个 那个 就 都 也 很 还 有 没有 一个 一条 一款 "
    "一下 今天 明天 超 真的 啊 吧 呢 吗 哦 呀 嘛 个 把 被 给 让 用 买 好 更 最 太 啦 推荐 分享 必备 "
    "an the and or of for to in on at with my your our his her its is are was be this that it you me we "
    "new best review unboxing haul video today"
)
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_CJK = re.compile(r"[\u3400-\u9fff]+")
_ASCII_WORD = re.compile(r"[0-9a-z]+")


def _stem(word: str) -> str:
    """Just enough English de-pluralising for product words: dresses->dress, earbuds->earbud, cases->case."""
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """Search-mode segmentation: Chinese words and their sub-words, English words lower-cased and stemmed."""
    out = []
    for raw in jieba.cut_for_search(text):
        token = raw.strip().lower()
        if _CJK.fullmatch(token):
            pass
        elif _ASCII_WORD.fullmatch(token) and len(token) >= 2:
            token = _stem(token)
        else:
            continue  # punctuation, emoji, single letters
        if token not in STOPWORDS:
            out.append(token)
    return out


def weighted_terms(fields: Mapping[str, str], weights: Mapping[str, float]) -> Counter[str]:
    terms: Counter[str] = Counter()
    for name, text in fields.items():
        for token in tokenize(text):
            terms[token] += weights[name]
    return terms


K = TypeVar("K", bound=Hashable)


def bm25(query: Mapping[str, float], docs: Mapping[K, Counter[str]]) -> dict[K, float]:
    """BM25F scores (field weights already folded into the term counts) of every doc; 0 means no shared term."""
    if not docs:
        return {}
    n = len(docs)
    lengths = {key: sum(terms.values()) for key, terms in docs.items()}
    avg = sum(lengths.values()) / n or 1.0
    df: Counter[str] = Counter()
    for terms in docs.values():
        df.update(t for t in terms if t in query)
    scores = {}
    for key, terms in docs.items():
        norm = K1 * (1 - B + B * lengths[key] / avg)
        score = 0.0
        for term, q_weight in query.items():
            tf = terms.get(term, 0.0)
            if tf:
                idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
                score += min(q_weight, MAX_QUERY_WEIGHT) * idf * tf * (K1 + 1) / (tf + norm)
        scores[key] = score
    return scores


@dataclass(frozen=True)
class QueryText:
    title: str
    description: str = ""
    hashtags: Sequence[str] = ()

    @classmethod
    def of(cls, video: Video) -> QueryText:
        return cls(video.title or "", video.description or "", list(video.hashtags or []))

    def terms(self) -> Counter[str]:
        return weighted_terms(
            {"title": self.title, "description": self.description, "hashtags": " ".join(self.hashtags)}, QUERY_WEIGHTS
        )


@dataclass(frozen=True)
class Scored:
    id: int
    score: float


class ProductRanker(Protocol):
    """Scores candidate products against a video's text; the search engine can implement this later."""

    def rank(self, session: Session, query: QueryText, candidate_ids: Sequence[int]) -> list[Scored]: ...


def product_text(product: Product) -> dict[str, str]:
    category = categories.leaf(product.category)
    return {
        "name": product.name,
        "category": category.text() if category else "",
        "brand": product.brand.name,
        "description": product.description,
    }


class Bm25Ranker:
    """Ranks a small candidate set in process."""

    def rank(self, session: Session, query: QueryText, candidate_ids: Sequence[int]) -> list[Scored]:
        if not candidate_ids:
            return []
        products = session.scalars(select(Product).where(Product.id.in_(candidate_ids))).unique()
        docs = {p.id: weighted_terms(product_text(p), PRODUCT_FIELD_WEIGHTS) for p in products}
        scores = bm25(query.terms(), docs)
        return sorted((Scored(pid, s) for pid, s in scores.items() if s > 0), key=lambda x: (-x.score, x.id))


@functools.cache
def _category_docs() -> dict[str, Counter[str]]:
    leaves = [c for root in categories.ROOTS for c in root.children]
    return {c.code: weighted_terms({"text": c.text()}, {"text": 1.0}) for c in leaves}


def normalise_hashtag(tag: str) -> str:
    return tag.strip().lstrip("#＃").strip().lower()


@dataclass(frozen=True)
class ProductSuggestion:
    product: Product
    score: float


@dataclass(frozen=True)
class HashtagSuggestion:
    tag: str
    score: float


@dataclass(frozen=True)
class Suggestions:
    products: list[ProductSuggestion]
    hashtags: list[HashtagSuggestion]


def _history_factor(session: Session, user_id: int, video_id: int, product_ids: Sequence[int]) -> dict[int, float]:
    """How this uploader treated each product on their other videos."""
    rows = session.execute(
        select(TagDecision.key, TagDecision.decision, func.count())
        .where(
            TagDecision.user_id == user_id,
            TagDecision.kind == SuggestionKind.PRODUCT,
            TagDecision.video_id != video_id,
            TagDecision.key.in_([str(p) for p in product_ids]),
        )
        .group_by(TagDecision.key, TagDecision.decision)
    ).all()
    factor = dict.fromkeys(product_ids, 1.0)
    for key, decision, count in rows:
        n = min(int(count), 5)
        pid = int(key)
        factor[pid] *= (1 + HISTORY_BOOST * n) if decision == Decision.ACCEPTED else HISTORY_PENALTY**n
    return factor


def suggest(
    session: Session,
    user: User | None,
    video_id: int,
    *,
    limit: int = 5,
    hashtag_limit: int = 8,
    ranker: ProductRanker | None = None,
) -> Suggestions:
    """Products worth linking (best first, none already linked or dismissed) and hashtags worth adding."""
    video = video_for_editor(session, user, video_id)
    query = QueryText.of(video)
    decided = {
        (d.kind, d.key): d.decision
        for d in session.scalars(select(TagDecision).where(TagDecision.video_id == video.id))
    }
    linked = set(session.scalars(select(VideoProduct.product_id).where(VideoProduct.video_id == video.id)))
    candidates = [
        pid
        for pid in linkable_product_ids(session, video)
        if pid not in linked and decided.get((SuggestionKind.PRODUCT, str(pid))) != Decision.DISMISSED
    ]
    ranked = (ranker or Bm25Ranker()).rank(session, query, candidates)
    factor = _history_factor(session, video.uploader_id, video.id, [r.id for r in ranked])
    ranked = sorted((Scored(r.id, r.score * factor[r.id]) for r in ranked), key=lambda x: (-x.score, x.id))[:limit]
    products = {p.id: p for p in session.scalars(select(Product).where(Product.id.in_([r.id for r in ranked])))}
    product_suggestions = [ProductSuggestion(products[r.id], round(r.score, 4)) for r in ranked]
    dismissed = {k for (kind, k), d in decided.items() if kind == SuggestionKind.HASHTAG and d == Decision.DISMISSED}
    present = {normalise_hashtag(t) for t in video.hashtags or []} | dismissed
    tags = _hashtags(query, product_suggestions, present, hashtag_limit)
    return Suggestions(product_suggestions, tags)


def _hashtags(
    query: QueryText, products: Sequence[ProductSuggestion], exclude: set[str], limit: int
) -> list[HashtagSuggestion]:
    """Topic hashtags: the categories the video is about, and catalog words the video and its products share."""
    terms = query.terms()
    scores: Counter[str] = Counter()
    words: set[str] = set()  # tags that came from segmentation (category names are whole by definition)
    by_category = bm25(terms, _category_docs())
    top = max(by_category.values(), default=0.0) or 1.0
    for code, score in sorted(by_category.items(), key=lambda kv: -kv[1])[:3]:
        leaf = categories.leaf(code)
        if score > 0 and leaf is not None and leaf.parent is not None:
            scores[leaf.name_zh] += score / top
            scores[leaf.parent.name_zh] += 0.5 * score / top
    best = max((p.score for p in products), default=0.0) or 1.0
    for suggestion in products:
        weight = suggestion.score / best
        leaf = categories.leaf(suggestion.product.category)
        if leaf is not None:
            scores[leaf.name_zh] += weight
        for token in set(tokenize(suggestion.product.name)):
            # Words of the product's name the caption also uses are the topic in the shopper's own words.
            if token in terms and (len(token) >= 2 if _CJK.fullmatch(token) else len(token) >= 3):
                scores[token] += 0.8 * weight
                words.add(token)
    # Search-mode segmentation yields 连衣 and 衣裙 beside 连衣裙: fold sub-words into the whole word.
    for tag in sorted(words, key=len):
        longer = [other for other in words if other != tag and tag in other and other in scores]
        if longer:
            for other in longer:
                scores[other] = max(scores[other], scores[tag])
            del scores[tag]
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    return [HashtagSuggestion(tag, round(score, 4)) for tag, score in ranked if normalise_hashtag(tag) not in exclude][
        :limit
    ]


# -- decisions --------------------------------------------------------------------------------------


def _record(
    session: Session, user: User | None, video_id: int, *, kind: SuggestionKind, key: str, decision: Decision
) -> None:
    row = session.get(TagDecision, (video_id, kind, key))
    if row is None:
        row = TagDecision(video_id=video_id, kind=kind, key=key)
        session.add(row)
    row.decision = decision
    row.user_id = user.id if user else None
    row.decided_at = clock.now()


def accept_product(
    session: Session, user: User | None, video_id: int, spec: LinkSpec, *, limits: CatalogLimits
) -> VideoProduct:
    """Link the suggested product and remember the acceptance, together."""
    with unit_of_work(session, links_conflict):
        link = append_link(session, user, video_id, spec, limits=limits)
        _record(
            session, user, video_id, kind=SuggestionKind.PRODUCT, key=str(spec.product_id), decision=Decision.ACCEPTED
        )
    return link


def dismiss_product(session: Session, user: User | None, video_id: int, product_id: int) -> None:
    """Never suggest this product for this video again."""
    with unit_of_work(session):
        video_for_editor(session, user, video_id)
        get_product(session, product_id)
        _record(session, user, video_id, kind=SuggestionKind.PRODUCT, key=str(product_id), decision=Decision.DISMISSED)


def decide_hashtag(session: Session, user: User | None, video_id: int, tag: str, decision: Decision) -> str:
    """Record what the uploader did with a hashtag suggestion; the video's own hashtags are edited with the video."""
    normal = normalise_hashtag(tag)
    if not normal or len(normal) > MAX_HASHTAG_LENGTH or any(ch.isspace() for ch in normal):
        raise ValidationFailed.one("hashtag", "invalid_hashtag")
    with unit_of_work(session):
        video_for_editor(session, user, video_id)
        _record(session, user, video_id, kind=SuggestionKind.HASHTAG, key=normal, decision=decision)
    return normal
