"""Build states and the lifetime of each outcome."""

from __future__ import annotations

QUEUED = "queued"
STARTED = "started"
DONE = "done"
FAILED = "failed"
EXPIRED = "expired"  # done once; its files were purged
ACTIVE = (QUEUED, STARTED)

# A running build's worker writes a heartbeat this often; a build whose
# heartbeat is older than LOST_AFTER_S has lost its worker.
HEARTBEAT_S = 10.0
LOST_AFTER_S = 90.0
