from meshforge.upstream.opkg import parse_stanzas, split_list, strip_abi
from tests.conftest import SAMPLES


def test_parse_real_index_counts_packages():
    path = SAMPLES / "berlin4apk-22.03-SNAPSHOT-ci/packages/x86_64/packages/Packages"
    text = path.read_text()
    stanzas = list(parse_stanzas(text))
    assert len(stanzas) == text.count("\nPackage: ") + text.startswith("Package: ")
    assert [s["Package"] for s in stanzas] == ["libacl", "libattr", "libzstd", "rsync"]
    rsync = stanzas[-1]
    assert "libzstd" in rsync["Depends"]


def test_continuation_lines_join():
    stanzas = list(parse_stanzas("Package: a\nDescription: one\n two\n\nPackage: b\n"))
    assert stanzas[0]["Description"] == "one\ntwo"
    assert stanzas[1] == {"Package": "b"}


def test_strip_abi_only_when_suffix_matches():
    assert strip_abi("libubox20220515", "20220515") == "libubox"
    assert strip_abi("libusb-1.0-0", "-0") == "libusb-1.0"
    assert strip_abi("libfoo", "2") == "libfoo"
    assert strip_abi("libfoo", None) == "libfoo"


def test_split_list():
    assert split_list("a, b (>= 1), c | d,") == ["a", "b (>= 1)", "c | d"]
