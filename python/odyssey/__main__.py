"""``python -m odyssey`` is the ``odyssey`` command."""

from odyssey.cli import main

raise SystemExit(main())
