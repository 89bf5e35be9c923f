"""Matching: rank artists for a campaign brief with an explained score; similar artists."""
