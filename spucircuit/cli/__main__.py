"""``python -m spucircuit.cli``: the ``spu`` command."""
import sys

from spucircuit.cli import main

sys.exit(main())
