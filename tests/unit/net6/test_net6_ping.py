"""The ICMPv6 echo used by ``gateway status``."""

from __future__ import annotations

import os
import time

import pytest

from meshforge.net6.ping import ping6

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="a raw ICMPv6 socket needs root"
)


def test_loopback_answers() -> None:
    rtt = ping6("::1", "::1", count=1)

    assert rtt is not None and 0 <= rtt < 1


def test_a_source_this_host_lacks_is_a_failed_ping_not_a_crash() -> None:
    started = time.monotonic()

    # 2001:db8::/32 is documentation space, held by no interface here.
    assert ping6("::1", "2001:db8:ffff::1", count=3) is None
    assert time.monotonic() - started < 0.5
