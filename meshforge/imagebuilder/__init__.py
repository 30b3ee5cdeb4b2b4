"""OpenWrt ImageBuilders: fetch, verify, unpack, cache, and run them.

- :mod:`archive` finds a target's ImageBuilder archive in its ``sha256sums``;
- :mod:`cache` (:class:`BuilderCache`) downloads it, checks the usign
  signature and the sha256, unpacks it safely (:mod:`extract`) and keeps a
  bounded number of unpacked builders on disk;
- :mod:`builder` (:class:`Builder`) runs ``make info``, ``make manifest`` and
  ``make image`` through :mod:`runner`, one at a time per builder;
- :mod:`outputs` and :mod:`failures` read what the ImageBuilder prints.
"""
