"""Pure contact-center KPI and workforce math (no database, no I/O)."""
