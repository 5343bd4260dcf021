"""Fake plugin for the registry tests: fails on import."""

raise RuntimeError("mzfake_broken is broken on purpose")
