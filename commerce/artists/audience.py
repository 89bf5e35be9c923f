"""Age band and region a viewer may share so the artists they watch can show brands who their audience is.

Sharing is opt-in and can be withdrawn at any time; the traits only ever leave
the system aggregated (shares of an artist's audience, with the sample size).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from commerce.artists.models import AgeBand, ViewerTraits
from commerce.artists.regions import REGIONS
from core.accounts.models import User
from core.accounts.permissions import require_user
from core.errors import FieldError, ValidationFailed


def get_traits(session: Session, user: User | None) -> ViewerTraits | None:
    return session.get(ViewerTraits, require_user(user).id)


def share_traits(session: Session, user: User | None, *, age_band: str | None, region: str | None) -> ViewerTraits:
    user = require_user(user)
    errors = []
    if age_band is not None and age_band not in {a.value for a in AgeBand}:
        errors.append(FieldError("age_band", "unknown_age_band"))
    if region is not None and region not in REGIONS:
        errors.append(FieldError("region", "unknown_region"))
    if errors:
        raise ValidationFailed(fields=errors)
    traits = session.get(ViewerTraits, user.id) or ViewerTraits(user_id=user.id)
    traits.age_band = AgeBand(age_band) if age_band else None
    traits.region = region
    session.add(traits)
    session.commit()
    return traits


def withdraw_traits(session: Session, user: User | None) -> None:
    traits = session.get(ViewerTraits, require_user(user).id)
    if traits is not None:
        session.delete(traits)
        session.commit()
