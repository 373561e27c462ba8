"""``python -m plasticity``: the same as the ``plasticity`` command (see :mod:`plasticity.cli`)."""
from plasticity.cli import main

raise SystemExit(main())
