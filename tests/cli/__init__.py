"""The command line and Python API end to end: run, errors, checkpoints, golden results, report/test/demo."""
