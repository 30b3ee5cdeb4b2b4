"""meshforge stand-in ImageBuilder: ``make info``, ``manifest`` and ``image``.

This is not OpenWrt's ImageBuilder. It reads the real package indexes named in
``repositories.conf``, resolves package lists the way opkg does, and writes a
real squashfs that lists (but does not contain) the chosen packages. Standard
library only: it runs inside an extracted archive, without meshforge.
"""
