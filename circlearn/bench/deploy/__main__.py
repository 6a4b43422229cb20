"""``python -m circlearn.bench.deploy``: the deploy suite with its own options."""

from circlearn.bench.deploy import main

if __name__ == "__main__":
    raise SystemExit(main())
