"""The sign-in throttle with a moved clock: exponential backoff per account and source, wider backoffs per account
and per IP, and known sources (a device or IP that signed in to the account before) never kept out by others."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.accounts import service as accounts
from core.accounts.models import LoginAttempt, User
from core.clock import FrozenClock, use_clock
from core.errors import NotAuthenticated, RateLimited
from tests import factories

POLICY = accounts.LoginPolicy(
    free_failures=3,
    account_free_failures=20,
    ip_free_failures=30,
    backoff_base_seconds=1,
    backoff_max_seconds=900,
    window_seconds=86400,
    known_source_days=90,
)
WRONG = "not the password"


@pytest.fixture
def clock() -> Iterator[FrozenClock]:
    with use_clock(FrozenClock(dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC))) as c:
        assert isinstance(c, FrozenClock)
        yield c


def attempt(s: Session, user: User | str, password: str, *, ip: str, device: str | None = None) -> str | int:
    """ "ok", "wrong", or the Retry-After seconds of a refusal."""
    email = user if isinstance(user, str) else user.email
    try:
        accounts.authenticate(s, email=email, password=password, ip_hash=ip, device_hash=device, policy=POLICY)
    except RateLimited as refused:
        retry_after = refused.params["retry_after"]
        assert isinstance(retry_after, int)
        assert retry_after > 0
        return retry_after
    except NotAuthenticated:
        return "wrong"
    return "ok"


def fail_patiently(
    s: Session, user: User | str, times: int, *, ip: str, clock: FrozenClock, device: str | None = None
) -> list[int]:
    """Fail `times` wrong passwords, waiting out every refusal; the waits, in order."""
    waits: list[int] = []
    failed = 0
    while failed < times:
        result = attempt(s, user, WRONG, ip=ip, device=device)
        if isinstance(result, int):
            waits.append(result)
            clock.advance(seconds=result)
        else:
            assert result == "wrong"
            failed += 1
    return waits


def test_an_attacker_failing_50_times_does_not_keep_the_owner_out_of_their_known_device_or_ip(
    db_session: Session, clock: FrozenClock
) -> None:
    s = db_session
    victim = factories.user(s)
    assert attempt(s, victim, factories.PASSWORD, ip="ip-b", device="phone") == "ok"  # an earlier sign-in
    clock.advance(days=10)
    fail_patiently(s, victim, 50, ip="ip-a", clock=clock)
    failures = select(func.count()).where(LoginAttempt.email == victim.email, LoginAttempt.succeeded.is_(False))
    assert s.scalar(failures) == 50
    # Right after the attacker's latest failure: the attacker waits, an unknown source waits ...
    assert isinstance(attempt(s, victim, factories.PASSWORD, ip="ip-a"), int)
    assert isinstance(attempt(s, victim, factories.PASSWORD, ip="ip-new", device="laptop"), int)
    # ... but the owner's phone and home IP are not held back by someone else's failures.
    assert attempt(s, victim, factories.PASSWORD, ip="ip-b", device="phone") == "ok"
    assert attempt(s, victim, factories.PASSWORD, ip="ip-b") == "ok"  # the known IP, no device id sent
    assert attempt(s, victim, factories.PASSWORD, ip="ip-hotel", device="phone") == "ok"  # the known phone travelling
    # Their success did not clear the attacker's own backoff.
    assert isinstance(attempt(s, victim, factories.PASSWORD, ip="ip-a"), int)


def test_a_known_device_behind_the_attackers_ip_keeps_its_own_backoff(db_session: Session, clock: FrozenClock) -> None:
    s = db_session
    victim = factories.user(s)
    assert attempt(s, victim, factories.PASSWORD, ip="office-nat", device="phone") == "ok"
    fail_patiently(s, victim, 10, ip="office-nat", clock=clock, device="attacker-box")
    # A device id it has not signed in with is just the IP, where the attacker's failures count ...
    assert isinstance(attempt(s, victim, factories.PASSWORD, ip="office-nat", device="fresh-id"), int)
    # ... while the owner's phone, behind the same IP, is its own source.
    assert attempt(s, victim, factories.PASSWORD, ip="office-nat", device="phone") == "ok"


def test_an_unknown_source_for_an_account_under_distributed_attack_backs_off_more_and_more(
    db_session: Session, clock: FrozenClock
) -> None:
    s = db_session
    victim = factories.user(s)
    # Twenty bots, one wrong password each: no single source is past its free failures.
    for bot in range(POLICY.account_free_failures):
        assert attempt(s, victim, WRONG, ip=f"bot-{bot}") == "wrong"
    # The account is: a new source waits, and the wait is the real time left since the latest failure.
    assert attempt(s, victim, factories.PASSWORD, ip="bot-new") == 1
    waits = []
    for bot in range(100, 106):
        wait = attempt(s, victim, WRONG, ip=f"bot-{bot}")
        assert isinstance(wait, int)
        waits.append(wait)
        clock.advance(seconds=wait)
        assert attempt(s, victim, WRONG, ip=f"bot-{bot}") == "wrong"
    assert waits == [1, 2, 4, 8, 16, 32]
    clock.advance(seconds=10)
    assert attempt(s, victim, factories.PASSWORD, ip="bot-late") == 64 - 10
    # The cap: the wait never passes backoff_max_seconds.
    waits = fail_patiently(s, victim, 10, ip="bot-x", clock=clock)
    assert max(waits) == POLICY.backoff_max_seconds
    assert attempt(s, victim, factories.PASSWORD, ip="bot-y") == POLICY.backoff_max_seconds
    clock.advance(seconds=POLICY.backoff_max_seconds)
    assert attempt(s, victim, factories.PASSWORD, ip="bot-y") == "ok"


def test_one_nat_ip_many_users_one_users_failures_do_not_stop_another_who_signed_in_there_before(
    db_session: Session, clock: FrozenClock
) -> None:
    s = db_session
    regular, newcomer = factories.user(s), factories.user(s)
    stuffed = [f"leaked{n}@example.com" for n in range(POLICY.ip_free_failures)]
    assert attempt(s, regular, factories.PASSWORD, ip="campus-nat") == "ok"
    clock.advance(hours=3)
    for email in stuffed:  # credential stuffing from the same NAT: one try per leaked e-mail
        assert attempt(s, email, WRONG, ip="campus-nat") == "wrong"
    fail_patiently(s, stuffed[0], 5, ip="campus-nat", clock=clock)  # and one user fumbling on and on
    assert attempt(s, regular, factories.PASSWORD, ip="campus-nat") == "ok"  # signed in from here before
    # Someone who never signed in from this IP waits for the IP's backoff; elsewhere they are fine.
    wait = attempt(s, newcomer, factories.PASSWORD, ip="campus-nat")
    assert isinstance(wait, int)
    assert attempt(s, newcomer, factories.PASSWORD, ip="home") == "ok"
    clock.advance(seconds=wait)
    assert attempt(s, newcomer, factories.PASSWORD, ip="campus-nat") == "ok"


def test_the_pairs_backoff_grows_reports_the_real_time_left_and_a_success_clears_it(
    db_session: Session, clock: FrozenClock
) -> None:
    s = db_session
    user = factories.user(s)
    for _ in range(POLICY.free_failures):
        assert attempt(s, user, WRONG, ip="ip-a") == "wrong"
    assert attempt(s, user, factories.PASSWORD, ip="ip-a") == 1  # the right password waits too
    assert attempt(s, user, factories.PASSWORD, ip="ip-other") == "ok"  # another source is its own pair
    waits = fail_patiently(s, user, 4, ip="ip-a", clock=clock)
    assert waits == [1, 2, 4, 8]
    assert attempt(s, user, WRONG, ip="ip-a") == 16
    clock.advance(seconds=5)
    assert attempt(s, user, factories.PASSWORD, ip="ip-a") == 11  # the time left, not the whole delay
    clock.advance(seconds=11)
    assert attempt(s, user, factories.PASSWORD, ip="ip-a") == "ok"
    # Cleared: the free failures again, then 1 s.
    for _ in range(POLICY.free_failures):
        assert attempt(s, user, WRONG, ip="ip-a") == "wrong"
    assert attempt(s, user, WRONG, ip="ip-a") == 1


def test_failures_stop_counting_after_the_window(db_session: Session, clock: FrozenClock) -> None:
    s = db_session
    user = factories.user(s)
    fail_patiently(s, user, 12, ip="ip-a", clock=clock)
    assert attempt(s, user, WRONG, ip="ip-a") == POLICY.delay_seconds(12, POLICY.free_failures)
    clock.advance(seconds=POLICY.window_seconds + 1)
    for _ in range(POLICY.free_failures):
        assert attempt(s, user, WRONG, ip="ip-a") == "wrong"  # yesterday's failures no longer count


def test_a_source_is_known_for_known_source_days_after_its_latest_success(
    db_session: Session, clock: FrozenClock
) -> None:
    s = db_session
    user = factories.user(s)
    assert attempt(s, user, factories.PASSWORD, ip="home") == "ok"
    for bot in range(POLICY.account_free_failures):
        assert attempt(s, user, WRONG, ip=f"bot-{bot}") == "wrong"
    assert attempt(s, user, factories.PASSWORD, ip="home") == "ok"
    clock.advance(days=POLICY.known_source_days, seconds=1)
    for bot in range(POLICY.account_free_failures):
        assert attempt(s, user, WRONG, ip=f"bot-{bot}") == "wrong"
    assert attempt(s, user, factories.PASSWORD, ip="home") == 1  # forgotten: home waits like anyone


def test_delay_doubles_from_base_after_the_free_failures_and_stops_at_the_cap() -> None:
    assert [POLICY.delay_seconds(n, 3) for n in range(0, 8)] == [0, 0, 0, 1, 2, 4, 8, 16]
    assert POLICY.delay_seconds(13, 3) == 900
    assert POLICY.delay_seconds(10_000, 3) == 900
