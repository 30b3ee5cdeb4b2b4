from meshforge.upstream.releases import (
    branch_of,
    is_unversioned,
    latest_versions,
    offered_versions,
    version_path,
)


def test_branch_of():
    assert branch_of("24.10.5") == "24.10"
    assert branch_of("24.10-SNAPSHOT") == "24.10"
    assert branch_of("25.12.0-rc1") == "25.12"
    assert branch_of("SNAPSHOT") == "SNAPSHOT"


def test_version_path_and_unversioned():
    assert version_path("SNAPSHOT") == "snapshots"
    assert version_path("23.05.4") == "releases/23.05.4"
    assert is_unversioned("22.03-SNAPSHOT") and not is_unversioned("22.03.5")


def test_offered_versions_order_and_filter():
    versions = offered_versions(
        {
            "upcoming_version": "25.12.0-rc1",
            "versions_list": ["24.10.4", "24.10.10", "23.05.5", "18.06.9", "1.2.3"],
        }
    )
    # Unknown branches (18.06, 1.2) are dropped; within a branch releases come
    # first, then rc versions, then the branch snapshot; 24.10.10 > 24.10.4.
    assert "18.06.9" not in versions and "1.2.3" not in versions
    assert versions.index("25.12.0-rc1") < versions.index("25.12-SNAPSHOT")
    assert versions.index("24.10.4") < versions.index("24.10-SNAPSHOT")
    assert versions.index("24.10.10") < versions.index("24.10.4")
    assert versions[0] == "SNAPSHOT"


def test_latest_versions_from_real_fixture():
    import json

    from tests.conftest import SAMPLES

    data = json.loads((SAMPLES / "firmware-selector" / ".versions.json").read_text())
    latest = latest_versions(data)
    assert latest and latest[0] == data.get("upcoming_version", data["stable_version"])
