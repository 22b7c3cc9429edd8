"""Running the service for a company: backup and restore, retention and the doctor's checks.
Operations on top of the features (jobs, publish, transcribe, migrations); what every layer
reports into (log lines, metrics, request ids) is below them, in `dictation.telemetry` and
`dictation.context`. `ops` never imports the API or the pages."""
