import pytest

from meshforge.errors import BadRequest
from meshforge.imagebuilder.repositories import key_files, repositories_text
from meshforge.signing.usign import SecretKey


def test_opkg_replace_keeps_only_the_local_repo(tmp_path):
    (tmp_path / "repositories.conf").write_text("src/gz openwrt_base http://x/base\n")
    text = repositories_text(tmp_path, {"lime": "https://feed.example/lime"}, "replace")
    assert text.splitlines() == [
        "src imagebuilder file:packages",
        "src/gz lime https://feed.example/lime",
        "option check_signature",
    ]


def test_opkg_append_keeps_the_original_lines(tmp_path):
    (tmp_path / "repositories.conf").write_text(
        "src/gz openwrt_base http://x/base\nsrc imagebuilder file:packages\n"
        "option check_signature\n"
    )
    text = repositories_text(tmp_path, {"lime": "https://feed.example/lime"}, "append")
    lines = text.splitlines()
    assert lines[0] == "src/gz openwrt_base http://x/base"
    assert "src/gz lime https://feed.example/lime" in lines
    assert lines.count("option check_signature") == 1


def test_apk_builders_get_one_url_a_line(tmp_path):
    (tmp_path / "repositories").write_text("https://x/base/packages.adb\n")
    text = repositories_text(tmp_path, {"l": "https://f/packages.adb"}, "append")
    assert text == "https://x/base/packages.adb\nhttps://f/packages.adb\n"


def test_keys_are_named_by_fingerprint_or_numbered_pem():
    key = SecretKey.generate("test secret key").public
    blob = key.to_text().splitlines()[1]
    pem = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----"
    files = key_files([blob, pem])
    assert files[key.fingerprint] == f"untrusted comment: {key.fingerprint}\n{blob}\n"
    assert files["custom-1.pem"].startswith("-----BEGIN PUBLIC KEY-----")


def test_garbage_keys_are_refused():
    with pytest.raises(BadRequest, match="neither a usign"):
        key_files(["not a key"])
