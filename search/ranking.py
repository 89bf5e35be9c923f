"""Scores computed when a document is built, and the weights the feed ranks with.

Engagement and completion are Bayesian averages: each video starts with
PRIOR_VIEWS imaginary views at the prior rate, so a handful of views cannot
produce an extreme rate. A video with 3 views and 3 likes scores
(3 + 200*0.05) / (3 + 200) = 0.064; one with 10 000 views and 2 000 likes
scores (2000 + 10) / 10 200 = 0.197.
"""

from __future__ import annotations

import datetime as dt
import math

ENGAGEMENT_PRIOR_VIEWS = 200
ENGAGEMENT_PRIOR_RATE = 0.05
COMPLETION_PRIOR_VIEWS = 50
COMPLETION_PRIOR_RATE = 0.3

# Interactions say more than a view; a purchase says most.
LIKE_WEIGHT, SHARE_WEIGHT, CLICK_WEIGHT, PURCHASE_WEIGHT = 1.0, 2.0, 2.0, 5.0

# Feed ("for you") ranking: every term is in [0, ~1] before its weight.
FEED_ENGAGEMENT_WEIGHT = 4.0
FEED_COMPLETION_WEIGHT = 1.5
FEED_RECENCY_WEIGHT = 1.0
FEED_RECENCY_SCALE = dt.timedelta(days=3)  # a 3-day-old video keeps half its freshness
FEED_FOLLOWED_WEIGHT = 1.0
FEED_INTEREST_WEIGHT = 0.8  # split across the user's top interest tags by their weight
FEED_NEW_CREATOR_WEIGHT = 0.3  # creators whose account is younger than NEW_CREATOR_WINDOW
NEW_CREATOR_WINDOW = dt.timedelta(days=30)
FEED_INTEREST_TAGS = 5
# The fallback, once nothing fresh is left: seen longest ago first (groups by rank of when last seen), popular
# first within a group. A group step outweighs any popularity (log10 of views stays below 10).
FALLBACK_GROUPS = 4
FALLBACK_GROUP_WEIGHT = 10.0
FALLBACK_POPULARITY_WEIGHT = 1.0

# Search: text relevance times a gentle popularity factor.
SEARCH_POPULARITY_WEIGHT = 0.1


def engagement_rate(*, views: int, likes: int, shares: int, product_clicks: int, purchases: int) -> float:
    interactions = (
        LIKE_WEIGHT * likes + SHARE_WEIGHT * shares + CLICK_WEIGHT * product_clicks + PURCHASE_WEIGHT * purchases
    )
    return (interactions + ENGAGEMENT_PRIOR_VIEWS * ENGAGEMENT_PRIOR_RATE) / (views + ENGAGEMENT_PRIOR_VIEWS)


def smoothed_completion(*, views: int, completion_sum: float) -> float:
    return (completion_sum + COMPLETION_PRIOR_VIEWS * COMPLETION_PRIOR_RATE) / (views + COMPLETION_PRIOR_VIEWS)


def popularity(views: int) -> float:
    """log10 of views, so search ranking prefers popular videos without burying fresh ones."""
    return math.log10(1 + max(views, 0))
