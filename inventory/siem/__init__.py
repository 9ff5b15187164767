"""SIEM export: Daylight's findings, access events, tracking decisions and audit log as JSON
lines, delivered at least once to files, syslog collectors and HTTP endpoints (see README)."""
