"""The write path: actions partners send, accepted at once and applied one at a time per order."""
