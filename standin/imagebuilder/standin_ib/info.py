"""``make info``, in the format of the real ImageBuilder (24.10)."""

from __future__ import annotations

from .builder import Builder, Profile


def render_info(builder: Builder) -> str:
    lines = [
        f'Current Target: "{builder.target}"',
        f'Current Architecture: "{builder.meta["arch"]}"',
        f'Current Revision: "{builder.version_code}"',
        "Default Packages: " + " ".join(builder.default_packages),
        "Available Profiles:",
        "",
    ]
    for profile in builder.profiles:
        lines += _profile_block(profile)
    return "\n".join(lines) + "\n"


def _profile_block(profile: Profile) -> list[str]:
    lines = [f"{profile.name}:"]
    if profile.title:
        lines.append(f"    {profile.title}")
    lines.append("    Packages: " + " ".join(profile.packages))
    has_metadata = 1 if profile.supported_devices else 0
    lines.append(f"    hasImageMetadata: {has_metadata}")
    if profile.supported_devices:
        lines.append("    SupportedDevices: " + " ".join(profile.supported_devices))
    return lines
