"""Properties: a resolved set is closed under Depends and free of conflicts."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshforge.errors import ResolutionError
from meshforge.packages.index import Dependency, Package, Universe
from meshforge.packages.resolver import Resolution, resolve
from meshforge.packages.versions import opkg_satisfies

NAMES = [f"p{i}" for i in range(8)]
VIRTUAL = ["v0", "v1"]


def assert_closed_and_clean(result: Resolution) -> None:
    installed = list(result.installed.values())
    answers: dict[str, list[Package]] = {}
    for pkg in installed:
        for name in pkg.provided_names:
            answers.setdefault(name, []).append(pkg)
    for pkg in installed:
        for group in pkg.depends:
            assert any(
                opkg_satisfies(p.version, dep.op, dep.version)
                for dep in group
                for p in answers.get(dep.name, [])
            ), f"{pkg.name} lacks {group}"
        for dep in pkg.conflicts:
            assert all(p is pkg for p in answers.get(dep.name, [])), pkg.name
    assert all(len(owners) == 1 for owners in answers.values())


@st.composite
def universes(draw: st.DrawFn) -> Universe:
    packages = []
    for name in NAMES:
        for version in draw(
            st.lists(
                st.sampled_from(["1", "2", "3"]), min_size=1, max_size=2, unique=True
            )
        ):
            packages.append(draw(_package(name, version)))
    return Universe(packages)


@st.composite
def _package(draw: st.DrawFn, name: str, version: str) -> Package:
    targets = st.sampled_from([*NAMES, *VIRTUAL, "ghost"])
    dep = st.builds(
        Dependency,
        targets,
        st.sampled_from([None, ">=", "<<", "="]),
        st.sampled_from(["1", "2", "3"]),
    ).map(lambda d: d if d.op else Dependency(d.name))
    groups = draw(
        st.lists(st.lists(dep, min_size=1, max_size=2).map(tuple), max_size=3)
    )
    provides = draw(st.lists(st.sampled_from(VIRTUAL), max_size=1))
    conflicts = draw(st.lists(targets.map(Dependency), max_size=1))
    return Package(
        name,
        version,
        depends=tuple(groups),
        provides=tuple(provides),
        conflicts=tuple(c for c in conflicts if c.name != name),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    universes(), st.lists(st.sampled_from([*NAMES, *VIRTUAL]), min_size=1, max_size=4)
)
def test_generated_universes(universe: Universe, wanted: list[str]) -> None:
    try:
        result = resolve(universe, wanted)
    except ResolutionError as exc:
        assert exc.extra["missing"] or exc.extra["conflicts"]
        return
    assert_closed_and_clean(result)
    for name in wanted:
        assert any(name in p.provided_names for p in result.installed.values())


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_real_feeds(universe_24: Universe, data: st.DataObject) -> None:
    names = data.draw(
        st.lists(st.sampled_from(universe_24.names()), min_size=1, max_size=5)
    )
    try:
        result = resolve(universe_24, ["base-files", *names])
    except ResolutionError as exc:
        assert exc.extra["missing"] or exc.extra["conflicts"]
        return
    assert_closed_and_clean(result)
