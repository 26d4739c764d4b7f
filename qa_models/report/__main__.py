"""``python -m qa_models.report RUN_DIR`` or ``--compare A B [...]`` (see :mod:`.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
