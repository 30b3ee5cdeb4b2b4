import json

from meshforge.upstream.catalog import TargetMeta
from tests.conftest import SAMPLES


def _meta(path, target):
    profiles = json.loads((SAMPLES / path).read_text())
    return TargetMeta(
        "v", target, profiles["arch_packages"], profiles["version_code"], profiles, "ok"
    )


def test_aliases_from_supported_devices_of_a_real_target():
    meta = _meta("openwrt-23.05.4/targets/ath79/generic/profiles.json", "ath79/generic")
    profiles = meta.profiles["profiles"]
    for profile_id, profile in profiles.items():
        assert meta.resolve_profile(profile_id) == profile_id
        for device in profile["supported_devices"]:
            resolved = meta.resolve_profile(device)
            # A board name may be shared; it must map to a profile listing it.
            assert device in profiles[resolved]["supported_devices"] or (
                resolved == device.replace(",", "_")
            )
    assert meta.resolve_profile("tplink,archer-c7-v5") == "tplink_archer-c7-v5"
    assert meta.resolve_profile("no,such-board") is None


def test_generic_only_target_builds_generic_for_any_board():
    meta = _meta("berlin4apk-22.03-SNAPSHOT-ci/targets/x86/64/profiles.json", "x86/64")
    assert meta.resolve_profile("vmware-inc-vmware-virtual-platform") == "generic"
    assert "base-files" in meta.default_packages
