"""Memos: what happens to a recording from the moment it arrives until its draft is ready, and
the services both doors (API and desk) call: processing (the job), manage (who may retry,
cancel or delete a memo, and doing it), and more to come."""
