"""In-app notifications: a row per recipient, rendered in the reader's language when listed."""
