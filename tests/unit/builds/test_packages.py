import pytest

from meshforge.builds.packages import image_packages
from meshforge.packages.resolver import diff_against_defaults as diff_packages


@pytest.mark.parametrize(
    "requested,defaults,expected",
    [
        # Vectors from the asu test-suite (DOMAIN.md §1.6).
        (["test1"], {"test1", "test2"}, ["-test2", "test1"]),
        (["test1"], {"test1"}, ["test1"]),
        (["test1"], {"test2", "test3"}, ["-test2", "-test3", "test1"]),
        (["test1"], {"test2", "-test3"}, ["-test2", "-test3", "test1"]),
        (["z", "x"], {"x", "y", "z"}, ["-y", "z", "x"]),
        (["x", "z"], {"x", "y", "z"}, ["-y", "x", "z"]),
        (["z", "y"], {"x", "y", "z"}, ["-x", "z", "y"]),
        (["y", "z"], {"x", "y", "z"}, ["-x", "y", "z"]),
    ],
)
def test_diff_packages_vectors(requested, defaults, expected):
    assert diff_packages(requested, defaults) == expected


def test_image_packages_without_diff_keeps_request():
    assert image_packages(["b", "a"], ["x"], ["y"], diff=False) == ["b", "a"]


def test_image_packages_with_diff_uses_profile_packages_too():
    assert image_packages(["a"], ["x"], ["y"], diff=True) == ["-x", "-y", "a"]
