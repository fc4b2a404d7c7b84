from acmeca.cli.main import main

raise SystemExit(main())
