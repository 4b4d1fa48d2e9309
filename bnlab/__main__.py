"""``python -m bnlab``: the same as the ``bnlab`` command."""

import sys

from bnlab.cli import main

sys.exit(main())
