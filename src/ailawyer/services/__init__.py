"""Logic both processes use. No HTTP types here; raise `ailawyer.errors`."""
