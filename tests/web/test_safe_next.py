"""Return URLs (`next`) only ever lead to a path on this origin."""

from __future__ import annotations

import pytest

from web.auth import safe_next_path


@pytest.mark.parametrize("raw", ["/", "/me", "/me/orders?tab=paid#x", "/v/12?lang=en", "/search?q=%2F%2Fa"])
def test_same_origin_paths_are_kept(raw: str) -> None:
    assert safe_next_path(raw) == raw


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "me",
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "https://other.example/",
        "//other.example/",
        "/\\other.example/",
        "/a\\b",
        "/\t/other.example",
        "/\n/other.example",
        "/\x00",
        "/" + "a" * 2000,
        ["/me"],
    ],
)
def test_anything_else_falls_back(raw: object) -> None:
    assert safe_next_path(raw) == "/"
    assert safe_next_path(raw, default="/me") == "/me"


def test_language_switch_only_returns_to_our_own_pages(client) -> None:  # type: ignore[no-untyped-def]
    for evil in ("//evil.example", "/\\evil.example", "https://evil.example", "javascript:alert(1)"):
        assert client.get("/lang/en", query_string={"next": evil}).headers["Location"] == "/"
    assert client.get("/lang/en", query_string={"next": "/me"}).headers["Location"] == "/me"
