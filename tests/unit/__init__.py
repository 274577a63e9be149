"""Fast tests of single pieces (sums, estimators, driver, sampler, package layout)."""
