"""``python -m l2l3.cli``: the ``l2l3`` command."""

import sys

from l2l3.cli import main

sys.exit(main())
