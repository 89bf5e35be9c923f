"""Booking: campaign briefs, the booking state machine with its recorded transitions, escrow in the ledger,
drafts through the media pipeline, publishing, the periodic timers and in-app notices."""
