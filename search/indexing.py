"""Outbox-driven indexing: every committed change reaches the index, exactly as new as it is.

The relay hands each topic's events to `Indexer.consume`, which rebuilds the
documents from the database and writes them with the event id as external
version. So the path is:

- idempotent: a redelivered batch (the relay died after writing, before
  marking) carries the same versions, which the engine treats as stale;
- ordered: an older event that arrives late cannot overwrite a newer one;
- complete: the document always reflects the database at delivery time.

While a reindex builds a new physical index, writes go to it as well as to
the alias, so nothing committed during the rebuild is missing after the swap.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from commerce.catalog.models import VideoProduct
from core.accounts.models import User
from core.outbox import Message, OutboxEvent, Relay, emit
from media.models import Video
from search.documents import ENTITIES, Entity, entity_for_topic
from search.engine import IndexNotFound, SearchEngine, physical_name
from search.models import BuildStatus, IndexBuild
from search.query import Action, BulkResult, Delete, Upsert

log = logging.getLogger(__name__)

INITIAL_STAMP = "0"


def ensure_index(engine: SearchEngine, entity: Entity) -> None:
    """Create the first physical index and its alias on a fresh installation."""
    if engine.resolve_alias(entity.alias) is not None:
        return
    name = physical_name(entity.alias, INITIAL_STAMP)
    engine.create_index(name, entity.schema)
    engine.point_alias(entity.alias, name)


def building_indexes(session: Session, alias: str) -> list[str]:
    return list(
        session.scalars(
            select(IndexBuild.index_name).where(IndexBuild.alias == alias, IndexBuild.status == BuildStatus.BUILDING)
        )
    )


def latest_versions(session: Session, topic: str, ids: Iterable[int]) -> dict[int, int]:
    """The newest outbox event per entity: the version a document built now may carry."""
    keys = [str(i) for i in ids]
    if not keys:
        return {}
    rows = session.execute(
        select(OutboxEvent.entity_id, func.max(OutboxEvent.id))
        .where(OutboxEvent.topic == topic, OutboxEvent.entity_id.in_(keys))
        .group_by(OutboxEvent.entity_id)
    )
    return {int(entity_id): int(version) for entity_id, version in rows}


def actions_for(docs: dict[int, dict[str, Any] | None], versions: dict[int, int]) -> list[Action]:
    return [
        Upsert(str(i), doc, versions[i]) if doc is not None else Delete(str(i), versions[i])
        for i, doc in docs.items()
        if i in versions
    ]


def emit_unless_waiting(session: Session, topic: str, ids: Sequence[int], *, newer_than: int) -> int:
    """Queue a rebuild of each entity, unless one is already waiting behind the batch being delivered.

    A waiting event (newer than this batch) rebuilds the document from the database as it will be then,
    which includes the change at hand; a bulk load of 100 000 videos thus rebuilds each artist once, not
    once per video. The events are committed at once, so a later failure in this relay batch cannot
    roll them back.
    """
    if not ids:
        return 0
    waiting = set(
        session.scalars(
            select(OutboxEvent.entity_id).where(
                OutboxEvent.topic == topic,
                OutboxEvent.entity_id.in_([str(i) for i in ids]),
                OutboxEvent.delivered_at.is_(None),
                OutboxEvent.id > newer_than,
            )
        )
    )
    fresh = [i for i in dict.fromkeys(ids) if str(i) not in waiting]
    for entity_id in fresh:
        emit(session, topic, entity_id)
    if fresh:
        session.commit()
    return len(fresh)


def _product_projection(doc: dict[str, Any] | None) -> tuple[Any, ...] | None:
    """What video documents copy from a product; a change here re-indexes the videos linking it."""
    if doc is None:
        return None
    return (doc.get("name"), doc.get("brand"), doc.get("category"), doc.get("price_band"))


class Indexer:
    """Applies outbox events for every indexed entity to the engine."""

    def __init__(self, engine: SearchEngine) -> None:
        self.engine = engine

    def subscribe(self, relay: Relay) -> None:
        for entity in ENTITIES.values():
            relay.subscribe(entity.topic, self.consume)

    def consume(self, session: Session, messages: Sequence[Message]) -> None:
        by_topic: dict[str, list[Message]] = {}
        for m in messages:
            by_topic.setdefault(m.topic, []).append(m)
        for topic, batch in by_topic.items():
            entity = entity_for_topic(topic)
            versions: dict[int, int] = {}
            deleted: set[int] = set()
            for m in sorted(batch, key=lambda m: m.version):
                try:
                    key = int(m.entity_id)
                except ValueError:
                    log.error("ignoring %s event %s for non-numeric id %r", topic, m.id, m.entity_id)
                    continue
                versions[key] = m.version
                # The newest event decides: a delete removes the document whatever the row says now.
                (deleted.add if m.op == "delete" else deleted.discard)(key)
            docs = entity.build(session, list(versions))
            docs.update(dict.fromkeys(deleted))
            before = self._video_facing(entity, list(versions)) if entity.topic == "product" else {}
            self.write(session, entity, actions_for(docs, versions))
            newest = max(m.id for m in batch)
            if entity.topic == "video":
                self._touch_creators(session, list(versions), newest)
            elif entity.topic == "product":
                changed = [i for i in versions if before.get(i) != _product_projection(docs.get(i))]
                self._touch_linked_videos(session, changed, newest)

    def write(self, session: Session, entity: Entity, actions: Sequence[Action]) -> BulkResult:
        """Write to the live index and to any index being rebuilt; raise (so the relay retries) if either fails."""
        if not actions:
            return BulkResult()
        targets = [entity.alias, *building_indexes(session, entity.alias)]
        result = BulkResult()
        for target in targets:
            try:
                result = self.engine.bulk(target, actions)
            except IndexNotFound:
                if target != entity.alias:
                    continue  # a rebuild was abandoned and its index dropped
                ensure_index(self.engine, entity)
                result = self.engine.bulk(target, actions)
            for doc_id, error in result.errors.items():
                # A document the engine refuses outright would fail the same way on every retry.
                log.error("search: %s/%s refused by %s: %s", entity.alias, doc_id, target, error)
        return result

    def _video_facing(self, entity: Entity, ids: list[int]) -> dict[int, tuple[Any, ...] | None]:
        try:
            indexed = self.engine.get(entity.alias, [str(i) for i in ids])
        except IndexNotFound:
            indexed = {}
        return {i: _product_projection(indexed[str(i)].source if str(i) in indexed else None) for i in ids}

    @staticmethod
    def _touch_linked_videos(session: Session, product_ids: list[int], newest: int) -> None:
        """A product's name, brand, category or price shows on the videos linking it: queue those videos."""
        if not product_ids:
            return
        videos = session.scalars(
            select(VideoProduct.video_id).distinct().where(VideoProduct.product_id.in_(product_ids))
        ).all()
        emit_unless_waiting(session, "video", videos, newer_than=newest)

    @staticmethod
    def _touch_creators(session: Session, video_ids: list[int], newest: int) -> None:
        """A video's change moves its artist's totals: queue the artist document too (unless one waits)."""
        creators = session.scalars(
            select(Video.uploader_id)
            .distinct()
            .join(User, User.id == Video.uploader_id)
            .where(Video.id.in_(video_ids), User.is_artist)
        ).all()
        emit_unless_waiting(session, "artist", creators, newer_than=newest)
