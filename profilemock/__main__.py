"""``python -m profilemock`` runs the CLI."""

import sys

from profilemock.cli import main

sys.exit(main())
