#!/usr/bin/env python3
"""orscene command line from a checkout: ``python cli.py <command> [options]``.

The same commands as the ``orscene`` console script that ``pip install -e .`` installs;
they live in :mod:`orscene.cli`.
"""

import sys

from orscene.cli import main

if __name__ == "__main__":
    sys.exit(main())
