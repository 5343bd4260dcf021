"""Fake plugin for the registry tests: calls ``sys.exit`` on import."""

import sys

sys.exit(3)
