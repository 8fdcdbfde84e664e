"""Pages of scripts: the portal editor and test-run (tenant host) and the review (platform host)."""
