"""What every process reports about itself: `logs` (JSON or plain log lines, secrets blanked, each
carrying the ids of `dictation.context`) and `metrics` (Prometheus counters and the gauges read from
the tables at scrape time). Features report into it; it imports only the base modules (settings,
db, models, context), so the jobs, the memo services and the publish job can all use it."""
