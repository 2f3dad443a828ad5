"""Pure classification of what the widget reports: user agents, referrers, countries."""
