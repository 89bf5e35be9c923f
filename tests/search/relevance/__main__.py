"""Print precision@5 of the relevance set for every backend and Chinese tokenizer."""

from __future__ import annotations

import os
import tempfile

from osmem_server import OsmemServer

from search.backends.elastic import ElasticsearchEngine
from search.backends.embedded import EmbeddedEngine
from search.engine import SearchEngine
from tests.search.conftest import osmem_client
from tests.search.relevance import QUERIES, Report, evaluate, load


def measure(engine: SearchEngine) -> Report:
    try:
        return evaluate(engine, load(engine, f"relevance{os.getpid()}"))
    finally:
        for name in engine.indexes(f"relevance{os.getpid()}"):
            engine.delete_index(name)
        engine.close()


def main() -> None:
    reports: dict[str, Report] = {}
    with tempfile.TemporaryDirectory() as tmp:
        reports["embedded, han (character + bigram phrases)"] = measure(EmbeddedEngine(f"{tmp}/han", chinese="han"))
        reports["embedded, jieba (search mode)"] = measure(EmbeddedEngine(f"{tmp}/jieba", chinese="jieba"))
    with OsmemServer.start(japanese=False) as server:
        es = ElasticsearchEngine(server.url, client=osmem_client(server.url))
        reports["elasticsearch cjk (osmem-server)"] = measure(es)
    if os.environ.get("ELASTICSEARCH_URL"):
        reports["elasticsearch cjk (ELASTICSEARCH_URL)"] = measure(ElasticsearchEngine(os.environ["ELASTICSEARCH_URL"]))
    langs = {q["lang"] for q in QUERIES}
    counts = {lang: sum(q["lang"] == lang for q in QUERIES) for lang in sorted(langs)}
    print(f"precision@5 over {len(QUERIES)} queries ({', '.join(f'{n} {lang}' for lang, n in counts.items())})")
    print(f"| backend | P@5 all | {' | '.join(f'P@5 {lang}' for lang in counts)} | purity@5 |")
    print("|---|---|" + "---|" * len(counts) + "---|")
    for name, report in reports.items():
        per_lang = " | ".join(f"{report.mean(lang):.3f}" for lang in counts)
        print(f"| {name} | {report.mean():.3f} | {per_lang} | {report.purity():.3f} |")
    print()
    for name, report in reports.items():
        for miss in report.misses():
            print(f"- {name}: {miss.q!r} top5={miss.top5} relevant={miss.relevant} P@5={miss.precision:.2f}")


if __name__ == "__main__":
    main()
