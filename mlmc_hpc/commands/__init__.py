"""One module per command-line verb (run, test, report, demo): its flags and its main."""
