"""`python -m digitdnn ...`: the same as the `digitdnn` command."""
from digitdnn.cli import main

raise SystemExit(main())
