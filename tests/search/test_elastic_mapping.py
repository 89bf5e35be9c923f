"""What the Elasticsearch backend asks a cluster for, read back from the server over HTTP: a physical index behind
an alias; text fields on the configured Chinese analyzer (`cjk` by default) with a stemmed `.en` sub-field;
keywords, numbers, dates and the completion suggester typed as such; no dynamic fields."""

from __future__ import annotations

from typing import Any

import pytest

from search.backends.elastic import TEXT_ANALYZERS, ElasticsearchEngine
from search.documents import ENTITIES
from search.indexing import INITIAL_STAMP, physical_name
from search.schema import FieldType
from tests.search.conftest import osmem_client, unique_alias

ES_TYPES = {FieldType.KEYWORD: "keyword", FieldType.INTEGER: "long", FieldType.FLOAT: "double",
            FieldType.DATE: "date", FieldType.BOOLEAN: "boolean", FieldType.COMPLETION: "completion"}  # fmt: skip


def test_every_entity_gets_a_physical_index_behind_an_alias_with_the_cjk_mapping(osmem_server: Any) -> None:
    engine = ElasticsearchEngine(osmem_server.url, client=osmem_client(osmem_server.url))
    raw = osmem_client(osmem_server.url)
    try:
        for entity in ENTITIES.values():
            alias = unique_alias(entity.alias)
            physical = physical_name(alias, INITIAL_STAMP)
            engine.create_index(physical, entity.schema)
            engine.point_alias(alias, physical)
            assert engine.resolve_alias(alias) == physical != alias
            mapping = raw.indices.get_mapping(index=alias)[physical]["mappings"]
            assert mapping["dynamic"] in ("strict", "false", False)
            props = mapping["properties"]
            for f in entity.schema.fields:
                if f.type is FieldType.TEXT:
                    assert (props[f.name]["type"], props[f.name]["analyzer"]) == ("text", "cjk"), (alias, f.name)
                    assert props[f.name]["fields"]["en"]["type"] == "text"
                else:
                    assert props[f.name]["type"] == ES_TYPES[f.type], (alias, f.name)
    finally:
        engine.close()
        raw.close()


@pytest.mark.parametrize("analyzer", sorted(TEXT_ANALYZERS))
def test_the_chinese_analyzer_is_configurable(analyzer: str) -> None:
    engine = ElasticsearchEngine("http://127.0.0.1:9", text_analyzer=analyzer)
    title = engine._mapping(ENTITIES["videos"].schema)["properties"]["title"]
    assert (title["analyzer"], title["search_analyzer"]) == TEXT_ANALYZERS[analyzer]
    engine.close()


def test_an_analyzer_the_backend_does_not_know_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown Elasticsearch text analyzer"):
        ElasticsearchEngine("http://127.0.0.1:9", text_analyzer="jieba")
