"""Payouts: payout accounts and withdrawals of available balance."""
