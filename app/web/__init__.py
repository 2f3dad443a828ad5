"""Transport: HTTP routes and pages."""
