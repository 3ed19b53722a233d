"""``python -m benchmarks [--quick] [--only 1,2,...]``: run the benchmarks, print a table, write JSON."""
from benchmarks.run import main

raise SystemExit(main())
