"""Which packages an ImageBuilder would install, decided before queueing.

:func:`resolve` replays what the ImageBuilder's opkg does (opkg-lede
``opkg_install.c``, ``pkg_depends.c``, ``pkg_hash.c``): the requested names
are installed one after another, each pulling its dependencies depth first,
and every choice between providers prefers what is already installed, then
the first satisfiable alternative, then the package really named as asked,
then the highest name and version. The order matters: ``nftables`` ends up
as ``nftables-json`` because ``firewall4`` is installed first and pulls it.

Where opkg lets a broken set through (two packages that provide the same
name, a ``Conflicts`` checked only one way) and the real build fails late,
we refuse up front with :class:`~meshforge.errors.ResolutionError`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cmp_to_key

from meshforge.errors import ResolutionError
from meshforge.packages.index import Alternatives, Dependency, Package, Universe
from meshforge.packages.versions import Format, compare, satisfies

log = logging.getLogger(__name__)

#: The ImageBuilder installs these from its own folder, each in its own opkg
#: run, before the package list (``package_install`` in its Makefile).
PREINSTALL = ("libc", "kernel")


# --- the request: DOMAIN 1.6 and the ImageBuilder's PACKAGES rules -------


def diff_against_defaults(
    requested: Sequence[str], defaults: Iterable[str]
) -> list[str]:
    """asu's ``diff_packages``: remove every default the client did not list."""
    asked = set(requested)
    removals = {_negate(p) for p in defaults if p not in asked}
    return sorted(removals) + list(requested)


def _negate(name: str) -> str:
    return name if name.startswith("-") else "-" + name


def apply_removals(names: Sequence[str]) -> list[str]:
    """Make's ``filter-out``: drop every ``-x`` and every ``x`` it names."""
    removed = {n[1:] for n in names if n.startswith("-")}
    return [n for n in names if not n.startswith("-") and n not in removed]


def expand_request(
    defaults: list[str],
    profile_packages: list[str],
    requested: list[str],
    diff_packages: bool,
) -> list[str]:
    """The argument list the ImageBuilder hands to ``opkg install``.

    ``defaults`` are the target's default packages, ``profile_packages`` the
    device's (entries may be ``-x``), ``requested`` the client's list. With
    ``diff_packages`` the client's list is complete: every default it omits
    is removed. The ImageBuilder then builds ``sort(defaults + profile +
    kernel)``, applies the removals in it, puts the user packages first and
    applies the removals again. Duplicates keep their first position, which
    is where opkg acts on them.
    """
    user = list(requested)
    if diff_packages:
        user = diff_against_defaults(requested, [*defaults, *profile_packages])
    base = apply_removals(sorted({*defaults, *profile_packages, "kernel"}))
    return list(dict.fromkeys(apply_removals([*user, *base])))


# --- the answer ----------------------------------------------------------


@dataclass
class Resolution:
    """What would be installed, by real package name."""

    installed: dict[str, Package]
    requested: list[str]
    auto_installed: set[str] = field(default_factory=set)

    def manifest(self, strip_abi: bool = False) -> list[str]:
        """``name - version`` lines sorted by name, like ``make manifest``."""
        rows = []
        for pkg in self.installed.values():
            name = pkg.stripped_name if strip_abi else pkg.name
            rows.append((name, f"{name} - {pkg.version}"))
        return [line for _, line in sorted(rows)]

    def versions(self) -> dict[str, str]:
        return {name: pkg.version for name, pkg in sorted(self.installed.items())}


@dataclass
class _Problems:
    missing: dict[str, list[str]] = field(default_factory=dict)
    conflicts: dict[tuple[str, str], str] = field(default_factory=dict)

    def add_missing(self, name: str, needed_by: str) -> None:
        self.missing.setdefault(name, [])
        if needed_by and needed_by not in self.missing[name]:
            self.missing[name].append(needed_by)

    def add_conflict(self, a: str, b: str, why: str) -> None:
        key = (a, b) if a <= b else (b, a)
        self.conflicts.setdefault(key, why)


# --- opkg's choices -------------------------------------------------------

Constraint = Callable[[Package], bool]


class _Opkg:
    """The installed state of one image, and opkg's rules to change it."""

    def __init__(self, universe: Universe) -> None:
        self.universe = universe
        self.installed: dict[str, Package] = {}
        self.wanted: set[int] = set()
        self.auto: set[str] = set()
        self.problems = _Problems()
        self.checked: set[str] = set()

    def new_run(self) -> None:
        """Start another ``opkg`` process: its visit marks start empty."""
        self.checked = set()

    def is_installed(self, pkg: Package) -> bool:
        return self.installed.get(pkg.name) is pkg

    # opkg: pkg_hash_fetch_installed_by_name
    def installed_by_name(self, name: str) -> Package | None:
        if name in self.universe.by_name:
            return self.installed.get(name)
        providers = self.universe.provided_by.get(name)
        return self.installed.get(providers[0]) if providers else None

    # opkg: pkg_hash_fetch_best_installation_candidate
    def best_candidate(
        self, name: str, accept: Constraint, quiet: bool
    ) -> Package | None:
        matching = [
            p
            for p in self.universe.providers(name)
            if self.universe.arch_priority(p) > 0 and viable(self.universe, p)
        ]
        if not matching:
            return None
        matching.sort(key=cmp_to_key(self._name_version_arch))
        good = _best_accepted(matching, name, accept)
        if good is not None:
            return good
        return self._fallback(matching, quiet)

    def _fallback(self, matching: list[Package], quiet: bool) -> Package | None:
        held = [p for p in matching if p.held]
        if held:
            return held[-1]
        parents = [p for p in matching if p.name in self.installed]
        if parents:
            return parents[-1]
        several = len({p.name for p in matching}) > 1
        if several and not quiet:
            top = max(self.universe.arch_priority(p) for p in matching)
            return next(p for p in matching if self.universe.arch_priority(p) == top)
        return None if several else matching[-1]

    def _name_version_arch(self, a: Package, b: Package) -> int:
        if a.name != b.name:
            return -1 if a.name < b.name else 1
        return compare(a.version, b.version, self.universe.format) or (
            self.universe.arch_priority(a) - self.universe.arch_priority(b)
        )

    # opkg: pkg_hash_fetch_unsatisfied_dependencies
    def unsatisfied(self, pkg: Package, pending: list[Package]) -> list[str]:
        if pkg.name in self.checked:
            return []
        self.checked.add(pkg.name)
        lost: list[str] = []
        groups = [(g, False) for g in pkg.depends]
        groups += [(g, True) for g in pkg.recommends]
        for group, soft in groups:
            if self._installed_satisfier(group):
                continue
            satisfier = self._new_satisfier(group)
            if satisfier is None:
                if not soft:
                    lost.append(_text(group))
                continue
            if satisfier is not pkg and satisfier not in pending:
                lost += self.unsatisfied(satisfier, pending)
                pending.append(satisfier)
        return lost

    def _installed_satisfier(self, group: Alternatives) -> bool:
        for dep in group:
            accept = self._installed_and(dep)
            found = self.best_candidate(dep.name, accept, quiet=True)
            if found is not None and accept(found):
                return True
        return False

    def _new_satisfier(self, group: Alternatives) -> Package | None:
        for dep in group:
            accept = _satisfying(dep, self.universe)
            found = self.best_candidate(dep.name, accept, quiet=True)
            if found is not None and accept(found):
                return found
        return None

    def _installed_and(self, dep: Dependency) -> Constraint:
        def accept(pkg: Package) -> bool:
            return self.is_installed(pkg) and _satisfying(dep, self.universe)(pkg)

        return accept

    # opkg: opkg_install_by_name
    def install_by_name(self, name: str) -> bool:
        old = self.installed_by_name(name)
        new = self.best_candidate(name, lambda p: p.name == name, quiet=False)
        if new is None:
            self._explain_missing(name)
            return False
        if old is not None:
            if name not in old.provided_names:
                # opkg keeps the installed version and silently lacks ``name``.
                self.problems.add_conflict(old.name, new.name, "version")
                return False
            if self._cmp(old, new) >= 0:
                return True
            self.wanted.discard(id(old))
        return self.install(new)

    # opkg: opkg_install_pkg
    def install(self, pkg: Package) -> bool:
        if self.is_installed(pkg):
            return self.satisfy(pkg)
        old = self.installed.get(pkg.name)
        if old is not None and self._cmp(old, pkg) >= 0:
            self.problems.add_conflict(old.name, pkg.name, "version")
            return False
        self.wanted.add(id(pkg))
        if self._conflicting(pkg):
            return False
        if not self.satisfy(pkg):
            return False
        current = self.installed.get(pkg.name)
        if current is not None and current is not pkg:
            # A dependency pulled another version of this very name.
            self.problems.add_conflict(current.name, pkg.name, "version")
            return False
        if not self.is_installed(pkg):
            self._remove_replaced(pkg)
            self.installed[pkg.name] = pkg
        return True

    # opkg: satisfy_dependencies_for
    def satisfy(self, pkg: Package) -> bool:
        pending: list[Package] = []
        lost = self.unsatisfied(pkg, pending)
        for dep in lost:
            self.problems.add_missing(dep, pkg.name)
        if lost:
            return False
        for dep_pkg in pending:
            self.wanted.add(id(dep_pkg))
        for dep_pkg in pending:
            if not self.is_installed(dep_pkg):
                ok = self.install(dep_pkg)
                self.auto.add(dep_pkg.name)
                if not ok:
                    return False
        return True

    # opkg: check_conflicts_for / pkg_hash_fetch_conflicts
    def _conflicting(self, pkg: Package) -> bool:
        clash = False
        for dep in pkg.conflicts:
            for other in self.universe.by_name.get(dep.name, ()):
                live = self.is_installed(other) or id(other) in self.wanted
                if other is pkg or not live or other.name in pkg.replaces:
                    continue
                if satisfies(other.version, dep.op, dep.version, self.universe.format):
                    self.problems.add_conflict(pkg.name, other.name, "conflicts")
                    clash = True
        return clash

    def _cmp(self, a: Package, b: Package) -> int:
        return compare(a.version, b.version, self.universe.format)

    def _remove_replaced(self, pkg: Package) -> None:
        for name in pkg.replaces:
            old = self.installed.get(name)
            if old is not None and any(c.name == name for c in pkg.conflicts):
                log.debug("%s replaces %s", pkg.name, name)
                del self.installed[name]

    def _explain_missing(self, name: str) -> None:
        if name not in self.universe:
            self.problems.add_missing(name, "")
            return
        leaves = _unresolvable_leaves(self.universe, name)
        for leaf, needer in leaves:
            self.problems.add_missing(leaf, needer)
        if not leaves:
            self.problems.add_missing(name, "")


def _best_accepted(
    matching: list[Package], name: str, accept: Constraint
) -> Package | None:
    """Among accepted candidates: the real name wins, then the last sorted."""
    good: Package | None = None
    good_score = 0
    for pkg in matching:
        if not accept(pkg):
            continue
        score = 2 if pkg.name == name else 1
        if score >= good_score:
            good, good_score = pkg, score
    return good


def _satisfying(dep: Dependency, universe: Universe) -> Constraint:
    def accept(pkg: Package) -> bool:
        return satisfies(pkg.version, dep.op, dep.version, universe.format)

    return accept


# --- which packages can be installed at all ------------------------------


def viable(universe: Universe, pkg: Package) -> bool:
    """Whether every dependency of ``pkg`` can be met, recursively.

    opkg drops candidates whose dependencies cannot be resolved
    (``pkg_hash_check_unresolved``). The answer depends only on the
    universe, so it is computed once for all packages and kept there.
    """
    table = universe.viable
    if not table:
        table = _viability(universe)
        # One assignment, so concurrent requests see all of it or none.
        universe.viable = table
    return table.get(id(pkg), False)


def prepare(universe: Universe) -> None:
    """Compute what is installable now, so the first request does not pay."""
    universe.viable = _viability(universe)


def _viability(universe: Universe) -> dict[int, bool]:
    """Every package starts installable; those with an unmet dependency drop
    out until nothing changes. Cycles stay installable, as in opkg."""
    alive = {id(p): universe.arch_priority(p) > 0 for p in universe.packages}
    changed = True
    while changed:
        changed = False
        for pkg in universe.packages:
            if alive[id(pkg)] and not all(
                _group_met(universe, g, alive) for g in pkg.depends
            ):
                alive[id(pkg)] = False
                changed = True
    return alive


def _group_met(
    universe: Universe, group: Alternatives, alive: dict[int, bool] | None = None
) -> bool:
    alive = universe.viable if alive is None else alive
    for dep in group:
        for pkg in universe.providers(dep.name):
            if alive.get(id(pkg)) and satisfies(
                pkg.version, dep.op, dep.version, universe.format
            ):
                return True
    return False


def _unresolvable_leaves(universe: Universe, name: str) -> list[tuple[str, str]]:
    """The dependencies nobody meets that make ``name`` uninstallable."""
    leaves: list[tuple[str, str]] = []
    seen: set[str] = set()
    stack = [p for p in universe.providers(name) if not viable(universe, p)]
    while stack:
        pkg = stack.pop()
        if pkg.name in seen:
            continue
        seen.add(pkg.name)
        for group in pkg.depends:
            if _group_met(universe, group):
                continue
            meeting = [p for d in group for p in _meeting(universe, d)]
            if not meeting:
                leaves.append((_text(group), pkg.name))
            stack.extend(meeting)
    return leaves


def _meeting(universe: Universe, dep: Dependency) -> list[Package]:
    return [
        p
        for p in universe.providers(dep.name)
        if universe.arch_priority(p) > 0
        and satisfies(p.version, dep.op, dep.version, universe.format)
    ]


def _text(group: Alternatives) -> str:
    return " | ".join(str(d) for d in group)


# --- the stricter checks opkg does not make -------------------------------


def _shared_names(installed: dict[str, Package], problems: _Problems) -> None:
    """Two installed packages that answer to the same name clash at build time."""
    owners: dict[str, list[str]] = {}
    for pkg in installed.values():
        for name in pkg.provided_names:
            owners.setdefault(name, []).append(pkg.name)
    for name, pkgs in owners.items():
        for i, a in enumerate(pkgs):
            for b in pkgs[i + 1 :]:
                problems.add_conflict(a, b, f"provide:{name}")


def _declared_conflicts(
    installed: dict[str, Package], problems: _Problems, format: Format
) -> None:
    """``Conflicts`` in both directions and against provided names."""
    for pkg in installed.values():
        for dep in pkg.conflicts:
            for other in installed.values():
                if other is pkg or other.name in pkg.replaces:
                    continue
                hit = other.name == dep.name and satisfies(
                    other.version, dep.op, dep.version, format
                )
                if hit or dep.name in other.provides:
                    problems.add_conflict(pkg.name, other.name, "conflicts")


# --- entry point -----------------------------------------------------------


def resolve(
    universe: Universe,
    packages: list[str],
    *,
    defaults: Iterable[str] = (),
    preinstall: Sequence[str] = PREINSTALL,
    strict: bool = True,
) -> Resolution:
    """Resolve an ``opkg install`` list; raise ``ResolutionError`` if it fails.

    ``packages`` is the list :func:`expand_request` returns (``-x`` entries
    are applied again here, harmlessly). ``defaults`` only shapes the advice
    in the error. ``preinstall`` names what the ImageBuilder installs first
    from its own folder, when the universe has it. ``strict=False`` skips the
    checks opkg does not make and returns what opkg itself would install.
    """
    names = list(dict.fromkeys(apply_removals(packages)))
    opkg = _Opkg(universe)
    for name in preinstall:
        if name in universe.by_name:
            opkg.new_run()
            opkg.install_by_name(name)
    opkg.new_run()
    for name in names:
        opkg.install_by_name(name)
    if strict:
        _shared_names(opkg.installed, opkg.problems)
        _declared_conflicts(opkg.installed, opkg.problems, universe.format)
    if opkg.problems.missing or opkg.problems.conflicts:
        raise _error(opkg.problems, names, set(defaults))
    auto = opkg.auto - set(names)
    return Resolution(dict(sorted(opkg.installed.items())), names, auto)


def _error(
    problems: _Problems, names: list[str], defaults: set[str]
) -> ResolutionError:
    sentences: list[str] = []
    if problems.missing:
        sentences.append(_missing_sentence(problems.missing))
    for (a, b), why in sorted(problems.conflicts.items()):
        sentences.append(_conflict_sentence(a, b, why, names, defaults))
    log.info(
        "resolution refused: missing=%s conflicts=%s",
        sorted(problems.missing),
        sorted(problems.conflicts),
    )
    return ResolutionError(
        " ".join(sentences),
        missing=sorted(problems.missing),
        conflicts=[list(pair) for pair in sorted(problems.conflicts)],
        needed_by={k: v for k, v in sorted(problems.missing.items()) if v},
    )


def _missing_sentence(missing: dict[str, list[str]], limit: int = 10) -> str:
    parts = []
    for name, needers in sorted(missing.items())[:limit]:
        if needers:
            shown = ", ".join(sorted(needers)[:3])
            more = f" and {len(needers) - 3} more" if len(needers) > 3 else ""
            parts.append(f"'{name}' (needed by {shown}{more})")
        else:
            parts.append(f"'{name}'")
    if len(missing) > limit:
        parts.append(f"and {len(missing) - limit} more (all listed in 'missing')")
    return (
        f"No package index of this release and target provides {', '.join(parts)}."
        " Check the spelling, remove the package from the request, or choose a"
        " release that has it."
    )


def _conflict_sentence(
    a: str, b: str, why: str, names: list[str], defaults: set[str]
) -> str:
    if why.startswith("provide:"):
        reason = f"both provide '{why.split(':', 1)[1]}'"
    elif why == "version":
        reason = "two versions of the same package were selected"
    else:
        reason = "one declares a conflict with the other"
    drop = _suggest_removal(a, b, names, defaults)
    origin = f" ('{drop}' is a default package)" if drop in defaults else ""
    return (
        f"'{a}' and '{b}' cannot be installed together: {reason}."
        f" Remove one of them{origin}: add '-{drop}' to the package list,"
        " or drop the other from the request."
    )


def _suggest_removal(a: str, b: str, names: list[str], defaults: set[str]) -> str:
    """Prefer removing a default; else the one listed later (defaults follow
    the client's own packages in the list)."""
    for name in (a, b):
        if name in defaults:
            return name
    listed = sorted((names.index(x), x) for x in (a, b) if x in names)
    return listed[-1][1] if listed else b
