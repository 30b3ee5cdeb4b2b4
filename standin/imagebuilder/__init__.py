"""The files that go inside every stand-in ImageBuilder archive.

``Makefile`` and the ``standin_ib`` package are copied into each archive by
:mod:`standin.generate`. ``standin_ib`` runs under the archive's own
``python3`` and uses only the standard library.
"""
