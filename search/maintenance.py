"""Rebuilding an index without downtime, and finding drift between the database and the index.

Reindex: a new physical index is created and registered as "building" (from
then on the indexer writes every event to it as well as to the live alias);
the database is copied into it in id order, each page read in one snapshot
with each row's latest outbox event id as its version; then the alias is
swapped atomically. A write that races the copy carries a newer version than
the copied row and wins; a copied row never overwrites a newer event. So
nothing committed during the rebuild is lost, and readers never see an empty
or half-built index.

Reconcile: every indexable row is rebuilt and compared with its document;
missing, different or superfluous documents get a fresh outbox event, and the
normal indexing path repairs them (with versions newer than anything before).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core import clock
from core.db import Database, is_postgres
from core.outbox import emit
from search.documents import Entity
from search.engine import IndexNotFound, SearchEngine, physical_name
from search.indexing import ensure_index, latest_versions
from search.models import BuildStatus, IndexBuild
from search.query import SearchRequest, SortBy, Upsert

log = logging.getLogger(__name__)

BUILD_TIMEOUT = dt.timedelta(hours=6)
Progress = Callable[[int, int], None]


@dataclass
class ReindexReport:
    alias: str
    index: str
    documents: int
    errors: int
    seconds: float


@dataclass
class ReconcileReport:
    alias: str
    checked: int = 0
    missing: list[int] = field(default_factory=list)
    different: list[int] = field(default_factory=list)
    superfluous: list[int] = field(default_factory=list)

    @property
    def repaired(self) -> int:
        return len(self.missing) + len(self.different) + len(self.superfluous)


def _snapshot(session: Session) -> None:
    """Read the page and its outbox versions from one consistent snapshot."""
    if is_postgres(session):
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def abandon_stale_builds(session: Session, engine: SearchEngine, alias: str, *, older_than: dt.timedelta) -> int:
    """Builds whose process died stay "building"; stop writing to them and drop their indexes."""
    stale = session.scalars(
        select(IndexBuild).where(
            IndexBuild.alias == alias,
            IndexBuild.status == BuildStatus.BUILDING,
            IndexBuild.started_at <= clock.now() - older_than,
        )
    ).all()
    for build in stale:
        build.status = BuildStatus.FAILED
        build.error = "abandoned: the rebuild stopped before it finished"
        build.finished_at = clock.now()
    session.commit()
    for build in stale:
        if engine.resolve_alias(alias) != build.index_name:
            engine.delete_index(build.index_name)
    return len(stale)


def reindex(
    db: Database,
    engine: SearchEngine,
    entity: Entity,
    *,
    batch_size: int = 1000,
    progress: Progress = lambda done, total: None,
    keep_previous: int = 1,
) -> ReindexReport:
    started = time.perf_counter()
    name = physical_name(entity.alias, clock.now().strftime("%Y%m%dt%H%M%S%f"))
    with db.session() as s:
        abandon_stale_builds(s, engine, entity.alias, older_than=dt.timedelta(0))
        engine.create_index(name, entity.schema)
        total = _count(s, entity)
        build = IndexBuild(alias=entity.alias, index_name=name, total=total)
        s.add(build)
        s.commit()  # from here on, the indexer writes each event to the new index too
        build_id = build.id
    done = errors = 0
    after = 0
    try:
        while True:
            with db.session() as s:
                _snapshot(s)
                ids = entity.ids_page(s, after, batch_size)
                if not ids:
                    break
                docs = entity.build(s, ids)
                versions = latest_versions(s, entity.topic, ids)
                s.rollback()
            actions = [Upsert(str(i), doc, versions.get(i, 0)) for i, doc in docs.items() if doc is not None]
            result = engine.bulk(name, actions)
            errors += len(result.errors)
            for doc_id, error in result.errors.items():
                log.error("reindex %s: document %s refused: %s", name, doc_id, error)
            done += len(ids)
            after = ids[-1]
            progress(done, max(total, done))
            with db.session() as s:
                s.execute(update(IndexBuild).where(IndexBuild.id == build_id).values(done=done))
                s.commit()
        engine.refresh(name)
        engine.point_alias(entity.alias, name)
    except BaseException as exc:
        with db.session() as s:
            s.execute(
                update(IndexBuild)
                .where(IndexBuild.id == build_id)
                .values(status=BuildStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=clock.now())
            )
            s.commit()
        engine.delete_index(name)
        raise
    with db.session() as s:
        s.execute(
            update(IndexBuild)
            .where(IndexBuild.id == build_id)
            .values(status=BuildStatus.DONE, done=done, finished_at=clock.now())
        )
        s.commit()
    for old in engine.indexes(entity.alias)[: -(keep_previous + 1)]:
        if old != name:
            engine.delete_index(old)
    return ReindexReport(entity.alias, name, done, errors, time.perf_counter() - started)


def _count(session: Session, entity: Entity) -> int:
    n, after = 0, 0
    while ids := entity.ids_page(session, after, 10_000):
        n += len(ids)
        after = ids[-1]
    return n


def reconcile(db: Database, engine: SearchEngine, entity: Entity, *, batch_size: int = 500) -> ReconcileReport:
    report = ReconcileReport(entity.alias)
    ensure_index(engine, entity)
    with db.session() as s:
        abandon_stale_builds(s, engine, entity.alias, older_than=BUILD_TIMEOUT)
    after = 0
    while True:
        with db.session() as s:
            ids = entity.ids_page(s, after, batch_size)
            if not ids:
                break
            docs = entity.build(s, ids)
            indexed = engine.get(entity.alias, [str(i) for i in ids])
            for i in ids:
                doc, hit = docs[i], indexed.get(str(i))
                if doc is None or (hit is not None and hit.source == doc):
                    continue
                (report.missing if hit is None else report.different).append(i)
                emit(s, entity.topic, i)
            report.checked += len(ids)
            s.commit()
            after = ids[-1]
    _superfluous(db, engine, entity, report, batch_size)
    if report.repaired:
        log.warning(
            "reconcile %s: %d missing, %d different, %d superfluous; events emitted",
            entity.alias,
            len(report.missing),
            len(report.different),
            len(report.superfluous),
        )
    return report


def _superfluous(db: Database, engine: SearchEngine, entity: Entity, report: ReconcileReport, batch_size: int) -> None:
    """Documents whose row is gone or no longer indexable."""
    cursor = None
    while True:
        try:
            by_id = SearchRequest(sort=(SortBy("id", descending=False),), size=batch_size, search_after=cursor)
            page = engine.search(entity.alias, by_id)
        except IndexNotFound:
            return
        if not page.hits:
            return
        ids = [int(h.id) for h in page.hits]
        with db.session() as s:
            docs = entity.build(s, ids)
            for i in ids:
                if docs[i] is None:
                    report.superfluous.append(i)
                    emit(s, entity.topic, i, op="delete")
            s.commit()
        cursor = page.hits[-1].sort
