"""``python -m gancourse``: see :mod:`gancourse.cli`."""

from gancourse.cli import main

raise SystemExit(main())
