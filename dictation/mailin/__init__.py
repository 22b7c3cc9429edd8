"""Memos by e-mail: a voice note forwarded from WhatsApp, Teams or a phone's recorder becomes
a memo of the sender, through the same intake as an upload.

Modules import one way: `message` (reading a mail) and `senders` (whose memo, secret
addresses) ← `deliver` (one message → memos) ← `smtp` (the receiver) and `imap` (the poller)
← `service` (what `dictation mail-in` and `dictation serve` start).
"""
