"""``python -m pgpipe``: see pgpipe.cli."""

import sys

from pgpipe.cli import main

sys.exit(main())
