from highload_backend.cli import main

raise SystemExit(main())
