"""Content fit from the search engine: how well an artist's live videos answer the brief's words.

One query on the videos index with the brief's text (title, brief, category
names and keywords, the products' names, the must-have hashtags). Each
creator's hits add up with diminishing weight (their best video counts fully,
the second half, the third a third, ...), so several relevant videos beat one
lucky match; the best creator scores 1 and the others in proportion.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from commerce.booking.models import Campaign
from commerce.catalog import categories
from commerce.catalog.models import Product
from search.engine import IndexNotFound, SearchEngine, SearchError
from search.query import Match, SearchRequest

log = logging.getLogger(__name__)

BRIEF_FIELDS = {"title": 3.0, "hashtags_text": 2.0, "product_names": 2.0, "description": 1.0}
MAX_QUERY_CHARS = 400
CANDIDATE_VIDEOS = 1000


def brief_text(session: Session, campaign: Campaign) -> str:
    """The words a video that fits this brief would likely contain."""
    parts = [campaign.title, *campaign.must_hashtags]
    c = categories.get(campaign.category)
    if c is not None:
        parts.append(c.text())
    if campaign.product_ids:
        parts += session.scalars(select(Product.name).where(Product.id.in_(campaign.product_ids)))
    parts.append(campaign.brief)
    return " ".join(" ".join(p.split()) for p in parts if p)[:MAX_QUERY_CHARS]


def content_relevance(session: Session, engine: SearchEngine, campaign: Campaign) -> dict[int, float] | None:
    """Artist id -> relevance in [0, 1]; None when the search engine could not answer (the part then counts 0)."""
    request = SearchRequest(
        match=Match(brief_text(session, campaign), BRIEF_FIELDS), size=CANDIDATE_VIDEOS, with_total=False
    )
    try:
        result = engine.search("videos", request)
    except IndexNotFound:
        return {}
    except SearchError:
        log.warning("search engine unavailable: ranking campaign %s without content relevance", campaign.id)
        return None
    per_creator: dict[int, list[float]] = defaultdict(list)
    for hit in result.hits:
        creator = hit.source.get("creator_id")
        if creator is not None and hit.score:
            per_creator[int(creator)].append(float(hit.score))
    totals = {
        artist_id: sum(score / (i + 1) for i, score in enumerate(sorted(scores, reverse=True)))
        for artist_id, scores in per_creator.items()
    }
    best = max(totals.values(), default=0.0)
    return {artist_id: total / best for artist_id, total in totals.items()} if best > 0 else {}
