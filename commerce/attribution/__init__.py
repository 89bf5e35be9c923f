"""Attribution: signed share links, click logging, customer binding, self-referral and review rules."""
