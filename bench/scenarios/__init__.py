"""One module per scenario; each adds its figures to the run's `Results`."""
