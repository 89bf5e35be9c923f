"""The booking state machine as data: which party may take which action from which state, and where it leads.

    invited/applied → quoted ⇄ countered → accepted → funded → draft_submitted
        → revision_requested (at most N rounds) → draft_submitted … → approved → published
        (a draft may also be replaced before the brand decides, using a round; only a draft that meets the
        brief can be approved)
        → completed (after the live check) → paid
    exits: declined, expired (no reply in time), cancelled (escrow refunded by rule), disputed → resolved

Services never change `Booking.state` except through a rule from this table; the
tests walk every (action, state, party) triple and check that exactly these are allowed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from commerce.booking.models import BookingState, Party

S = BookingState


class Action(enum.StrEnum):
    QUOTE = "quote"  # the artist names a fee
    COUNTER = "counter"  # the brand names another fee
    ACCEPT = "accept"  # take the fee on the table
    DECLINE = "decline"  # say no to the fee on the table
    CANCEL = "cancel"  # withdraw: one's own proposal, or the agreed booking (escrow refunded by rule)
    FUND = "fund"  # the brand moves the fee into escrow
    SUBMIT_DRAFT = "submit_draft"
    REQUEST_REVISION = "request_revision"
    APPROVE = "approve"
    PUBLISH = "publish"
    DISPUTE = "dispute"
    RESOLVE = "resolve"  # an admin splits the escrow of a disputed booking
    EXPIRE = "expire"  # nobody answered within the reply window
    COMPLETE = "complete"  # the video stayed live through the check period
    PAY = "pay"  # escrow released to the artist


# Actions a person may take through the API; the rest belong to the periodic jobs.
USER_ACTIONS = tuple(a for a in Action if a not in (Action.EXPIRE, Action.COMPLETE, Action.PAY))


@dataclass(frozen=True)
class Rule:
    action: Action
    source: BookingState
    target: BookingState
    party: Party


def _rules() -> list[Rule]:
    A, P = Action, Party
    table: list[tuple[Action, tuple[BookingState, ...], BookingState, tuple[Party, ...]]] = [
        # Negotiation: whoever is answered may accept, decline or name a fee; the proposer may withdraw.
        (A.QUOTE, (S.INVITED, S.COUNTERED), S.QUOTED, (P.ARTIST,)),
        (A.COUNTER, (S.APPLIED, S.QUOTED), S.COUNTERED, (P.BRAND,)),
        (A.ACCEPT, (S.INVITED, S.COUNTERED), S.ACCEPTED, (P.ARTIST,)),
        (A.ACCEPT, (S.APPLIED, S.QUOTED), S.ACCEPTED, (P.BRAND,)),
        (A.DECLINE, (S.INVITED, S.COUNTERED), S.DECLINED, (P.ARTIST,)),
        (A.DECLINE, (S.APPLIED, S.QUOTED), S.DECLINED, (P.BRAND,)),
        (A.CANCEL, (S.INVITED, S.COUNTERED), S.CANCELLED, (P.BRAND,)),
        (A.CANCEL, (S.APPLIED, S.QUOTED), S.CANCELLED, (P.ARTIST,)),
        # Agreed: either side may still walk away; once funded the escrow is refunded by rule.
        (A.CANCEL, (S.ACCEPTED, S.FUNDED, S.DRAFT_SUBMITTED, S.REVISION_REQUESTED), S.CANCELLED, (P.BRAND, P.ARTIST)),
        (A.FUND, (S.ACCEPTED,), S.FUNDED, (P.BRAND,)),
        # A draft the brand has not decided on may be replaced (one revision round): fixing what the brief check found.
        (A.SUBMIT_DRAFT, (S.FUNDED, S.REVISION_REQUESTED, S.DRAFT_SUBMITTED), S.DRAFT_SUBMITTED, (P.ARTIST,)),
        (A.REQUEST_REVISION, (S.DRAFT_SUBMITTED,), S.REVISION_REQUESTED, (P.BRAND,)),
        (A.APPROVE, (S.DRAFT_SUBMITTED,), S.APPROVED, (P.BRAND,)),
        (A.PUBLISH, (S.APPROVED,), S.PUBLISHED, (P.ARTIST,)),
        (A.DISPUTE, (S.DRAFT_SUBMITTED, S.REVISION_REQUESTED, S.APPROVED, S.PUBLISHED), S.DISPUTED,
         (P.BRAND, P.ARTIST)),
        (A.DISPUTE, (S.PUBLISHED,), S.DISPUTED, (P.SYSTEM,)),  # the live check found the video gone
        (A.RESOLVE, (S.DISPUTED,), S.RESOLVED, (P.ADMIN,)),
        (A.EXPIRE, (S.INVITED, S.APPLIED, S.QUOTED, S.COUNTERED, S.ACCEPTED), S.EXPIRED, (P.SYSTEM,)),
        (A.COMPLETE, (S.PUBLISHED,), S.COMPLETED, (P.SYSTEM,)),
        (A.PAY, (S.COMPLETED,), S.PAID, (P.SYSTEM,)),
    ]  # fmt: skip
    return [
        Rule(action, source, target, party)
        for action, sources, target, parties in table
        for source in sources
        for party in parties
    ]


RULES: tuple[Rule, ...] = tuple(_rules())
_BY_KEY: dict[tuple[Action, BookingState, Party], Rule] = {(r.action, r.source, r.party): r for r in RULES}

# States that wait for a person's answer; they carry `reply_due_at` and expire without one.
AWAITING_REPLY = frozenset({S.INVITED, S.APPLIED, S.QUOTED, S.COUNTERED, S.ACCEPTED})

# Whose move it is in each state (for inboxes and notifications); a submitted draft that fails the brief check
# is the artist's to fix while revision rounds remain (`bookings.turn_of`).
TURN: dict[BookingState, Party] = {
    S.INVITED: Party.ARTIST,
    S.APPLIED: Party.BRAND,
    S.QUOTED: Party.BRAND,
    S.COUNTERED: Party.ARTIST,
    S.ACCEPTED: Party.BRAND,
    S.FUNDED: Party.ARTIST,
    S.DRAFT_SUBMITTED: Party.BRAND,
    S.REVISION_REQUESTED: Party.ARTIST,
    S.APPROVED: Party.ARTIST,
    S.PUBLISHED: Party.SYSTEM,
    S.COMPLETED: Party.SYSTEM,
    S.DISPUTED: Party.ADMIN,
}


def rule(action: Action, state: BookingState, party: Party) -> Rule | None:
    return _BY_KEY.get((action, state, party))


def allowed_actions(state: BookingState, parties: set[Party]) -> list[Action]:
    """What these parties may do now, in the table's order (the buttons a page shows)."""
    return list(dict.fromkeys(r.action for r in RULES if r.source == state and r.party in parties))


def anyone_may(action: Action, state: BookingState) -> bool:
    return any(r.action == action and r.source == state for r in RULES)
