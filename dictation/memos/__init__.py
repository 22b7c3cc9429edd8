"""Memos: what happens to a recording from the moment it arrives until its draft is ready, and
the services both doors (API and desk) call: processing (the job), and more to come."""
