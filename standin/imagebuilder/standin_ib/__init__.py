"""meshforge stand-in ImageBuilder: ``make info``, ``manifest`` and ``image``.

This is not OpenWrt's ImageBuilder. It reads the real package indexes named in
``repositories.conf``, resolves package lists the way opkg does, and writes
real squashfs and ext4 file systems that list (but do not contain) the chosen
packages. Standard library only: it runs inside an extracted archive, without
meshforge.
"""
