"""`python -m elt ...` is `elt ...`."""

from elt.cli import main

raise SystemExit(main())
