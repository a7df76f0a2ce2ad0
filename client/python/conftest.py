# Collection roots for `pytest client/python`: tests/ plus the doctests of the package.
collect_ignore_glob = ["src/switchboard_reactor/_gen/*", "scripts/*", "build/*"]
