"""Running the service for a company: metrics, structured logs, backup and restore, retention
and the doctor's checks. Features report into `ops` (metrics, log context); `ops` never imports
the API or the pages."""
