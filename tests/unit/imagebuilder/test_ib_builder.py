from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from meshforge.errors import BadRequest, BuildError
from meshforge.imagebuilder.builder import Builder
from tests.unit.imagebuilder.ib_factories import MAKEFILE

# Generated test Makefile (not an ImageBuilder): enough of info, manifest
# and image to exercise the Builder's argv, locking and error mapping.
TARGETS = """
manifest:
\t@[ "$(PROFILE)" = generic ] || \\
\t\t{ echo 'Profile "$(PROFILE)" does not exist!'; exit 1; }
\t@for p in $(PACKAGES); do echo "$$p - 1.0"; done
\t@echo "$(STRIP_ABI)" > strip_abi
\t@cat repositories.conf > seen-repositories
\t@cat keys/extra > seen-key
image:
\t@mkdir -p $(BIN_DIR)
\t@echo '{}' > $(BIN_DIR)/profiles.json
\t@if [ "$(PROFILE)" = big ]; then \\
\t\techo 'WARNING: Image file /x/build_dir/big-sysupgrade.bin is too big: 9 > 8' >&2; \\
\telse echo img > $(BIN_DIR)/openwrt-$(EXTRA_IMAGE_NAME)-generic-sysupgrade.bin; fi
\t@echo '$(FILES) $(ROOTFS_PARTSIZE) $(ROOTFS_FILESYSTEM)' > $(BIN_DIR)/args.json
\t@date +%s.%N >> runs; sleep 0.3; date +%s.%N >> runs
"""


@pytest.fixture
def builder(tmp_path: Path) -> Builder:
    ib = tmp_path / "ib"
    ib.mkdir()
    (ib / "Makefile").write_bytes(MAKEFILE + TARGETS.encode())
    (ib / "repositories.conf").write_text("src imagebuilder file:packages\n")
    return Builder(ib, timeout_s=30)


def test_info_is_parsed_and_cached(builder):
    info = builder.info()
    assert info.revision == "r1-0123456789"
    assert info.profiles["generic"].packages == ["kmod-e1000"]
    (builder.path / "Makefile").write_text("info:\n\t@exit 3\n")
    assert builder.info() is info


def test_manifest_passes_strip_abi_and_restores_repositories(builder):
    manifest = builder.manifest(
        "generic",
        ["luci", "-ppp"],
        repositories="src/gz custom http://127.0.0.1:9/packages\n",
        repository_keys={"extra": "untrusted comment: test key\nAAAA\n"},
    )

    assert manifest == {"luci": "1.0", "-ppp": "1.0"}
    assert (builder.path / "strip_abi").read_text() == "1\n"
    seen = (builder.path / "seen-repositories").read_text()
    assert seen == "src/gz custom http://127.0.0.1:9/packages\n"
    assert (builder.path / "seen-key").read_text().startswith("untrusted comment")
    restored = (builder.path / "repositories.conf").read_text()
    assert restored == "src imagebuilder file:packages\n"
    assert not (builder.path / "keys" / "extra").exists()


def test_unknown_profile_is_a_permanent_error(builder):
    with pytest.raises(BuildError, match="has no profile 'other'") as caught:
        builder.manifest("other", [])
    assert caught.value.permanent


@pytest.mark.parametrize(
    "packages",
    [["luci", "$(shell touch pwned)"], ["a b"], ["luci;id"], ["--x"], [""], ["luci\n"]],
)
def test_bad_package_names_never_reach_make(builder, packages):
    with pytest.raises(BadRequest, match="not a valid OpenWrt package name"):
        builder.manifest("generic", packages)
    assert not (builder.path / "strip_abi").exists()
    assert not (builder.path / "pwned").exists()


@pytest.mark.parametrize("profile", ["a b", "x$(id)", "", "p\n"])
def test_bad_profiles_are_refused(builder, profile):
    with pytest.raises(BadRequest, match="profile"):
        builder.manifest(profile, ["luci"])


def test_image_writes_into_bin_dir_with_options(builder, tmp_path):
    bin_dir = tmp_path / "out"
    files = tmp_path / "files"

    result = builder.image(
        "generic",
        ["luci"],
        bin_dir,
        extra_image_name="0123456789ab",
        files=files,
        rootfs_partsize=256,
        filesystem="ext4",
    )

    assert (bin_dir / "openwrt-0123456789ab-generic-sysupgrade.bin").is_file()
    assert (bin_dir / "args.json").read_text() == f"{files} 256 ext4\n"
    assert result.argv[:3] == ["make", "image", "PROFILE=generic"]
    assert f"BIN_DIR={bin_dir}" in result.argv


def test_image_dropped_for_size_is_a_storage_error(builder, tmp_path):
    with pytest.raises(BuildError) as caught:
        builder.image("big", [], tmp_path / "out", extra_image_name="x")
    assert caught.value.detail.startswith("Selected packages exceed device storage")
    assert "(9 bytes, the device allows 8)" in caught.value.detail


@pytest.mark.parametrize(
    ("option", "value"),
    [("rootfs_partsize", 0), ("filesystem", "ntfs"), ("extra_image_name", "a b")],
)
def test_bad_image_options_are_refused(builder, tmp_path, option, value):
    kwargs = {"extra_image_name": "x", option: value}
    with pytest.raises(BadRequest):
        builder.image("generic", [], tmp_path / "out", **kwargs)


def test_two_threads_never_run_make_at_once(builder, tmp_path):
    def build(n: int) -> None:
        builder.image("generic", [], tmp_path / f"out{n}", extra_image_name=str(n))

    threads = [threading.Thread(target=build, args=(n,)) for n in range(2)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    stamps = [float(x) for x in (builder.path / "runs").read_text().split()]
    assert len(stamps) == 4
    assert stamps[1] <= stamps[2]  # the second run began after the first ended
    assert time.monotonic() - started >= 0.6


def test_overlay_left_by_a_crash_is_undone_before_the_next_run(builder):
    conf = builder.path / "repositories.conf"
    original = conf.read_text()
    journal = builder.path / ".meshforge-overlay.json"
    key = builder.path / "keys" / "custom-1"
    journal.write_text(json.dumps({str(conf): original, str(key): None}))
    conf.write_text("src/gz someone-elses http://127.0.0.1:9/evil\n")
    key.parent.mkdir()
    key.write_text("a key")

    builder.info()

    assert conf.read_text() == original
    assert not key.exists()
    assert not journal.exists()
