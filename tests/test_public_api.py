"""``harness`` exports the public API lazily: every advertised name resolves to the object in its home module,
and importing ``harness`` alone (as the pytest plugin does) does not import torch."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import harness


@pytest.mark.parametrize("name", sorted(harness._EXPORTS))
def test_every_public_name_is_the_object_of_its_home_module(name):
    home = importlib.import_module(harness._EXPORTS[name])
    assert getattr(harness, name) is getattr(home, name)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        harness.nope  # noqa: B018


def test_importing_the_package_does_not_import_torch():
    code = "import sys, harness; sys.exit(1 if 'torch' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
