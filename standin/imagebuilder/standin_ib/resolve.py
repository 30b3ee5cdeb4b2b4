"""Choose the packages of an image the way the ImageBuilder and opkg do."""

from __future__ import annotations

from dataclasses import dataclass, field

from .feeds import Index, VersionKey
from .packages import Dependency, Package


def build_package_list(
    defaults: list[str], profile_packages: list[str], user: list[str]
) -> list[str]:
    """The ImageBuilder's ``BUILD_PACKAGES`` rule.

    sort(defaults + profile packages + kernel), drop ``x`` wherever ``-x`` is
    given, put the user's packages in front, and drop again.
    """
    build = sorted(set(defaults + profile_packages + ["kernel"]))
    build = _drop_removed(build)
    return _drop_removed(user + build)


def _drop_removed(names: list[str]) -> list[str]:
    removed = {name[1:] for name in names if name.startswith("-")}
    return [n for n in names if not n.startswith("-") and n not in removed]


@dataclass
class Selection:
    """Installed packages in install order, and the ones a user asked for."""

    packages: dict[str, Package] = field(default_factory=dict)
    user: set[str] = field(default_factory=set)

    def copy(self) -> Selection:
        return Selection(dict(self.packages), set(self.user))

    def find(self, dep: Dependency) -> Package | None:
        """The installed package that meets ``dep``, if any."""
        chosen = self.packages.get(dep.name)
        if chosen is not None and chosen.meets(dep):
            return chosen
        for package in self.packages.values():
            if package.meets(dep):
                return package
        return None

    def has_named(self, dep: Dependency) -> bool:
        chosen = self.packages.get(dep.name)
        return chosen is not None and dep.allows(chosen.version)

    def satisfies(self, dep: Dependency) -> bool:
        return self.find(dep) is not None


@dataclass
class Outcome:
    selection: Selection
    unknown: list[str] = field(default_factory=list)
    unsatisfied: dict[str, list[str]] = field(default_factory=dict)
    conflicts: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.unknown or self.unsatisfied or self.conflicts)

    def stdout_lines(self) -> list[str]:
        return [f"Unknown package '{name}'." for name in self.unknown]

    def stderr_lines(self) -> list[str]:
        """The ``Collected errors:`` block of opkg-lede."""
        if self.ok:
            return []
        lines = ["Collected errors:"]
        for name, missing in self.unsatisfied.items():
            lines.append(
                " * satisfy_dependencies_for: Cannot satisfy the following "
                f"dependencies for {name}:"
            )
            lines.extend(f" * \t{dep}" for dep in missing)
        for name, others in self.conflicts.items():
            lines.append(
                f" * check_conflicts_for: The following packages conflict with {name}:"
            )
            lines.extend(f" * \t{other} " for other in others)
        failed = [*self.unknown, *self.unsatisfied, *self.conflicts]
        lines += [f" * opkg_install_cmd: Cannot install package {n}." for n in failed]
        return lines


class Resolver:
    """opkg ``install`` over an index, without downloading any package."""

    def __init__(self, index: Index) -> None:
        self.index = index

    def install(self, names: list[str], base: Selection | None = None) -> Outcome:
        outcome = Outcome(base.copy() if base else Selection())
        for name in names:
            self._install_one(name, outcome)
        return outcome

    def _installed(self, name: str, selection: Selection) -> Package | None:
        # A name asked for is installed under that name even when another
        # package already provides it (opkg installs dnsmasq beside
        # dnsmasq-full, which only Provides it).
        installed = selection.packages.get(name)
        if installed is None and not self.index.named(name):
            installed = selection.find(Dependency(name))
        return installed

    def _install_one(self, name: str, outcome: Outcome) -> None:
        installed = self._installed(name, outcome.selection)
        if installed is not None:
            outcome.selection.user.add(installed.name)
            return
        package = self.pick_requested(name)
        if package is None:
            outcome.unknown.append(name)
            return
        trial = outcome.selection.copy()
        missing, clashes = self._add(package, trial)
        if missing:
            outcome.unsatisfied[name] = missing
        elif clashes:
            outcome.conflicts[name] = clashes
        else:
            trial.user.add(package.name)
            outcome.selection = trial

    def pick_requested(self, name: str) -> Package | None:
        """What ``opkg install <name>`` installs: that name, else a provider.

        Among providers opkg takes the first by name of the highest
        architecture priority (the package arch before ``all``).
        """
        named = self.index.named(name)
        if named:
            return named[0]
        providers = self.index.providing(name)
        providers.sort(key=lambda p: p.architecture in ("all", "noarch"))
        return providers[0] if providers else None

    def pick(self, dep: Dependency) -> Package | None:
        """What opkg installs for a dependency nothing installed meets yet.

        A package of that very name wins (``procd``, not ``procd-selinux``).
        Otherwise opkg sorts the providers by name and version and keeps the
        last that fits: a dependency on ``uci-firewall`` gets ``firewall4``.
        """
        for package in self.index.named(dep.name):
            if package.meets(dep):
                return package
        fitting = [p for p in self.index.providing(dep.name) if p.meets(dep)]
        fitting.sort(key=VersionKey)
        fitting.sort(key=lambda p: p.name)
        return fitting[-1] if fitting else None

    def _add(self, package: Package, trial: Selection) -> tuple[list[str], list[str]]:
        # opkg checks Conflicts against installed names only, not Provides.
        clashes = [c.name for c in package.conflicts if trial.has_named(c)]
        if clashes:
            return [], clashes
        # Marked before its dependencies so that cycles end here.
        trial.packages[package.name] = package
        missing: list[str] = []
        for group in package.depends:
            more_missing, more_clashes = self._add_group(group, trial)
            missing += more_missing
            clashes += more_clashes
        trial.packages[package.name] = trial.packages.pop(package.name)
        return missing, clashes

    def _add_group(
        self, group: list[Dependency], trial: Selection
    ) -> tuple[list[str], list[str]]:
        if any(trial.satisfies(dep) for dep in group):
            return [], []
        for dep in group:
            candidate = self.pick(dep)
            if candidate is not None:
                return self._add(candidate, trial)
        return [" | ".join(str(dep) for dep in group)], []
