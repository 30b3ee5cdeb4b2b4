"""Package renames, splits, choices and removals between releases, as data.

The rules live in ``replacements.yaml`` beside this module and are checked
against ``replacements.schema.json`` when loaded, so a broken table stops
the server at start-up instead of mangling requests later.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import jsonschema
import yaml

from meshforge.errors import ConfigError
from meshforge.upstream.releases import known_branches

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
RULES_FILE = HERE / "replacements.yaml"
SCHEMA_FILE = HERE / "replacements.schema.json"

Kind = Literal["rename", "split", "choice", "remove", "add"]


@dataclass(frozen=True)
class Choice:
    installed: tuple[str, ...]
    target: str


@dataclass(frozen=True)
class Rule:
    """One change, bound to a revision (master numbering) or a release."""

    id: str
    kind: Kind
    note: str
    source: str | None = None
    target: str | None = None
    targets: tuple[str, ...] = ()
    default: str | None = None
    when: tuple[Choice, ...] = ()
    revision: int | None = None
    release: str | None = None
    mandatory: bool = False
    device_targets: tuple[str, ...] = ()

    def applies(
        self,
        from_revision: int,
        to_revision: int,
        to_release: str | None,
        device_target: str | None,
    ) -> bool:
        if self.device_targets and not _any_match(self.device_targets, device_target):
            return False
        if self.revision is not None:
            return from_revision < self.revision <= to_revision
        return self.release == "*" or self.release == branch_of(to_release or "")


@dataclass(frozen=True)
class Applied:
    """A rule that changed the list: which names went and which came."""

    rule: str
    kind: Kind
    removed: tuple[str, ...]
    added: tuple[str, ...]
    note: str
    alternatives: tuple[str, ...] = ()


@dataclass
class ReplacementResult:
    packages: list[str]
    applied: list[Applied] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.applied)


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    branches: dict[str, int]

    def branch_off(self, version: str) -> int | None:
        return self.branches.get(branch_of(version))


def branch_of(version: str) -> str:
    """``23.05.5`` and ``23.05-SNAPSHOT`` are on ``23.05``; ``SNAPSHOT`` stays."""
    match = re.match(r"^(\d+\.\d+)", version)
    return match.group(1) if match else version.upper()


# --- loading -------------------------------------------------------------


def load_rule_set(path: Path | None = None) -> RuleSet:
    """Read and validate a rules file (default: the one beside this module)."""
    path = path or RULES_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"Cannot read package rules {path}: {exc}.") from exc
    _validate(data, path)
    rules = tuple(_rule(item) for item in data["rules"])
    _check_unique(rules, path)
    return RuleSet(rules, _branch_offs())


def _branch_offs() -> dict[str, int]:
    # One table of branches for the whole server: upstream/branches.yaml.
    return {
        b.name: b.branch_off_rev
        for b in known_branches()
        if b.branch_off_rev is not None
    }


def load_rules(path: Path | None = None) -> list[Rule]:
    """The rules of a file, validated by the JSON schema."""
    return list(load_rule_set(path).rules)


@lru_cache(maxsize=1)
def default_rule_set() -> RuleSet:
    return load_rule_set()


def _validate(data: Any, path: Path) -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.path) or "top level"
        raise ConfigError(
            f"Package rules {path} are invalid at {where}: {first.message}. "
            f"Fix the file ({len(errors)} problem(s)); see {SCHEMA_FILE.name}."
        )


def _rule(item: dict[str, Any]) -> Rule:
    when = tuple(
        Choice(tuple(c["installed"]), c["target"]) for c in item.get("when", [])
    )
    return Rule(
        id=item["id"],
        kind=item["kind"],
        note=item["note"],
        source=item.get("source"),
        target=item.get("target"),
        targets=tuple(item.get("targets", ())),
        default=item.get("default"),
        when=when,
        revision=item.get("revision"),
        release=item.get("release"),
        mandatory=bool(item.get("mandatory", False)),
        device_targets=tuple(item.get("device_targets", ())),
    )


def _check_unique(rules: Sequence[Rule], path: Path) -> None:
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise ConfigError(f"Package rules {path}: the id {rule.id!r} repeats.")
        seen.add(rule.id)


# --- applying ------------------------------------------------------------


def apply_rules(
    rules: Iterable[Rule],
    packages: dict[str, str] | list[str],
    from_revision: int,
    to_revision: int,
    installed: Iterable[str] | None = None,
    *,
    to_release: str | None = None,
    device_target: str | None = None,
) -> ReplacementResult:
    """Rewrite a package list for a move from one revision to another.

    ``packages`` is a list of names or a name-to-version mapping (versions of
    the names that survive are kept in ``versions``). ``installed`` is what
    the device has, for ``choice`` rules; by default the packages themselves.
    Revision-bound rules apply when ``from_revision < revision <=
    to_revision`` (pass a branch's branch-off revision for releases),
    release-bound ones when ``to_release`` is on their branch. Rules apply
    in revision order, so chains (a rename of a rename) work.
    """
    names = list(packages)
    versions = dict(packages) if isinstance(packages, dict) else {}
    device = set(installed) if installed is not None else set(names)
    result = ReplacementResult(names, versions=versions)
    chosen = [
        r
        for r in rules
        if r.applies(from_revision, to_revision, to_release, device_target)
    ]
    chosen.sort(key=lambda r: r.revision if r.revision is not None else 10**9)
    for rule in chosen:
        _apply(rule, result, device)
    for name in list(result.versions):
        if name not in result.packages:
            del result.versions[name]
    return result


def for_request(
    packages: list[str], version: str, target: str, rule_set: RuleSet | None = None
) -> ReplacementResult:
    """Rewrite a build request's packages for the release it asks for.

    A client may still name packages of the release it runs (``auc`` for a
    24.10 image); every change up to the requested branch applies, as asu's
    worker applies its package changes.
    """
    rules = rule_set or default_rule_set()
    if branch_of(version) == "SNAPSHOT":
        cutoff = 10**9
    else:
        cutoff = rules.branch_off(version) or 0
    return apply_rules(
        rules.rules, packages, 0, cutoff, to_release=version, device_target=target
    )


def _apply(rule: Rule, result: ReplacementResult, device: set[str]) -> None:
    if rule.kind == "add":
        _add(rule, result)
        return
    assert rule.source is not None  # the schema requires it for these kinds
    for name in [n for n in result.packages if fnmatchcase(n, rule.source)]:
        new, alternatives = _targets(rule, name, device)
        _swap(result, name, new)
        result.applied.append(
            Applied(rule.id, rule.kind, (name,), new, rule.note, alternatives)
        )


def _targets(
    rule: Rule, name: str, device: set[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if rule.kind == "remove":
        return (), ()
    if rule.kind == "rename":
        assert rule.target is not None
        return (_carry(rule.source or "", rule.target, name),), ()
    if rule.kind == "split":
        assert rule.default is not None
        others = tuple(t for t in rule.targets if t != rule.default)
        return (rule.default,), others
    for choice in rule.when:
        if any(fnmatchcase(d, pattern) for d in device for pattern in choice.installed):
            return (choice.target,), ()
    assert rule.default is not None
    return (rule.default,), tuple(c.target for c in rule.when)


def _carry(source: str, target: str, name: str) -> str:
    """``luci-i18n-opkg-*`` -> ``luci-i18n-package-manager-*`` keeps the ``*``."""
    if "*" not in source or "*" not in target:
        return target
    head, _, tail = source.partition("*")
    middle = name[len(head) : len(name) - len(tail)]
    return target.replace("*", middle, 1)


def _swap(result: ReplacementResult, old: str, new: tuple[str, ...]) -> None:
    index = result.packages.index(old)
    fresh = [n for n in new if n not in result.packages]
    result.packages[index : index + 1] = fresh
    log.debug("replaced %s by %s", old, fresh)


def _add(rule: Rule, result: ReplacementResult) -> None:
    assert rule.target is not None
    if rule.mandatory and rule.target not in result.packages:
        result.packages.append(rule.target)
        result.applied.append(Applied(rule.id, "add", (), (rule.target,), rule.note))


def _any_match(patterns: Iterable[str], value: str | None) -> bool:
    return value is not None and any(fnmatchcase(value, p) for p in patterns)
