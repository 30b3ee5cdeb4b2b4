"""Build states and the lifetime of each outcome."""

from __future__ import annotations

QUEUED = "queued"
STARTED = "started"
DONE = "done"
FAILED = "failed"
EXPIRED = "expired"  # done once; its files were purged
ACTIVE = (QUEUED, STARTED)
