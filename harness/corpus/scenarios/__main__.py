"""``python -m harness.corpus.scenarios [--check]``: the same as ``python -m harness scenarios``."""

import os
import sys

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

from harness.corpus.scenarios.regenerate import main  # noqa: E402  (after the environment is set)

sys.exit(main())
