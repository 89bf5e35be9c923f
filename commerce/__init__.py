"""Commerce: catalog, orders, payments, attribution, ledger, booking."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: Flask) -> None:
    from commerce.orders.checkout import PURPOSE
    from commerce.orders.money import CheckoutPayments
    from commerce.payments.service import register_purpose
    from commerce.policy import MoneyPolicy

    policy = MoneyPolicy.from_settings(app.config["SETTINGS"])
    app.extensions["money_policy"] = policy
    register_purpose(PURPOSE, CheckoutPayments(policy))

    from commerce.marketing.gates import open_gate

    s = app.config["SETTINGS"]
    app.extensions["flash_sale_gate"] = open_gate(
        s.flash_sale_gate, redis_url=s.flash_sale_redis_url, prefix=s.flash_sale_key_prefix
    )

    from commerce.booking import payments as booking_payments
    from commerce.booking.policy import BookingPolicy

    register_purpose(
        booking_payments.PURPOSE, booking_payments.BookingPayments(BookingPolicy.from_settings(app.config["SETTINGS"]))
    )
